"""Whether a read of the tests' source, or of a collected test function's code, made once collection is
over is pytest's own (`grading.guard_plugin_reads`; it runs inside the sandbox).

    callers = Callers(held)              # the held files' paths
    callers.put_off(reader, path, fn)    # "" (pytest's own), or where the read was put off to

The reads watch refuses a read of the tests made while the graded tree's code is on the stack, and any
deferral takes that code off the stack: a `weakref.finalize`, a `gc.callbacks` entry, a signal
handler, `atexit`, a profile or trace function, an object's `__del__`, each run by the interpreter
from C at whatever instruction the program happens to be at, with a callable of the standard library
alone (`functools.partial`, a lazy `map`, a `unittest.mock.Mock`'s side effect). What a deferral cannot
fake is a call: each honest read is reached through frames each of which its caller is calling at
that moment. So a read counts as pytest's own only if

- the frame making it is at the read itself: an opening call (`open`, `io.open_code`, `FileIO`,
  `tokenize`'s `_builtin_open`) on a path one of its locals holds, or a load of `__code__` (or a
  `getattr`/`hasattr` call) on a function (or bound method) one of its locals holds;
- walking out, each frame's caller is at a call of it: by its name (`tokenize.open(...)`, a method
  by its class's name for `__init__`), as the attribute it loads (a property; a
  `functools.cached_property` whose name is the attribute's), through a function one of its locals
  holds (`testfunction(**args)`, pluggy's `hook_impl.function`, a `cached_property`'s `func`), or a
  comprehension or generator the caller made; and
- each frame up to there is the interpreter's, the environment's (pytest's) or the guard's own code
  (its checks read the tests' code after collection too): a function
  compiled at run time (`<tablelib>`, the nineteenth's code-text) is the tree's doing; and
- the walk reaches pluggy calling a hook, or a test's own code (a test module's or conftest's frame:
  a test reading its own file, or calling `inspect.getsource` on its helper).

A deferred callback's outermost frame has a caller that is not calling it (a test's frame dropping a
value, pytest's frame allocating when the collector runs): refused, and noted by the reads watch.
The import system loading a held module that no module holds yet (a test importing a helper under
tests/ in its body) is the one other read allowed: a second copy of a loaded test module is not.

Nothing here runs code of the tree or of an object it could have made: only exact types (functions,
methods, pluggy's `HookImpl`, `cached_property`, `ModuleSpec`, `pathlib` paths) are looked into.
Residual: a C callable run by a deferral at the very call it fakes (a gc callback fired inside a
call named `open` by a frame that holds the held path) passes; a deferral cannot choose that moment.
Python 3.8 to 3.10 have no instruction positions: a call's callee is any name its line loads.

Shipped beside the plugin as `<plugin module>_callers` (`grading.shipped`); it imports nothing from
codekiln.
"""

from __future__ import annotations

import dis
import functools
import os
import pathlib
import sys
import types
from typing import Any, cast


class Callers:
    """The walk above, with what it looks at cached: instructions by code object."""

    def __init__(self, held: frozenset[str], readonly: tuple[str, ...]) -> None:
        self.held = held
        # the interpreter's and the environment's code (pytest's), and the guard's own (its checks): its
        # parts' code is named as this one's is (`codekiln_guard_callers.py`, `<folder>/guard_plugin_callers.py`)
        own = Callers.put_off.__code__.co_filename.removesuffix("_callers.py")
        self.known = (*readonly, own, "<frozen ")
        self._instructions: dict[Any, list[Any]] = {}
        hookimpl = sys.modules.get("pluggy._hooks") or sys.modules.get("pluggy.hooks")
        self._hookimpl = getattr(hookimpl, "HookImpl", None)  # pluggy calls a hook as `hook_impl.function`
        compat = getattr(sys.modules.get("_pytest.compat"), "cached_property", None)  # pytest < 8's own
        self._cached = tuple({functools.cached_property, *([compat] if isinstance(compat, type) else [])})
        pluggy = sys.modules.get("pluggy")
        self.pluggy = os.path.dirname(pluggy.__file__) + os.sep if pluggy and pluggy.__file__ else "\0"

    def put_off(self, reader: Any, path: str, function: Any) -> str:
        """After collection: "" for pytest's own read (and the import of a held module not yet loaded), else
        where the read was put off to: the first frame its caller does not call by name."""
        if function is None and self._importing(reader, path):
            return ""
        names, at = self._call(reader)
        if function is not None:  # `fn.__code__`, `getattr(fn, "__code__")`, on a function the frame holds
            read = (at is not None and at.opname in _ATTRS and at.argval == "__code__") or bool(
                names & _GETATTR
            )
            held = [v.__func__ if type(v) is types.MethodType else v for v in reader.f_locals.values()]
            read = read and any(v is function for v in held)  # a bound method's `__code__` is its function's
        else:  # `open(path)` and the like, on a path the frame holds (or the test's own code opening)
            read = bool(names & _OPENERS) and (
                reader.f_code.co_filename in self.held or path in self._paths(reader)
            )
        child = reader
        if not read:
            return self._where(child, "reads what it does not hold")
        while child.f_code.co_filename not in self.held:
            if not child.f_code.co_filename.startswith(self.known):  # code compiled at run time
                return self._where(child, "is code compiled at run time")
            parent = child.f_back
            if parent is None or not self._called(parent, child):
                return self._where(child, "not called by name")
            if parent.f_code.co_filename in self.held or parent.f_code.co_filename.startswith(self.pluggy):
                return ""  # a test's own code, or pluggy calling a hook
            child = parent
        return ""

    @staticmethod
    def _where(frame: Any, why: str) -> str:
        return f"{frame.f_code.co_filename}:{frame.f_lineno} (put off: {frame.f_code.co_name} {why})"

    def _call(self, frame: Any) -> tuple[frozenset[str], Any]:
        """The frame's current instruction, and for a call the names its callee is loaded by."""
        ins = self._ops(frame.f_code)
        at, index = None, -1
        for i, op in enumerate(ins):
            if op.offset > frame.f_lasti:
                break
            at, index = op, i
        if at is None:
            return frozenset(), None
        if at.opname in _ATTRS:
            return frozenset([at.argval]), at
        if not at.opname.startswith(("CALL", "PRECALL")):
            return frozenset(), at
        pos = getattr(at, "positions", None)  # Python 3.11 on: the callee is the loads the call starts with
        if pos is not None and pos.lineno is not None:
            loads = [op for op in ins[:index] if op.opname in _LOADS and op.positions]
            where = (pos.lineno, pos.col_offset)
            return frozenset(
                op.argval for op in loads if (op.positions.lineno, op.positions.col_offset) == where
            ), at
        start = max((i for i, op in enumerate(ins[: index + 1]) if op.starts_line is not None), default=0)
        return frozenset(op.argval for op in ins[start:index] if op.opname in _LOADS), at  # the line's loads

    def _ops(self, code: Any) -> list[Any]:
        ins = self._instructions.get(code)
        if ins is None:
            ins = self._instructions[code] = list(dis.get_instructions(code))
        return ins

    def _called(self, parent: Any, child: Any) -> bool:
        """Whether `parent` is calling `child`'s function: by its name (a method by its class's too), as an
        attribute loaded (a property), or through a function it holds (pluggy's `hook_impl.function`)."""
        code = child.f_code
        names, at = self._call(parent)
        want = {code.co_name, *getattr(code, "co_qualname", "").split(".")[-2:-1]}  # a class: its `__init__`
        if names & want:
            return True
        if at is not None and at.opname in _ATTRS and code.co_name == "__get__":
            prop = child.f_locals.get("self")  # a `functools.cached_property` read by its name
            if type(prop) not in self._cached:
                return False
            held = object.__getattribute__(prop, "__dict__")
            return held.get("attrname", getattr(held.get("func"), "__name__", None)) == at.argval
        if any(op.opname == "LOAD_CONST" and op.argval is code for op in self._ops(parent.f_code)):
            return True  # a comprehension or generator the frame made
        for value in list(parent.f_locals.values()):
            if self._hookimpl is not None and type(value) is self._hookimpl:
                value = object.__getattribute__(value, "function")
            elif type(value) in self._cached:  # its `__get__` calling `self.func`
                value = object.__getattribute__(value, "__dict__").get("func")
            if type(value) is types.MethodType:
                value = value.__func__
            if type(value) is types.FunctionType and value.__code__ is code:
                return True
            if type(value) is types.GeneratorType and value.gi_frame is child:  # a hook wrapper's teardown
                return True
        return False

    def _paths(self, frame: Any) -> set[str]:
        out = set()
        for value in list(frame.f_locals.values()):
            if type(value) in _PATHS:
                value = str(value)
            if type(value) is str:
                out.add(os.path.normpath(os.path.join(os.getcwd(), value)))
        return out

    def _importing(self, reader: Any, path: str) -> bool:
        """The import system (or pytest's rewriting hook) loading a held module no module holds yet."""
        frame, spec = reader, cast(Any, None)
        for _ in range(40):
            if frame is None:
                return False
            if (
                frame.f_code.co_name == "_load_unlocked"
                and frame.f_code.co_filename == "<frozen importlib._bootstrap>"
            ):
                spec = frame.f_locals.get("spec")
                break
            frame = frame.f_back
        if type(spec) is not _SPEC:  # no property of another class run here
            return False
        origin = spec.origin
        if type(origin) is not str or type(spec.name) is not str:
            return False
        origin = os.path.normpath(origin)
        folder, name = os.path.split(origin)
        pyc = (
            os.path.dirname(path) == os.path.join(folder, "__pycache__")
            and os.path.basename(path).split(".")[0] == name[:-3]
        )
        if os.path.normpath(path) != origin and not pyc:
            return False
        for key, module in list(sys.modules.items()):
            if key != spec.name and isinstance(module, types.ModuleType):
                held = _MODULE_DICT(module).get("__file__")
                if type(held) is str and os.path.normpath(held) == origin:
                    return False  # loaded already: a second copy is a read of the tests
        return True


_ATTRS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR", "LOAD_METHOD", "LOAD_FAST", "LOAD_DEREF"})
_OPENERS = frozenset({"open", "open_code", "FileIO", "_builtin_open", "symlink", "link"})
_GETATTR = frozenset({"getattr", "hasattr"})
_PATHS = (pathlib.PosixPath, pathlib.PurePosixPath)
_SPEC: Any = type(sys.modules["sys"].__spec__)
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"].__get__  # no class of the tree asked for it
