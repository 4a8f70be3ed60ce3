"""The eighth red team: the guard's records rewritten as data through the garbage collector.

A gc callback in library code walked the interpreter's objects, found the guard's statuses, its call
wrapper's `raised` set, pytest's terminal stats and the session's failure count, and turned the
FAIL_TO_PASS failures into passes: no function replaced, the canaries left alone, so every
cross-check agreed and a patch that fixes nothing scored resolved on the toolz and markupsafe audit
tasks, both paths (`audit.records`; tests/audit/test_redteam.py runs the two corpus attacks). The walk,
`gc.get_objects`, is a scan finding when spelled; a `match` class pattern (`case object(get_objects=f)`)
or `operator.attrgetter("get_objects")` reached it unread.

Here: each such construct is a finding, ordinary patterns and getters are not, and with the scan only
advisory the guard itself refuses the walk and reports it (`TraceCalls._walk`), while a test file's
own walk (a leak check) is left alone."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from codekiln.audit import ATTACKS
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading import guard_plugin_trace as trace
from codekiln.grading.patchrules import GradePolicy
from codekiln.grading.scan import scan_source
from codekiln.tasks.records import TaskRecord

READ_AROUND = {
    "class pattern on the module": (
        "import gc\nmatch gc:\n    case object(get_objects=f):\n        pass\n",
        ("frame-walk", "gc.get_objects"),
    ),
    "aliased module, capture pattern around it": (
        "import gc as g\nmatch g:\n    case (object(get_referrers=f) as x):\n        pass\n",
        ("frame-walk", ".get_referrers"),
    ),
    "sys.modules and meta_path in an or-pattern": (
        "import sys\nmatch sys:\n    case object(modules=m) | object(meta_path=m):\n        pass\n",
        ("import-hook", "sys.meta_path taken as a value"),
    ),
    "nested in a sequence pattern": (
        "import gc\nmatch [gc]:\n    case [object(get_objects=f)]:\n        pass\n",
        ("dynamic-attribute", "get_objects read off a value the scan cannot name"),
    ),
    "operator.attrgetter": (
        'import gc, operator\nf = operator.attrgetter("get_objects")(gc)\n',
        ("dynamic-attribute", "get_objects read off a value the scan cannot name"),
    ),
    "operator.methodcaller": (
        'import gc, operator\nobjs = operator.methodcaller("get_objects")(gc)\n',
        ("dynamic-attribute", "get_objects read off a value the scan cannot name"),
    ),
    "a dotted attrgetter": (
        'import operator, sys\nf = operator.attrgetter("modules.values")(sys)\n',
        ("dynamic-attribute", "modules read off a value the scan cannot name"),
    ),
}
ORDINARY = [
    "match point:\n    case Point(x=0, y=y):\n        pass\n",
    "import sys\nmatch sys:\n    case object(version_info=v):\n        pass\n",
    'import operator\nkey = operator.attrgetter("name", "size.width")\n',
    'import operator\nupper = operator.methodcaller("upper")\n',
]


@pytest.mark.parametrize("name", sorted(READ_AROUND))
def test_an_attribute_read_by_a_pattern_or_a_getter_is_a_finding(name: str) -> None:
    source, (kind, detail) = READ_AROUND[name]
    found = scan_source(source) or []
    assert (kind, detail) in [(k, d) for _, k, d in found], found


@pytest.mark.parametrize("source", ORDINARY)
def test_ordinary_patterns_and_getters_are_no_finding(source: str) -> None:
    assert scan_source(source) == []


def _caller(filename: str, calls: trace.TraceCalls) -> object:
    """A function whose code claims `filename`, asking the hook about a walk as its direct caller."""
    space: dict[str, object] = {"calls": calls, "sys": sys}
    exec(
        compile("def walk():\n    calls._walk('gc.get_objects', sys._getframe())\n", filename, "exec"), space
    )
    return space["walk"]


def _hook(tests: frozenset[str]) -> trace.TraceCalls:
    calls = trace.TraceCalls("/")  # "/": no audit hook installed in this process
    calls.workdir, calls.tests = "/testbed/", tests
    return calls


def test_the_guard_refuses_a_walk_started_by_library_code_and_notes_it() -> None:
    calls = _hook(frozenset({"/testbed/tests/test_mod.py"}))
    with pytest.raises(RuntimeError, match="refused"):
        _caller("/testbed/pkg/mod.py", calls)()  # type: ignore[operator]
    assert calls.walks == ["gc.get_objects from /testbed/pkg/mod.py:2"]


def test_a_test_files_own_walk_and_one_of_an_unguarded_run_are_left_alone() -> None:
    guarded = _hook(frozenset({"/testbed/tests/test_mod.py"}))
    _caller("/testbed/tests/test_mod.py", guarded)()  # type: ignore[operator]
    unguarded = _hook(frozenset())  # a run not told its test files (a baseline) runs the suite as it is
    _caller("/testbed/pkg/mod.py", unguarded)()  # type: ignore[operator]
    assert guarded.walks == unguarded.walks == []


def test_a_walk_off_the_main_thread_is_refused_whoever_calls_it() -> None:
    """A thread started by code under test can run the walk from the standard library's frames alone
    (`ThreadPoolExecutor().submit(gc.get_objects)`): no frame of the tree is on its stack."""
    calls = _hook(frozenset({"/testbed/tests/test_mod.py"}))
    raised: list[BaseException] = []

    def run() -> None:
        try:
            _caller("/usr/lib/python3/concurrent/futures/thread.py", calls)()  # type: ignore[operator]
        except RuntimeError as exc:
            raised.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert raised and calls.walks == ["gc.get_objects from a thread other than the main one"]


@pytest.mark.root  # grades real tasks in bwrap sandboxes
@pytest.mark.parametrize("name", ["guard-records-match", "guard-records-attrgetter"])
def test_the_guard_itself_refuses_the_records_forgery(case: tuple[TaskRecord, EnvRecord], name: str) -> None:
    """The scan only advisory: the forgery runs, its walk is refused and reported (it was resolved)."""
    task, env = case
    attack = next(a for a in ATTACKS if a.name == name)
    patch = attack.build(Target.of(task, Path(env.snapshot_path))).patch
    grade = grade_patch(task, env, patch, timeout=60, policy=GradePolicy(scan="advisory"))
    assert grade.outcome == "tampered", (grade.outcome, grade.detail)
    assert "code under test walked the interpreter's objects: gc.get_objects from /testbed/" in grade.detail
