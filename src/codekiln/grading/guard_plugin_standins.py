"""The guard plugin's excuse for a read-only library's stand-in for a class that the test machinery
merely imports (`grading.guard_plugin_machinery`; it runs inside the sandbox):

    stand_ins = StandIns(workdir, READONLY, WATCHED)
    stand_ins.excused(_pytest.logging.datetime, datetime.datetime)   # freezegun's FakeDatetime: True

Shipped beside the plugin as `<plugin module>_standins` (`grading.shipped`); like the plugin, it
imports nothing from codekiln.
"""

from __future__ import annotations

import sys
import types
from typing import Any


class StandIns:
    """A time-freezing library's stand-in for a class that the test machinery merely imports: freezegun
    rebinds every module's `datetime` / `date` to its `FakeDatetime` / `FakeDate` while time is frozen,
    `_pytest.logging.datetime` and `_pytest.junitxml.datetime` with them (its fake functions,
    `fake_time`..., are read-only code, excused as such). Code under test can make a class at run time
    that claims any module and name, set it into a read-only module and give it data, so a class is
    excused only as what a read-only module's own source defines, whatever it claims:

    - what it replaced is a class of neither the test machinery nor the builtins (`datetime.datetime`),
      defined in a read-only file: a name of pytest's own machinery is never excused;
    - it derives from that class, and every class it and its metaclass add to that class's bases and
      metaclass is made only of functions (methods, class and static methods, properties) whose code
      equals code compiled from its read-only module's source file and whose globals are that module's,
      with no closure and no defaults but plain constants, and of data that runs nothing (no callable,
      no descriptor but the slots the interpreter made for that very class).

    Such a class runs only the library's own code, as the library's functions that are already excused
    do; a method of the tree's own, or a base, a metaclass or a default of its own, is a change."""

    _PLAIN = (type(None), bool, int, float, complex, str, bytes)

    def __init__(self, workdir: str, readonly: tuple[str, ...], watched: tuple[str, ...]) -> None:
        self.workdir, self.readonly, self.watched = workdir, readonly, watched
        self._sources: dict[str, frozenset[types.CodeType]] = {}
        self._spaces: dict[str, list[Any]] = {}

    def excused(self, value: Any, was: Any) -> bool:
        """Whether `value`, found where the machinery held the class `was` at start-up, stands in for it.
        Everything is read through the interpreter's own slots (`_space`, `_mro`, identity): a class of
        the tree's own can define `__eq__`, `__dict__` or `__mro__` on its metaclass."""
        try:
            if not (issubclass(type(value), type) and type(was) is type and value is not was):
                return False
            if was.__module__.split(".", 1)[0] in self.watched or not self._readonly_file(was.__module__):
                return False
            mro, kept = _mro(value), _mro(was)
            if not _among(was, mro):
                return False
            added = [c for c in mro if not _among(c, kept)] + list(_mro(type(value))[:-2])
            meta = _mro(type(value))
            return meta[-2] is type and meta[-1] is object and all(map(self._library_class, added))
        except Exception:  # anything unreadable is no stand-in
            return False

    def _readonly_file(self, module_name: Any) -> str:
        where = getattr(sys.modules.get(module_name) if type(module_name) is str else None, "__file__", "")
        readonly = (
            type(where) is str
            and where.endswith(".py")
            and where.startswith(self.readonly)
            and not where.startswith(self.workdir)
        )
        return where if readonly else ""

    def _library_class(self, cls: type) -> bool:
        space = _space(cls)
        where = self._readonly_file(space.get("__module__"))
        if not where:
            return False
        module_space = vars(sys.modules[space["__module__"]])
        for value in list(space.values()):
            if self._inert(value, cls):
                continue
            if type(value) in (classmethod, staticmethod):
                funcs = [value.__func__]
            elif type(value) is property:
                funcs = [f for f in (value.fget, value.fset, value.fdel) if f is not None]
            else:
                funcs = [value]
            for func in funcs:
                if not (
                    self.source_function(func, where)
                    and func.__globals__ is module_space
                    and func.__closure__ is None
                    and all(_among(type(d), self._PLAIN) for d in func.__defaults__ or ())
                    and all(_among(type(d), self._PLAIN) for d in (func.__kwdefaults__ or {}).values())
                ):
                    return False
        return True

    def _inert(self, value: Any, cls: type) -> bool:
        """Data that runs nothing when read or used: not callable, not a descriptor (but the slot
        descriptors the interpreter made for `cls` itself, `__dict__` and `__weakref__`)."""
        kind = type(value)
        if kind is types.GetSetDescriptorType or kind is types.MemberDescriptorType:
            return value.__objclass__ is cls
        hooks = ("__get__", "__set__", "__delete__", "__call__")
        return not any(h in _space(k) for k in _mro(kind) for h in hooks)

    def source_function(self, func: Any, where: str) -> bool:
        """Whether `func` is a function of the module loaded from the read-only file `where` as that
        file's source makes it: a plain function whose code equals code compiled from the file's bytes
        and whose globals are the namespace of a module loaded from it. Code under test can make code
        that claims the file (`code.replace(co_filename=...)`) and set it into that module's namespace,
        or bind the file's own code to globals of its own (`FunctionType(code, globals)`, the names it
        reads then run anything): neither is the library's function. The guard's machinery watch
        (`guard_plugin_machinery.Machinery.from_readonly`) judges read-only code by this too. And every
        function its code names in those globals is such a function in turn (three calls deep): the
        library's own function with a global of its module rebound to the tree's code
        (`tokenize._tokenize = relay`, then `tokenize.generate_tokens` in place of `Function.runtest`)
        runs that code."""
        return self._genuine(func, where) and self._reads_genuine(func, 0, set())

    def _genuine(self, func: Any, where: Any) -> bool:
        return (
            type(func) is types.FunctionType
            and type(where) is str
            and where.startswith(self.readonly)
            and not where.startswith(self.workdir)
            and func.__code__ in self._source_codes(where)
            and self._module_globals(func.__globals__, where)
        )

    def _reads_genuine(self, func: types.FunctionType, depth: int, seen: set[int]) -> bool:
        """Whether the functions `func`'s code names in its module's namespace (a real dict: checked by
        `_module_globals`) are the library's own, as `source_function` judges them."""
        if depth > 3 or id(func) in seen:
            return True
        seen.add(id(func))
        space = func.__globals__
        for name in _code_names(func.__code__):
            value = space.get(name)
            if type(value) is types.FunctionType and not (
                self._genuine(value, value.__code__.co_filename)
                and self._reads_genuine(value, depth + 1, seen)
            ):
                return False
        return True

    def source_frame(self, code: Any, space: Any) -> bool:
        """Whether a frame runs read-only code as its source file makes it: its code equals code compiled
        from the file's bytes and its globals are a namespace of a module loaded from that file (as
        `source_function` judges a function; `guard_plugin_held` judges who made a write by it)."""
        where = code.co_filename
        return (
            type(where) is str
            and where.startswith(self.readonly)
            and not where.startswith(self.workdir)
            and code in self._source_codes(where)
            and self._module_globals(space, where)
        )

    def module_namespace(self, space: Any, where: str) -> bool:
        """Whether `space` is the namespace of a module loaded from the file `where` (any file)."""
        return self._module_globals(space, where)

    def _module_globals(self, space: Any, where: str) -> bool:
        """Whether `space` is the namespace of a module loaded from `where`; those found are kept, and
        `sys.modules` is read again only for one not found yet (a module imported since)."""
        if not any(s is space for s in self._spaces.get(where, ())):
            self._spaces[where] = _loaded_spaces(where)
        return any(s is space for s in self._spaces[where])

    def _source_codes(self, where: str) -> frozenset[types.CodeType]:
        """Every code object that the source file compiles to, nested ones included; equal code runs
        alike, whichever object it is (code objects compare by value)."""
        if where not in self._sources:
            found: set[types.CodeType] = set()
            try:
                with open(where, "rb") as f:
                    pending = [compile(f.read(), where, "exec", dont_inherit=True)]
            except (OSError, SyntaxError, ValueError):
                pending = []
            while pending:
                code = pending.pop()
                found.add(code)
                pending.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
            self._sources[where] = frozenset(found)
        return self._sources[where]


def _code_names(code: types.CodeType) -> set[str]:
    """The names `code` and the code nested in it read (globals and attributes alike)."""
    out: set[str] = set()
    pending = [code]
    while pending:
        inner = pending.pop()
        out.update(inner.co_names)
        pending.extend(c for c in inner.co_consts if isinstance(c, types.CodeType))
    return out


def _loaded_spaces(where: str) -> list[Any]:
    """The namespaces of the modules in `sys.modules` loaded from the file `where` (one can be there
    under two names), read through the interpreter's own slots: a module's class can answer
    `__dict__` and a `__file__` can be a `str` that equals anything."""
    found = []
    for module in list(sys.modules.values()):
        if issubclass(type(module), types.ModuleType):
            space = _space_of(module)
            file = space.get("__file__")
            if type(file) is str and file == where:
                found.append(space)
    return found


def _space_of(module: types.ModuleType) -> Any:
    """A module's namespace as the interpreter keeps it, whatever its class says."""
    return vars(types.ModuleType)["__dict__"].__get__(module, type(module))


def _space(cls: type) -> Any:
    """A class's own namespace as the interpreter keeps it, whatever its metaclass says."""
    return vars(type)["__dict__"].__get__(cls, type(cls))


def _among(obj: Any, objs: tuple[Any, ...] | list[Any]) -> bool:
    """`obj in objs` by identity: `in` would call a class's metaclass `__eq__`."""
    return any(o is obj for o in objs)


def _mro(cls: type) -> tuple[type, ...]:
    """A class's method resolution order as the interpreter keeps it, whatever its metaclass says."""
    return vars(type)["__mro__"].__get__(cls, type(cls))  # type: ignore[no-any-return]
