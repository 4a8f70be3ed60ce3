"""Who changed a test support module while the tests ran (for `guard_plugin_support`; it runs inside the
sandbox).

    held = Held(test_code, stand_ins)
    held.hold(module)                   # after collection: its attribute writes are noted from now on
    held.excused(module, name, value)   # True: the test's own code put `value` there last

A test may change its own helpers: `monkeypatch.setattr(_checks, "assert_close", loud)` in a fixture,
`mock.patch.object(_checks, ...)` as a decorator, a `setUp` that rebinds a helper and a `tearDown` that
puts it back. That is the test's code, as much as its body, and must not make an honest run `tampered`;
the same change made by code under test is evidence. So a held module's class becomes one whose
`__setattr__` and `__delattr__` note, for every write, whether the test's own code made it: every Python
frame of the chain that led to the write is the test files' trusted code (`test_code`: as
`Guard.check_item` judges a test, with that file's module's globals) or read-only code as its source file
makes it (`StandIns.source_frame`), up to pytest's runner, and the chain passes through the test files'
code or pytest's or unittest's call of a test (a `mock.patch` decorator). A frame of the tree's library
anywhere in it makes the write the library's: a fixture's call into library code that patches, library
code that calls `monkeypatch.setattr` itself or calls the test's own patching helper. A write past the
class (`vars(module)[name] = ...`, `object.__setattr__`, the class put back) is noted nowhere, so it is
not the test's either. A name is excused only while it holds the very object the test's own write put
there last (a later write of the library's, even of the same object, takes the excuse away). The
closure cells of an accepted forwarder made from text (hypothesis's `@composite`) are held to what they
held when it was judged: no write to the module notes `cell.cell_contents = ...`, and no test's code
makes one, so any change is evidence (`hold_cells`).

Shipped beside the plugin as `<plugin module>_held` (`grading.shipped`); like the plugin, it imports
nothing from codekiln.
"""

from __future__ import annotations

import ast
import builtins
import dis
import importlib
import sys
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import guard_plugin_spaces as spaces
else:  # shipped beside it as `<plugin module>_spaces` (`grading.shipped`)
    spaces = importlib.import_module(f"{__name__.removesuffix('_held')}_spaces")

_DELETED = spaces.DELETED
DELETED = _DELETED  # what a noted `del module.name` wrote
_FOREIGN_LIMIT = 4096
_MODULE_DICT = spaces.MODULE_DICT
_attribute, _code_of, _mro, _space = spaces.attribute, spaces.code_of, spaces.mro, spaces.space
_TEST_CALLS = frozenset({"pytest_pyfunc_call", "_callTestMethod"})
"""Read-only frames that call a test itself: a write under them is made by what decorates the test."""
_RUNNER = "_pytest.runner"
"""Below pytest's runner is the session itself: no frame there is code under test."""


class Held:
    """The held support modules, and who made the last write of each of their names."""

    def __init__(self, test_code: TestCode, source_frame: Callable[[Any, Any], bool]) -> None:
        self._test_code, self._source_frame = test_code, source_frame
        self._modules: dict[int, Any] = {}  # id -> the module (kept, so no id is reused)
        test_code.held = self._modules  # their code is held to its source, not the library's to judge
        self._writes: dict[int, dict[str, tuple[Any, bool]]] = {}
        self._cells: dict[int, tuple[Any, Any, str]] = {}  # id -> (the cell, what it held, whose)
        self._foreign: dict[tuple[int, str, int], tuple[Any, str, Any]] = {}
        self.cls = _held_class(self._note)

    def hold(self, module: Any) -> bool:
        """Note the writes to `module` from now on (a plain module only: a class of its own is left)."""
        if self._modules.get(id(module)) is module:
            return True
        if type(module) is not types.ModuleType:
            return False
        module.__class__ = self.cls
        self._modules[id(module)] = module
        self._writes[id(module)] = {}
        return True

    def excused(self, module: Any, name: str, value: Any) -> bool:
        """Whether the last write of `name` in `module` was the test's own and put `value` there."""
        if self._modules.get(id(module)) is not module:
            return False
        last = self._writes[id(module)].get(name)
        return last is not None and last[1] and last[0] is value

    def hold_cells(self, forwarder: types.FunctionType, whose: str) -> None:
        """Hold the closure cells of an accepted forwarder made from text (`sources.forwarder`) to what
        they hold now, when it was judged: its own code only reads them and its maker has returned, so
        a later change (`cell.cell_contents = quiet`, which no write to the module notes) is made by
        other code, never the test's own."""
        for cell in forwarder.__closure__ or ():
            if id(cell) not in self._cells:
                self._cells[id(cell)] = (cell, _contents(cell), whose)

    def cells_changed(self) -> list[str]:
        """Why a held cell holds another object than when it was held (empty when none does)."""
        out = []
        for cell, was, whose in self._cells.values():
            now = _contents(cell)
            if now is not was:
                code = now.__code__ if type(now) is types.FunctionType else None
                what = f"{code.co_name}() from {code.co_filename}" if code else type(now).__name__
                out.append(f"{whose}: the forwarder's closure was pointed at {what} while the tests ran")
        return out

    def _note(self, module: Any, name: str, value: Any, frame: Any) -> None:
        writes = self._writes.get(id(module))
        if writes is None or self._modules.get(id(module)) is not module:
            return
        try:
            by_tests = self._by_tests(frame)
        except Exception:  # a frame that cannot be read is no test's
            by_tests = False
        writes[name] = (value, by_tests)
        if not by_tests and len(self._foreign) < _FOREIGN_LIMIT:
            self._foreign[(id(module), name, id(value))] = (module, name, value)

    def foreign(self) -> list[tuple[Any, str, Any]]:
        """The writes that were not the test's own since the last call, each (module, name, value) once:
        what each put there is judged, even when it was put back before a check (a library-made patcher
        that the test's `with` enters and leaves). At the limit, later ones are dropped: its last entry
        is then `(None, "", None)`, which the caller reports."""
        out = list(self._foreign.values())
        self._foreign.clear()
        return out + [(None, "", None)] * (len(out) >= _FOREIGN_LIMIT)

    def _by_tests(self, frame: Any) -> bool:
        tests, callee = False, None
        while frame is not None:
            code, space = frame.f_code, frame.f_globals
            if self._test_code(code, space):
                if not self._test_code.calls(frame, callee):
                    return False
                tests = True
            elif self._source_frame(code, space):
                if space.get("__name__") == _RUNNER:
                    break
                tests = tests or code.co_name in _TEST_CALLS
            else:
                return False
            frame, callee = frame.f_back, frame
        return tests


def closures(func: types.FunctionType, depth: int = 0) -> list[Any]:
    """What a function's closure cells hold, and the cells of the functions among them, four deep (for
    `guard_plugin_support`: a cell pointed elsewhere is a change to judge again)."""
    out: list[Any] = []
    for cell in func.__closure__ or ():
        out.append(_contents(cell))
        if type(out[-1]) is types.FunctionType and out[-1] is not func and depth < 4:
            out += closures(out[-1], depth + 1)
    return out


def _contents(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:  # an empty cell
        return _DELETED


def _held_class(note: Callable[[Any, str, Any, Any], None]) -> type:
    set_attr, del_attr = types.ModuleType.__setattr__, types.ModuleType.__delattr__
    getframe = sys._getframe

    class HeldModule(types.ModuleType):
        """A test support module whose writes are noted with who made them (`Held`)."""

        def __setattr__(self, name: str, value: Any) -> None:
            set_attr(self, name, value)
            note(self, name, value, getframe(1))

        def __delattr__(self, name: str) -> None:
            del_attr(self, name)
            note(self, name, _DELETED, getframe(1))

    return HeldModule


class TestCode:
    """Whether a frame runs a test file's trusted code (what pytest compiled from the bytes read at
    start-up, or Python's own compile of them: `Guard.check_item`'s judgement of a test) with the
    globals of a module loaded from that file: the file's code bound to other globals reads other
    names (`types.FunctionType(code, {...})`), and would set what its caller chose."""

    def __init__(
        self,
        trusted: dict[str, bytes],
        compiled: dict[str, list[types.CodeType]],
        compiled_ids: dict[str, set[int]],
        key: Callable[[types.CodeType], Any],
        plain_keys: Callable[[str], set[Any]],
        walk: Callable[[types.CodeType], Any],
        machinery: Any,
    ) -> None:
        self._trusted, self._compiled, self._compiled_ids, self._key = trusted, compiled, compiled_ids, key
        self._plain_keys, self._walk = plain_keys, walk
        self._module_namespace = machinery.stand_ins.module_namespace
        self._from_readonly, self._workdir = machinery.from_readonly, machinery.workdir
        self._fixture_values: dict[int, Any] = machinery.fixture_values  # made by read-only fixtures
        self.held: dict[int, Any] = {}
        self._keys: dict[str, tuple[int, set[Any]]] = {}
        self._spans: dict[str, dict[tuple[int, int], list[tuple[Any, ast.AST]]]] = {}

    def __call__(self, code: types.CodeType, space: Any) -> bool:
        where = code.co_filename
        if type(where) is not str or where not in self._trusted:
            return False
        if id(code) not in self._compiled_ids.get(where, ()):
            modules = self._compiled.get(where, [])
            if self._keys.get(where, (-1,))[0] != len(modules):
                made = {self._key(c) for m in modules for c in self._walk(m)}
                self._keys[where] = (len(modules), made | self._plain_keys(where))
            if self._key(code) not in self._keys[where][1]:
                return False
        return self._module_namespace(space, where)

    def calls(self, frame: Any, callee: Any) -> bool:
        """Whether a test frame is doing, per its trusted source, what the chain says: the write itself
        (`callee` None: `obj.name = value`, `del obj.name`, or a call of the builtin `setattr` or
        `delattr` by that name), or a call of the next frame's function by its name
        (`monkeypatch.setattr(...)` calls `setattr`; a `with` statement `__enter__` and `__exit__`), or
        of what it names under another name (`_called_as`: `mocker.patch(...)` runs `__call__`).
        A library name that is a C callable doing the write (`functools.partial(setattr, ...)`, or of
        `MonkeyPatch().setattr`) leaves no frame of the library's, but the test's call names another
        function. Read from the instruction the frame is at and the source span it came from (Python
        3.11 on; before, the frame chain alone judges)."""
        code = frame.f_code
        if not hasattr(code, "co_positions"):
            return True
        at = [i for i in dis.get_instructions(code) if i.offset <= frame.f_lasti]
        if not at:
            return False
        op, pos = at[-1].opname, at[-1].positions
        if callee is None and op in ("STORE_ATTR", "DELETE_ATTR"):
            return True
        node = self._node_at(code.co_filename, pos)
        if isinstance(node, ast.With | ast.AsyncWith):  # what the statement calls on its own
            return (
                callee is not None
                and callee.f_code.co_name in ("__enter__", "__exit__")
                and all(self._entered_by_tests(item.context_expr, frame) for item in node.items)
            )
        if not isinstance(node, ast.Call) or not op.startswith("CALL"):
            return False
        func = node.func
        named = (
            func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        )
        if callee is None:
            return (
                named in ("setattr", "delattr")
                and isinstance(func, ast.Name)
                and named not in frame.f_globals
            )
        return (bool(named) and named == callee.f_code.co_name) or self._called_as(func, frame, callee)

    def _called_as(self, func: ast.expr, frame: Any, callee: Any) -> bool:
        """Whether a call runs, under another name than its own, what it names: a function of the test
        files (a fixture's patching closure: `patcher(...)` running `start`), or the `__call__` of a
        callable object (pytest-mock's `mocker.patch(...)`). What the call names is read as a `with`
        item is (`_entered_by_tests`) and must be that very function, or the object `__call__` runs on,
        whose class and bases hold no function but the test files' and read-only code's. An object of a
        read-only class must also be reached from a value a read-only fixture made (`mocker`): read-only
        code run on an object code under test built (`MagicMock(side_effect=partial(setattr, ...))`, a
        `weakref.finalize`) would write what the library chose."""
        obj, root = self._named(func, frame)
        code = callee.f_code
        if type(obj) is types.FunctionType:
            return (
                obj.__code__ is code and obj.__globals__ is callee.f_globals and self(code, obj.__globals__)
            )
        if obj is _DELETED or code.co_name != "__call__" or not code.co_argcount:
            return False
        if callee.f_locals.get(code.co_varnames[0], _DELETED) is not obj or not self._own_class(type(obj)):
            return False
        call = _attribute(type(obj), "__call__")
        if type(call) is not types.FunctionType or call.__code__ is not code:
            return False
        return self(code, call.__globals__) or (
            self._from_readonly(call) and self._fixture_values.get(id(root), _DELETED) is root
        )

    def _named(self, target: ast.expr, frame: Any) -> tuple[Any, Any]:
        """What a name and its attributes hold, read without running any code (`_attribute`), and the
        name's own value; `_DELETED` for what is missing or passes a thing of the library's on the way,
        None for an expression that is no name's attributes."""
        chain: list[str] = []
        while isinstance(target, ast.Attribute):
            chain.insert(0, target.attr)
            target = target.value
        if not isinstance(target, ast.Name):
            return None, None
        builtin = frame.f_globals.get("__builtins__")
        spaces = [frame.f_locals, frame.f_globals, builtin if type(builtin) is dict else vars(builtins)]
        obj: Any = next((space[target.id] for space in spaces if target.id in space), _DELETED)
        root = obj
        for attr in chain:
            if obj is _DELETED or self._library(obj):
                return _DELETED, root
            obj = _attribute(obj, attr)
        return (_DELETED if self._library(obj) else obj), root

    def _entered_by_tests(self, expr: ast.expr, frame: Any) -> bool:
        """Whether a `with` item's context manager is the test's own: read through the frame's names and
        the namespaces of modules, classes, functions and objects, without running any code, nothing on
        the way is the library's (its module, class, function or object), and a call's callable is a
        function of the test files or read-only code, or a class whose own functions all are. Else
        `with _setup.context():`, `context` a library-made `functools.partial(mock.patch.object, ...)`,
        enters a patcher whose `__enter__` is read-only code, and the statement names no function to
        check. What an expression that is no name's attributes holds (`with patchers[0]:`) is not read."""
        called = isinstance(expr, ast.Call)
        obj, _ = self._named(expr.func if isinstance(expr, ast.Call) else expr, frame)
        if obj is None:
            return not called
        if obj is _DELETED:
            return False
        if not called:
            return True
        if not issubclass(type(obj), type):
            return type(obj) is types.FunctionType and self._own_code(obj)
        return self._own_class(obj)

    def _own_class(self, cls: type) -> bool:
        """A class of which no class of its MRO is the library's, nor holds the library's or a function
        that is not the test files' or read-only code."""
        return not any(
            self._library(k)
            or any(
                type(f) is types.FunctionType and not self._own_code(f)
                for v in list(_space(k).values())
                for f in _code_of(v)
            )
            or any(self._library(v) for v in list(_space(k).values()))
            for k in _mro(cls)
        )

    def _own_code(self, func: types.FunctionType) -> bool:
        """A function of the test files' trusted code or of read-only code."""
        return self(func.__code__, func.__globals__) or self._from_readonly(func)

    def _library(self, obj: Any) -> bool:
        """Whether `obj` is the graded tree's own outside the test files and the held support modules
        (whose names are held to their source): a module loaded from it, a function compiled from it, a
        class or an object of a class whose module is loaded from it."""
        kind = type(obj)
        if issubclass(kind, types.ModuleType):
            where = _MODULE_DICT.__get__(obj).get("__file__")
        elif kind is types.FunctionType:
            where = obj.__code__.co_filename
        else:
            cls = obj if issubclass(kind, type) else kind
            module = sys.modules.get(type.__dict__["__module__"].__get__(cls))
            where = _MODULE_DICT.__get__(module).get("__file__") if module is not None else None
        if type(where) is not str or not where.startswith(self._workdir) or where in self._trusted:
            return False
        return not any(_MODULE_DICT.__get__(m).get("__file__") == where for m in list(self.held.values()))

    def _node_at(self, path: str, pos: Any) -> ast.AST | None:
        """The trusted source's call or `with` statement an instruction's span came from: a call by its
        end and its start (Python 3.11 starts a method call's span at the method's name)."""
        if path not in self._spans:
            spans: dict[tuple[int, int], list[tuple[Any, ast.AST]]] = {}
            try:
                tree = ast.parse(self._trusted[path])
            except (SyntaxError, ValueError):
                tree = ast.Module(body=[], type_ignores=[])
            for node in ast.walk(tree):
                if isinstance(node, ast.Call | ast.With | ast.AsyncWith):
                    starts = {(node.lineno, node.col_offset)}
                    func = getattr(node, "func", None)
                    if isinstance(func, ast.Attribute) and func.end_lineno and func.end_col_offset:
                        starts.add((func.end_lineno, func.end_col_offset - len(func.attr)))
                    key = (node.end_lineno or 0, node.end_col_offset or 0)
                    spans.setdefault(key, []).append((starts, node))
            self._spans[path] = spans
        if pos is None or pos.end_lineno is None or pos.end_col_offset is None:
            return None
        for starts, node in self._spans[path].get((pos.end_lineno, pos.end_col_offset), []):
            if (pos.lineno, pos.col_offset) in starts:
                return node
        return None
