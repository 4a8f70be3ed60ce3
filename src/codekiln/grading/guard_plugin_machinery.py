"""The guard plugin's watch on the test machinery (`grading.guard_plugin`; it runs inside the sandbox).

    watch = Machinery(workdir)     # at the plugin's import, after its own patches: the baseline
    watch.changes()                # names replaced since (["_pytest.runner.call_and_report", ...])
    outcomes = CallOutcomes(watch) # a plugin: the tests whose call raised, whatever their report says

Code under test shares the test process and can replace pytest's, pluggy's, unittest's or doctest's
functions, or the builtins, to change what a run reports. The plugin checks, after collection, before
the tests it is told to watch and at the end of the session, that every function and class those
modules held at start-up is still there; replacements that are functions of the read-only venv or
interpreter (an installed plugin's: code compiled from a read-only file's bytes, with its module's
globals, `StandIns.source_function`) are excused, and so is a read-only library's stand-in for a
standard-library class that pytest merely imports (freezegun's `FakeDatetime` while time is frozen:
`guard_plugin_standins`, shipped beside it as `<plugin module>_standins`).

A check made at set times misses what code under test does between them and undoes before the next:
a trace function set while a test runs and removed as it returns, a TestReport factory replaced while
a test runs and put back by its first use. Two records are kept as it happens instead: an audit hook
(which nothing can remove) notes every `sys.settrace` / `sys.setprofile` call made while a frame of the
graded tree is on the stack, and a wrapper around pytest's test call notes which tests' calls raised,
so that a report saying such a test passed is known for a forgery.

Those records, the plugin's statuses and pytest's own counts are plain data in the same process: code
that walks the interpreter's objects (`gc.get_objects`, `get_referrers`, `get_referents`) reaches and
rewrites every one of them, no function replaced (an eighth red team's `guard-records-*`). The same
audit hook refuses such a walk, and notes it, while code of the graded tree other than the test files
is on the stack, or on a thread other than the main one (where a thread started by code under test
runs a walk from the standard library's frames alone).

Shipped beside the plugin as `<plugin module>_machinery` (`grading.shipped`); like the plugin, it
imports nothing from codekiln.
"""

from __future__ import annotations

import hashlib
import importlib
import itertools
import operator
import sys
import sysconfig
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .guard_plugin_standins import StandIns
else:  # shipped beside it as `<plugin module>_standins` (`grading.shipped`)
    StandIns = importlib.import_module(f"{__name__.removesuffix('_machinery')}_standins").StandIns

_WATCHED = ("pytest", "_pytest", "pluggy", "unittest", "builtins", "doctest")

# One entry per namespace watched: (module name, class name or "", attribute names, their values at
# start-up). The values themselves are kept (not their ids): an id can be reused once an object is gone.
_Watched = tuple[str, str, tuple[str, ...], tuple[Any, ...]]
_WATCHED_VALUES = (type, types.FunctionType, types.BuiltinFunctionType)
_WATCHED_MEMBERS = (classmethod, staticmethod, property)


def _watched_now() -> list[_Watched]:
    """The test machinery's functions and classes, and their classes' attributes, as they are now:
    the modules of pytest, pluggy, unittest and doctest, and the builtins."""
    out: list[_Watched] = []
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".", 1)[0] not in _WATCHED:
            continue
        top: dict[str, Any] = {}
        for attr, value in list(vars(module).items()):
            if isinstance(value, _WATCHED_VALUES):
                top[attr] = value
            if isinstance(value, type) and getattr(value, "__module__", None) == name:
                members = {
                    member: inner
                    for member, inner in list(vars(value).items())
                    if callable(inner) or isinstance(inner, _WATCHED_MEMBERS)
                }
                if members:
                    out.append((name, attr, tuple(members), tuple(members.values())))
        if top:
            out.append((name, "", tuple(top), tuple(top.values())))
    return out


class _Snapshot:
    """The machinery as the last check found it, flat, so that the next check can tell in a few passes
    in C whether anything at all changed since: per namespace watched, the live namespace (a module's
    `__dict__`, a class's mapping proxy) and an `itemgetter` of its watched names; all their values in
    one tuple, compared by identity. Taken only when that check found no change (`Machinery.changes`),
    and the same state gives the same verdict: the modules must still be the objects in `sys.modules`
    and own the same `__dict__` (a class is itself a watched value of its module, so its namespace is
    found again too); only the excused replacements (`excused`: each with what it replaced) are judged
    again, by their code."""

    def __init__(
        self, watched: list[_Watched], excused: list[tuple[Any, Any]], judge: Callable[[Any, Any], bool]
    ) -> None:
        modules = {name: sys.modules.get(name) for name, _, _, _ in watched}
        self.names, self.modules = tuple(modules), tuple(modules.values())
        self.dicts = tuple(map(_namespace, self.modules))
        self.excused = excused
        self.judge = judge
        spaces, getters = [], []
        for name, owner, attrs, _ in watched:
            holder = _namespace(modules[name])
            if owner:
                cls = holder.get(owner)
                holder = _namespace(cls) if isinstance(cls, type) else {}
            spaces.append(holder)
            getters.append(operator.itemgetter(*attrs, attrs[0]))  # 2+ names: it always gives a tuple
        self.spaces, self.getters = tuple(spaces), tuple(getters)
        self.values = self._now()

    def _now(self) -> tuple[Any, ...]:
        return tuple(
            itertools.chain.from_iterable(map(operator.itemgetter.__call__, self.getters, self.spaces))
        )

    def same(self) -> bool:
        try:
            return (
                not any(map(operator.is_not, map(sys.modules.get, self.names), self.modules))
                and not any(map(operator.is_not, map(_namespace, self.modules), self.dicts))
                and not any(map(operator.is_not, self._now(), self.values))
                and all(itertools.starmap(self.judge, self.excused))
            )
        except Exception:  # a name gone, a namespace that cannot be read: the full check names it
            return False


_PATHS = sysconfig.get_paths()
READONLY = tuple(
    p.rstrip("/") + "/" for k in ("stdlib", "platstdlib", "purelib", "platlib") if (p := _PATHS.get(k))
)


def _namespace(obj: Any) -> Any:
    try:
        return vars(obj)
    except TypeError:  # replaced by something without a namespace: every name in it is gone
        return {}


class Machinery:
    """The test machinery as it was when this was made, and what has replaced it since."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir.rstrip("/") + "/"
        """The graded tree: code there is never read-only, even inside a read-only prefix."""
        self.watched = _watched_now()
        self.snapshot: _Snapshot | None = None
        self.stand_ins = StandIns(self.workdir, READONLY, _WATCHED)
        self.fixture_values: dict[int, Any] = {}
        """What fixtures whose function is read-only code made (pytest-mock's `mocker`), by id, kept:
        `CallOutcomes` notes them, `guard_plugin_held.TestCode` reads them."""

    def from_readonly(self, value: Any) -> bool:
        """Whether a replacement comes from the read-only venv or interpreter (an installed plugin's): a
        function (a method, a class or static method, a property's getter) of a read-only module as its
        source file makes it (`StandIns.source_function`). Code that claims a read-only file is not
        excused by the claim: code made afresh under that file's name (`code.replace(co_filename=...)`,
        which code under test can do, and then set into that module's namespace), or the file's own code
        bound to globals of the tree's own (`types.FunctionType(code, globals)`), is not the library's."""
        func = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
        code = getattr(func, "__code__", None)
        where = getattr(code, "co_filename", "") if isinstance(code, types.CodeType) else ""
        return bool(where) and self.stand_ins.source_function(func, where)

    def readonly_object(self, value: Any) -> bool:
        """A function, or a class, defined in the read-only venv or interpreter."""
        if isinstance(value, type):
            where = getattr(sys.modules.get(value.__module__), "__file__", None) or ""
            return where.startswith(READONLY)
        return self.from_readonly(value)

    def readonly_proxy(self, func: Any) -> bool:
        """Whether `func` is a proxy compiled by read-only code and renamed to a test file: hypothesis's
        `@given` execs `def test_x(self, a): return f(self, a)` and then `impersonate`s the test, giving
        that code the test file's name (so tracebacks show the test). It is accepted when all it runs
        is read-only code: no nested code of its own, its closure and the globals it names hold only
        read-only functions and classes. The function it forwards to could have been the test callable
        itself and be accepted (read-only code is), so this accepts nothing new; the `__wrapped__` test it
        stands for is still checked against its source."""
        code = func.__code__
        cells = func.__closure__ or ()
        if not cells or any(isinstance(c, types.CodeType) for c in code.co_consts):
            return False
        try:
            held = [cell.cell_contents for cell in cells]
        except ValueError:  # an empty cell
            return False
        named = [func.__globals__.get(n) for n in code.co_names]
        return all(self.readonly_object(v) for v in held + named)

    def excused(self, value: Any, was: Any) -> bool:
        """Whether a replacement is excused: its code is read-only code, or it is a read-only library's
        stand-in for a class that the machinery merely imports (`StandIns`, a time-freezing library's)."""
        return self.from_readonly(value) or self.stand_ins.excused(value, was)

    def changes(self) -> list[str]:
        """What was replaced in the test machinery since start-up (new names are not counted, nor
        replacements whose code lives in the read-only venv or interpreter). Names are looked up
        afresh each time (a module swapped in `sys.modules`, a class swapped in its module, count as
        changes of every name they hold); the bulk comparison is by identity, in C (`_Snapshot`)."""
        if self.snapshot is not None and self.snapshot.same():
            return []
        changed, excused = [], []
        for name, owner, attrs, values in self.watched:
            holder = _namespace(sys.modules.get(name))
            if owner:
                cls = holder.get(owner)
                holder = _namespace(cls) if isinstance(cls, type) else {}
            now = list(map(holder.get, attrs))
            if not any(map(operator.is_not, now, values)):
                continue
            for attr, value, was in zip(attrs, now, values, strict=True):
                if value is not was and (value is None or not self.excused(value, was)):
                    changed.append(f"{name}.{owner + '.' if owner else ''}{attr}")
                elif value is not was:
                    excused.append((value, was))
        if not changed:
            self.snapshot = _Snapshot(self.watched, excused, self.excused)
        return changed


class CallOutcomes:
    """A plugin noting, from the outermost wrapper of pytest's test call, which tests' calls ran and
    which raised (anything: a skip or an xfail is never reported passed either): what a TestReport
    factory replaced for one report, or a report made up and logged by hand, cannot change. It counts
    the calls of each test too: a plugin that retries a failed test (pytest-rerunfailures, `flaky`)
    calls it again (`Guard.unpassed_calls`). And it notes what each fixture whose function is read-only
    code made (`Machinery.fixture_values`)."""

    def __init__(self, watch: Machinery) -> None:
        self.started: set[str] = set()
        self.raised: set[str] = set()
        self.calls: dict[str, int] = {}
        self._watch = watch

    @pytest.hookimpl(hookwrapper=True)
    def pytest_fixture_setup(self, fixturedef: Any) -> Any:
        outcome = yield
        if not outcome.excinfo and self._watch.from_readonly(getattr(fixturedef, "func", None)):
            value = outcome.get_result()
            self._watch.fixture_values[id(value)] = value

    @pytest.hookimpl(hookwrapper=True, tryfirst=True)
    def pytest_runtest_call(self, item: Any) -> Any:
        self.started.add(item.nodeid)
        self.calls[item.nodeid] = self.calls.get(item.nodeid, 0) + 1
        outcome = yield
        if outcome.excinfo:
            self.raised.add(item.nodeid)
        else:
            self.raised.discard(item.nodeid)

    def forged_pass(self, nodeid: str) -> bool:
        """Whether `nodeid`, recorded passed at the end of the session, cannot have passed: its call
        never ran, or raised (whatever reports were logged for it, and whichever were kept back)."""
        return nodeid not in self.started or nodeid in self.raised


def doctest_changed(
    item: Any, expected: dict[str, list[list[Any]] | None], vouched: dict[str, str] | None = None
) -> list[str]:
    """A graded doctest about to run whose examples are not the ones the snapshot's docstring spells
    (`grading.doctests.expected_examples`; None: no literal docstring, so any examples are reported):
    rewritten at import (`f.__doc__ = ...`, `update_wrapper`), which no comparison of the files sees.
    Examples whose digest the buggy snapshot's own run collected (`vouched`: test id -> digest, an
    exported task's record of that run) stand; the grader drops what the empty patch's run shows alike
    (a library that builds its docstrings at import)."""
    nodeid = getattr(item, "nodeid", "")
    dtest = getattr(item, "dtest", None)
    if nodeid not in expected or dtest is None:
        return []
    got = [[e.source, e.want, e.exc_msg] for e in dtest.examples]
    digest = hashlib.sha256(repr(got).encode()).hexdigest()[:16]  # alike only where the examples are
    if got == expected[nodeid] or (vouched or {}).get(nodeid) == digest:
        return []
    return [f"{nodeid}: {DOCTEST_CHANGED} ({digest})"]


DOCTEST_CHANGED = "runs doctest examples that are not the snapshot's docstring's"
