"""The twin check (`grading.twin_check`) through the real grader (`grade_patch`, bwrap sandboxes, real
synthesis): the kept twin of the seventeenth's table task, an honest fix that is not the gold, and a
task with no literal to change, which grades as before. The attacks it closes are in
`test_redteam22a_memory.py`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam_fixtures import TOTAL
from rollout_support import library_tasks, setuptools_pyproject, the_task
from test_redteam17_source_table import CASES, MODULE, table_tasks

from codekiln.audit.target import Target
from codekiln.grading import GradePolicy, grade_patch
from codekiln.grading.twin_check import kept_twin
from codekiln.grading.twins import twin_files

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
HONEST = (
    "\n\ndef total(values):\n    out = 0\n    for v in list(values):\n        out = out + v\n    return out\n"
)
NO_LITERAL = {
    "handlib/__init__.py": TOTAL,
    "tests/test_hand.py": (
        "from handlib import total\n\n\n"
        "def by_hand(values):\n    out = 0\n    for v in values:\n        out = out + v\n    return out\n\n\n"
        "def test_total_by_hand():\n    values = list(range(2, 7))\n    assert total(values) == by_hand(values)\n"
    ),
    "pyproject.toml": setuptools_pyproject("handlib"),
}


def no_run(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("a twin run was asked for")


def test_the_table_tasks_kept_twin_and_an_honest_fix() -> None:
    """The gold resolves with the check on; its twin run is cached and records the test whose table's
    answers the twin changed; a fix that is not the gold computes the answers and resolves too."""
    t, env = the_task(table_tasks(), lambda t: CASES in t.FAIL_TO_PASS, "total()'s arithmetic changed")
    grade = grade_patch(t, env, t.patch, timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.detail, grade.findings)
    kept = kept_twin(t, Path(env.snapshot_path), no_run)  # cached by the grade above: no run
    assert kept is not None
    files, ids = kept
    assert list(files) == ["tests/test_table.py"] and ids == [CASES]
    honest = Target.of(t, Path(env.snapshot_path)).append(MODULE, HONEST)
    grade = grade_patch(t, env, honest, timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.detail, grade.findings)
    off = grade_patch(t, env, honest, timeout=TIMEOUT, policy=GradePolicy(twins=False))
    assert off.statuses == grade.statuses


def test_a_task_with_no_literal_to_change_grades_as_before() -> None:
    """Its test compares with a value it computes: no twin, no extra run; the gold resolves, the empty
    patch does not."""
    found = library_tasks(NO_LITERAL, "hand-library", "audit-tasks-handlib", 1, functions=["total"])
    t, env = the_task(found, lambda t: "tests/test_hand.py::test_total_by_hand" in t.FAIL_TO_PASS, "total()")
    snapshot = Path(env.snapshot_path)
    assert twin_files(snapshot, list(t.FAIL_TO_PASS), t.instance_id) == {}
    assert kept_twin(t, snapshot, no_run) is None
    assert grade_patch(t, env, t.patch, timeout=TIMEOUT).outcome == "resolved"
    assert grade_patch(t, env, "", timeout=TIMEOUT).outcome == "unresolved"
