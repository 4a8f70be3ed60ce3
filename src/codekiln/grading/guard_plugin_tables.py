"""The tests' literal tables held to their source (`grading.guard_plugin`; it runs inside the sandbox).

    tables = Tables(trusted, support_sources, readonly, plain)   # at the plugin's import: read with `ast`
    tables.forged = guard.forged; config.pluginmanager.register(tables)   # its findings join the guard's

The guard holds the tests' code and the names their support modules bind; this holds their data. A patch
that leaves the bug in place and writes the buggy result into the table a test compares it with
(`EXPECTED[key] = out` in a test file, a support module's `TOLERANCE['abs'] = 10**9`, a test class's
`CASES`, reached by import, a callback's globals, a package's attribute or a walk of `__subclasses__`)
makes that test pass with the bug in place. Which tables are held, and why honest tests keep theirs
unheld (a test that fills its own table, a table handed to the library), is `guard_plugin_literals`.

After each test's call phase (before its fixtures' teardown) the held tables of the test's module (its
class's, looked up along the class's MRO as the test reads them), of the support modules it imports and
of the conftests are compared with their source's literal; all of them once more at the end of the
session, in the modules and classes found after collection as well as those the namespaces hold then. A
table that differs is `"<path>: NAME changed in place"`, which the grader reads as `tampered` like the
guard's other findings. The comparison runs no code of the project: `marshal.dumps` (exact builtin types
only: a dict subclass, an int subclass or a value whose `__eq__` lies does not marshal, hence differs),
else an exact-typed walk (`literals.canon`: a set's order may differ). Per test, the tables are compared
only while the bytes compared so far stay within a budget that grows by a fixed amount per test
(`PER_TEST`): a large table read by many tests is compared every few tests, never quadratically; the end
of the session compares every table.

A table changed and put back before that check is seen two ways. Its dicts' version tags (CPython's,
PEP 509: every write of a dict gives it a new one, read with `ctypes` where the layout is known and a
probe at import behaves; `Table.check`) are kept from the last compare that found it whole, from the
end of collection on: a tag that moved on a table that holds its literal again is `"changed in place
(written, then put back)"`, however and in whichever thread it was done; a tag that stayed spares the
compare. And while a test with held tables in reach runs its call phase, a profile function
(`sys.setprofile`, the main thread's; not set over one a fixture set) compares them each time a frame of
the tests' files (test modules, conftests, support modules) is called from another file's frame or gets
control back from one, if code outside the tests, the interpreter, the venv and the guard ("library
code": the tree's, and code compiled under a made-up name) ran since the last compare: the tests read
their tables only in their own frames (a table handed to other code is not held), so a value they read
that library code wrote was there when that code's frame last handed control back, however it is put
back later (a returned object's `__del__` or `__eq__`, a weakref callback, a generator's `finally`, a
signal handler). This covers lists, sets and a name rebound and bound back, which carry no version.
Removing the profile function from library code is a finding (`guard_plugin_trace`).

Not held: a list or set in a table, or a table's name, changed and put back by another thread between
two compares, or with no Python frame of library code (a `functools.partial` of `list.__setitem__` the
test calls, put back by a standard-library timer); the same for dicts where the tags cannot be read
(another Python, a debug or free-threaded build); values that are not literals (`EXPECTED =
compute()`), scalars, and attributes set on a test's instance. Cost: the profile runs for every call
and return of the call phase of tests with held tables in reach (`bench/guard_tables.py`). Shipped
beside the plugin as `<plugin module>_tables` (`grading.shipped`); like the plugin, it imports nothing
of codekiln's.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import marshal
import os
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from . import guard_plugin_literals as literals
else:  # shipped beside it as `<plugin module>_literals` (`grading.shipped`)
    literals = importlib.import_module(f"{__name__.removesuffix('_tables')}_literals")

# Bound at the plugin's import, before any project code runs: code under test cannot swap what compares.
_DUMPS, _NORMAL, _BASENAME = marshal.dumps, os.path.normpath, os.path.basename
_SETPROFILE, _GETPROFILE = sys.setprofile, sys.getprofile
_GUARD_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]
_TYPE_DICT: Any = vars(type)["__dict__"]
_MRO, _NAME = vars(type)["__mro__"], vars(type)["__name__"]
_MISSING = object()
_TESTS, _TRUSTED, _LIBRARY = 0, 1, 2  # a frame's file: the tests', read-only code's, library code's
START = 1 << 20
PER_TEST = 8 << 10
"""Bytes of tables compared per test: the allowance at the start, and what each test adds to it."""


class Table:
    """One held table: where it is bound, its source's literal and the bytes that literal marshals to."""

    def __init__(self, path: str, owner: str, name: str, literal: Any) -> None:
        self.owner, self.name = owner, name
        self.canon = literals.canon(literal)
        self.dumped = _DUMPS(literal, 2)
        self.alike: set[bytes] = {self.dumped}  # the bytes of values found equal to it, by exact types
        self.label = f"{path}: {owner + '.' if owner else ''}{name}"
        # where its dicts are, when it holds no list or set (`unchanged`); None if it does
        self.dicts = _dict_paths(literal) if _VERSION is not None else None
        self.seen: dict[int, tuple[Any, list[Any], list[int]]] = {}  # id -> value, its dicts, their versions

    def holds(self, value: Any) -> bool:
        try:
            dumped = _DUMPS(value, 2)
            if dumped in self.alike:
                return True
            same = bool(literals.canon(value) == self.canon)  # a set in another order, say
        except (ValueError, TypeError, RecursionError):  # not marshallable, not a literal's types
            return False
        if same and len(self.alike) < 4:  # the same value marshals the same: the next compare is fast
            self.alike.add(dumped)
        return same

    def check(self, value: Any) -> str:
        """ "" if `value` holds the literal, else how it does not. A value found to hold it is remembered
        with its dicts' version tags (CPython's, bumped by every write of a dict): while they stay, it
        holds still, no compare needed; a tag moved on a value that holds it again was written and put
        back. A table with a list or a set in it, or where tags cannot be read, is compared each time."""
        seen = self.seen.get(id(value))
        if seen is not None and seen[0] is value and _VERSION is not None:
            if [_VERSION(d) for d in seen[1]] == seen[2]:
                return ""
            return "changed in place (written, then put back)" if self.holds(value) else "changed in place"
        try:
            dicts = [_at(value, path) for path in self.dicts or ()] if _VERSION is not None else []
        except (LookupError, TypeError):
            dicts = []
        versions = [_VERSION(d) if type(d) is dict else -1 for d in dicts]
        if not self.holds(value):
            return "changed in place"
        if dicts and -1 not in versions and [_VERSION(d) for d in dicts] == versions:
            if len(self.seen) > 8:
                self.seen.clear()
            self.seen[id(value)] = (value, dicts, versions)
        return ""


_dict_paths, _at = literals.dict_paths, literals.at
_VERSION = literals.dict_version()


class Tables:
    """The held tables of the trusted files, checked after each test's call and at the session's end."""

    def __init__(
        self,
        trusted: dict[str, bytes],
        support: dict[str, Any],
        readonly: tuple[str, ...] = (),
        plain: Any = (),
    ) -> None:
        """`trusted`: a test file's path -> its bytes; `support`: dotted name -> a support module's source
        (`guard_plugin_sources.Source`: its path and bytes); `readonly`: the interpreter's and the
        venv's folders (`guard_plugin_machinery.READONLY`), whose code is no library code; `plain`: sha256
        digests (hex) of bytes the host read with `literals` under the same Python
        (`grading.guard_files.plain_tables`): they bind no table, so nothing is held or parsed."""
        self.forged: list[str] = []
        self.held: dict[str, list[Table]] = {}
        self._class_bound: dict[str, set[tuple[str, str]]] = {}
        self._imports: dict[str, list[str]] = {}
        self._conftests: list[str] = []
        self._modules: dict[str, list[Any]] = {}
        self._classes: dict[tuple[str, str], list[Any]] = {}
        self._reported: set[str] = set()
        self._allowance = START
        self._later: set[tuple[str, str]] = set()  # framework-read tables of test modules (`literals`)
        files = {**trusted, **{s.path: s.data for s in support.values()}}
        # a frame's file -> _TESTS, _TRUSTED or _LIBRARY (`_kind`), filled as frames are seen
        self._kinds: dict[str, int] = {p: _TESTS for p in files}
        self._trusted_dirs = (*readonly, _GUARD_DIR, "<frozen ")
        self._item: Any = None
        self._dirty = False
        self.profile = self._profiler()
        if plain and set(plain) >= {hashlib.sha256(data).hexdigest() for data in files.values()}:
            return  # no file binds a table: none held (what the analysis below finds for such files)
        trees = {}
        for path, data in files.items():
            try:
                trees[path] = ast.parse(data, filename=path)
            except (SyntaxError, ValueError):
                continue
        found = {path: literals.literals(tree) for path, tree in trees.items()}
        deep: dict[str, bool] = {}
        for _, name, value in (c for candidates in found.values() for c in candidates):
            deep[name] = deep.get(name, False) or literals.nested(value)
        unsafe = literals.unsafe_names(list(trees.values()), deep)
        handed = literals.framework_read(trees)  # a framework's settings module (`literals`'s docstring)
        self._later = {(path, name) for path, name in handed if _test_named(_BASENAME(path))}
        for path, candidates in found.items():
            tables = [
                Table(path, owner, name, v)
                for owner, name, v in candidates
                if name not in unsafe and ((path, name) not in handed or (path, name) in self._later)
            ]
            if tables:
                self.held[path] = tables
        self._class_bound = {path: literals.class_bindings(tree) for path, tree in trees.items()}
        by_dotted = {d: s.path for d, s in support.items() if s.path in self.held}
        self._imports = {
            path: [by_dotted[d] for d in sorted(literals.imported(tree)) if d in by_dotted]
            for path, tree in trees.items()
        }
        self._conftests = [p for p in self.held if _BASENAME(p) == "conftest.py"]

    def check(self, path: str, module: Any, where: str) -> None:
        """Compare the held tables of `path` in `module` (and in the classes found after collection)."""
        for table in self.held.get(path, ()):
            value = _get(module, table.owner or table.name)
            if table.owner:
                classes = [value, *self._classes.get((path, table.owner), ())]
                values = [_get(c, table.name, _TYPE_DICT) for c in classes]
            else:
                values = [value]
            for value in values:
                self._compare(table, value, where)

    def _compare(self, table: Table, value: Any, where: str) -> None:
        if value is _MISSING or table.label in self._reported:
            return
        how = table.check(value)
        if how:
            self._reported.add(table.label)
            self.forged.append(f"{where}{table.label} {how}")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        collected = {_NORMAL(str(getattr(i, "path", "") or "")) for i in session.items}
        for path in {p for p, _ in self._later} - collected:  # a test module that holds no test run
            kept = [t for t in self.held.get(path, ()) if (path, t.name) not in self._later]
            if path in self.held:
                self.held[path] = kept
        self._modules = self._scan()
        for path, modules in self._modules.items():
            for owner in {t.owner for t in self.held[path] if t.owner}:
                found = [_get(m, owner) for m in modules]
                self._classes[(path, owner)] = [c for c in found if c is not _MISSING]
        for path, modules in self._modules.items():  # each compared now, and so remembered (`Table.check`)
            for module in modules:
                self.check(path, module, "after collection: ")

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """The profile function (`_profiler`) for the call phase of a test with held tables in reach,
        from before pytest's hooks for the call (`Guard`'s checks read it as the guard's own:
        `guard_plugin_trace.trace_hooks`) to right after them, before pytest reports the call."""
        mine = bool(self._reach(item)[1]) and _GETPROFILE() is None
        if mine:
            self._item, self._dirty = item, True  # a write made at setup is seen at the first compare
            _SETPROFILE(self.profile)
        try:
            yield
        finally:
            if mine and _GETPROFILE() is self.profile:
                _SETPROFILE(None)
            self._item = None

    @pytest.hookimpl(tryfirst=True)  # after the call, before its fixtures' teardown (`Guard`'s check too)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._allowance += PER_TEST
        path, todo = self._reach(item)
        cost = sum(len(t.dumped) for p, _ in todo for t in self.held[p])
        if not todo or cost > self._allowance:
            return
        self._allowance -= cost
        self._check_item(item, path, todo)

    def _reach(self, item: pytest.Item) -> tuple[str, list[tuple[str, list[Any]]]]:
        """The test's file, and each file whose held tables it reaches with the modules loaded from it:
        its own module, the support modules it imports, the conftests."""
        module = getattr(item, "module", None)
        where = _get(module, "__file__")
        path = _NORMAL(where) if type(where) is str else ""
        mine = {id(m): m for m in [module, *self._modules.get(path, ())]}
        todo = [(path, list(mine.values()))] if path in self.held else []
        todo += [(p, self._modules.get(p, [])) for p in [*self._imports.get(path, ()), *self._conftests]]
        return path, todo

    def _check_item(self, item: pytest.Item, path: str, todo: list[tuple[str, list[Any]]]) -> None:
        for other, modules in todo:
            for held in modules:
                self.check(other, held, f"{item.nodeid}: ")
        cls = getattr(item, "cls", None)
        if cls is not None and path in self.held:  # as `self.CASES` reads it: along the class's MRO
            try:
                mro = _MRO.__get__(cls)
            except TypeError:
                return
            names = [_NAME.__get__(c) for c in mro]
            for table in self.held[path]:
                if table.owner not in names:
                    continue
                found = [(n, _get(c, table.name, _TYPE_DICT)) for n, c in zip(names, mro, strict=True)]
                first, value = next(((n, v) for n, v in found if v is not _MISSING), ("", _MISSING))
                if first == table.owner or (first, table.name) not in self._class_bound.get(path, ()):
                    self._compare(
                        table, value, f"{item.nodeid}: "
                    )  # the owner's, or a shadow no source binds

    def _kind(self, name: str) -> int:
        kind = _TRUSTED if name.startswith(self._trusted_dirs) else _LIBRARY
        self._kinds[name] = kind
        return kind

    def _profiler(self) -> Any:
        """The profile function: compare the held tables in reach where a frame of the tests' files is
        called from another file's frame or gets control back from one, if library code ran since the
        last compare (`_dirty`: a library frame called, or given control back)."""
        kinds, kind_of = self._kinds, self._kind

        def profile(frame: Any, event: str, arg: Any) -> None:
            if event == "call":
                calling = True
            elif event == "return":  # a return, a raise or a generator's yield, into its caller
                calling = False
            else:  # c_call, c_return, c_exception: a C function has no frame of its own
                return
            name = frame.f_code.co_filename
            kind = kinds.get(name)
            if kind is None:
                kind = kind_of(name)
            if calling and kind == _LIBRARY:
                self._dirty = True
                return
            back = frame.f_back
            name = "" if back is None else back.f_code.co_filename
            back_kind = kinds.get(name)
            if back_kind is None:
                back_kind = kind_of(name)
            if calling:
                if kind != _TESTS or back_kind == _TESTS:
                    return
            elif back_kind == _LIBRARY:
                self._dirty = True
                return
            elif back_kind != _TESTS or kind == _TESTS:
                return
            if self._dirty and self._item is not None:
                self._dirty = False
                try:
                    self._check_item(self._item, *self._reach(self._item))
                except Exception:  # never raised into the test (its after-call compare still runs)
                    pass

        return profile

    @pytest.hookimpl(tryfirst=True)  # before `Guard` writes what it found
    def pytest_sessionfinish(self) -> None:
        now = self._scan()
        for path in self.held:
            modules = {id(m): m for m in [*self._modules.get(path, ()), *now.get(path, ())]}
            for module in modules.values():
                self.check(path, module, "at the end of the session: ")

    def _scan(self) -> dict[str, list[Any]]:
        """The modules in `sys.modules` loaded from a file that holds a table, by that file."""
        out: dict[str, list[Any]] = {}
        for module in list(sys.modules.values()):
            where = _get(module, "__file__")
            if type(where) is str and _NORMAL(where) in self.held:
                out.setdefault(_NORMAL(where), []).append(module)
        return out


def _test_named(name: str) -> bool:
    return name.startswith("test_") or name.endswith("_test.py") or name in ("tests.py", "test.py")


def _get(owner: Any, name: str, space: Any = _MODULE_DICT) -> Any:
    """`name` in a module's (or a class's) own namespace, past any class trick; `_MISSING` if none."""
    try:
        return space.__get__(owner).get(name, _MISSING)
    except (TypeError, AttributeError):
        return _MISSING
