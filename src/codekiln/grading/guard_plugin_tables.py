"""The tests' literal tables held to their source (`grading.guard_plugin`; it runs inside the sandbox).

    tables = Tables(trusted, support_sources, plain)   # at the plugin's import: the trusted bytes read with `ast`
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

Not held: a table changed and put back before the check (a returned object's `__del__` or `__eq__`, a
thread), or before the session's end after a test whose compare the budget skipped; values that are not
literals (`EXPECTED = compute()`), scalars, and attributes set on a test's instance. Shipped beside the
plugin as `<plugin module>_tables` (`grading.shipped`); like the plugin, it imports nothing of codekiln's.
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
_MODULE_DICT: Any = vars(types.ModuleType)["__dict__"]
_TYPE_DICT: Any = vars(type)["__dict__"]
_MRO, _NAME = vars(type)["__mro__"], vars(type)["__name__"]
_MISSING = object()
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


class Tables:
    """The held tables of the trusted files, checked after each test's call and at the session's end."""

    def __init__(self, trusted: dict[str, bytes], support: dict[str, Any], plain: Any = ()) -> None:
        """`trusted`: a test file's path -> its bytes; `support`: dotted name -> a support module's source
        (`guard_plugin_sources.Source`: its path and bytes); `plain`: sha256 digests (hex) of bytes the
        host read with this module's `literals` under the same Python (`grading.guard_files.plain_tables`):
        they bind no table. When every file's bytes are among them nothing is held, and nothing is
        parsed."""
        self.forged: list[str] = []
        self.held: dict[str, list[Table]] = {}
        self._class_bound: dict[str, set[tuple[str, str]]] = {}
        self._imports: dict[str, list[str]] = {}
        self._conftests: list[str] = []
        self._modules: dict[str, list[Any]] = {}
        self._classes: dict[tuple[str, str], list[Any]] = {}
        self._reported: set[str] = set()
        self._allowance = START
        files = {**trusted, **{s.path: s.data for s in support.values()}}
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
        for path, candidates in found.items():
            tables = [Table(path, owner, name, v) for owner, name, v in candidates if name not in unsafe]
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
        if value is _MISSING or table.label in self._reported or table.holds(value):
            return
        self._reported.add(table.label)
        self.forged.append(f"{where}{table.label} changed in place")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self) -> None:
        self._modules = self._scan()
        for path, modules in self._modules.items():
            for owner in {t.owner for t in self.held[path] if t.owner}:
                found = [_get(m, owner) for m in modules]
                self._classes[(path, owner)] = [c for c in found if c is not _MISSING]

    @pytest.hookimpl(tryfirst=True)  # after the call, before its fixtures' teardown (`Guard`'s check too)
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self._allowance += PER_TEST
        module = getattr(item, "module", None)
        where = _get(module, "__file__")
        path = _NORMAL(where) if type(where) is str else ""
        mine = {id(m): m for m in [module, *self._modules.get(path, ())]}
        todo = [(path, list(mine.values()))] if path in self.held else []
        todo += [(p, self._modules.get(p, [])) for p in [*self._imports.get(path, ()), *self._conftests]]
        cost = sum(len(t.dumped) for p, _ in todo for t in self.held[p])
        if not todo or cost > self._allowance:
            return
        self._allowance -= cost
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


def _get(owner: Any, name: str, space: Any = _MODULE_DICT) -> Any:
    """`name` in a module's (or a class's) own namespace, past any class trick; `_MISSING` if none."""
    try:
        return space.__get__(owner).get(name, _MISSING)
    except (TypeError, AttributeError):
        return _MISSING
