"""Reading namespaces without running any code (for `guard_plugin_held`; it runs inside the sandbox).

    attribute(obj, "name")   # `obj.name` as a plain lookup finds it, or DELETED; no descriptor runs
    mro(cls), space(cls)     # a class's MRO and namespace, past any metaclass
    code_of(entry)           # the functions a class namespace's entry runs

Shipped beside the plugin as `<plugin module>_spaces` (`grading.shipped`); like the plugin, it imports
nothing from codekiln.
"""

from __future__ import annotations

import types
from typing import Any

DELETED = object()
"""What a lookup that finds nothing returns (and what a noted `del module.name` wrote)."""
MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]  # a module's namespace, past any class trick
FUNCTION_DICT: Any = vars(types.FunctionType)["__dict__"]


def mro(cls: type) -> tuple[type, ...]:
    found = type.__dict__["__mro__"].__get__(cls)
    return tuple(found) if type(found) is tuple else ()


def space(cls: type) -> Any:
    return type.__dict__["__dict__"].__get__(cls)


def code_of(value: Any) -> list[Any]:
    """The functions a class's namespace entry runs: itself, a static or class method's, a property's."""
    kind = type(value)
    if kind is staticmethod or kind is classmethod:
        return [value.__func__]
    if kind is property:
        return [value.fget, value.fset, value.fdel]
    return [value]


def attribute(obj: Any, name: str) -> Any:
    """`obj.name` as a plain lookup reads it, running no code: a module's, a function's or an object's
    own namespace, then its class's (an object's `__dict__` only where the interpreter made it)."""
    kind = type(obj)
    if issubclass(kind, types.ModuleType):
        return MODULE_DICT.__get__(obj).get(name, DELETED)
    if kind is types.FunctionType:
        return FUNCTION_DICT.__get__(obj).get(name, DELETED)
    if not issubclass(kind, type):
        own = next((space(k)["__dict__"] for k in mro(kind) if "__dict__" in space(k)), None)
        if type(own) is types.GetSetDescriptorType and name in own.__get__(obj):
            return own.__get__(obj)[name]
    for cls in mro(obj if issubclass(kind, type) else kind):
        if name in space(cls):
            value = space(cls)[name]
            return value.__func__ if type(value) in (staticmethod, classmethod) else value
    return DELETED
