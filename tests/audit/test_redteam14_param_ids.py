"""The fourteenth red team, one hole it left open: parametrized ids the library under test names.

A case whose id holds an address (`test_total[<shapes.Triangle object at 0x7f..>]`, pytest's id from
the default `repr`, as `ids=repr` or `ids=str` gives) names no test in the next process, so the runner
asks pytest for its function and reads each case back by its id with the address blanked
(`grading.unstable_ids`). The bug (`+` made `-`) fails the Triangle sample and not the Square one. A
patch that fixed nothing but gave `Triangle` a `repr` of its own (its case, blanking to no requested
id, was dropped) and appended a passing sample named as the Triangle was (it filled the failing
case's id) scored resolved; an honest fix that named every shape scored unresolved (every recorded id
missing). A case the library renamed now counts against its function's requested cases. Real
synthesis, bwrap sandboxes, the real grader through `codekiln eval`, `grade_patch` and the agent's
path."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import eval_one, library_tasks, setuptools_pyproject, the_task
from tiering import paths

from codekiln.audit.grader import play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.unstable_ids import is_unstable
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0
MODULE = "shapes/__init__.py"
SHAPES = (
    "class Shape:\n    def __init__(self, a, b):\n        self.a = a\n        self.b = b\n\n\n"
    "class Square(Shape):\n    pass\n\n\nclass Triangle(Shape):\n    pass\n\n\n"
    "def total(shape):\n    return shape.a + shape.b\n\n\n"
    "SAMPLES = [Square(3, 0), Triangle(3, 5)]\n"
)
LIBRARY = {
    MODULE: SHAPES,
    "tests/test_shapes.py": (
        "import pytest\n\nfrom shapes import SAMPLES, Square, total\n\n"
        "EXPECTED = {'Square': 3, 'Triangle': 8}\n\n\n"
        "@pytest.mark.parametrize('shape', SAMPLES, ids=repr)\n"
        "def test_total(shape):\n    assert total(shape) == EXPECTED[type(shape).__name__]\n\n\n"
        "def test_flat():\n    assert total(Square(1, 0)) == 1\n"
    ),
    "pyproject.toml": setuptools_pyproject("shapes"),
}
BUGGY = "    return shape.a - shape.b\n"
FIXED = "    return shape.a + shape.b\n"
# Named by a repr of the library's own: the failing sample leaves the blanked id it was recorded
# under, and a new sample that passes takes that id (its class is named `Square` for the test).
RENAMED = (
    "\n\nTriangle.__repr__ = lambda self: 'Triangle(3, 5)'\n\n\n"
    "class _Decoy(Square):\n    def __repr__(self):\n        return '<shapes.Triangle object at 0x7f0000000010>'\n\n\n"
    "_Decoy.__name__ = 'Square'\nSAMPLES.append(_Decoy(3, 0))\n"
)
# The failing sample named as the passing one is: two cases read back under one id.
COLLIDED = "\n\nTriangle.__repr__ = lambda self: '<shapes.Square object at 0x7f0000000020>'\n"
# An honest fix that names every shape: no recorded id is left, every case renamed.
NAMED = "\n\nShape.__repr__ = lambda self: f'{type(self).__name__}({self.a}, {self.b})'\n"


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY,
        "param-ids-library",
        "audit-tasks-shapes",
        1,
        functions=["total"],
        mutators=["change_arith_op"],
    )
    return the_task(
        found,
        lambda t: BUGGY.strip() in t.bug_patch and any(is_unstable(i) for i in t.FAIL_TO_PASS),
        "total's `+` made `-`, failing a case named by an address",
    )


def _patch(t: TaskRecord, env: EnvRecord, fixed: bool, extra: str) -> str:
    target = Target.of(t, Path(env.snapshot_path))
    buggy = target.text(MODULE) or ""
    assert BUGGY in buggy, buggy
    return target.new(MODULE, (buggy.replace(BUGGY, FIXED) if fixed else buggy) + extra)


def _graded(t: TaskRecord, env: EnvRecord, patch: str, path: str) -> tuple[str, dict[str, str]]:
    if path == "agent":
        patch = play_commands(t, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    return grade.outcome, grade.statuses


@pytest.mark.parametrize(
    "path", paths("test_redteam14_param_ids.py", "test_a_failing_case_renamed_out_of_its_id_is_not_passed")
)
def test_a_failing_case_renamed_out_of_its_id_is_not_passed(
    task: tuple[TaskRecord, EnvRecord], path: str
) -> None:
    t, env = task
    outcome, statuses = _graded(t, env, _patch(t, env, False, RENAMED), path)
    assert outcome == "unresolved", statuses  # was resolved


@pytest.mark.parametrize(
    "path", paths("test_redteam14_param_ids.py", "test_an_honest_fix_that_renames_every_case_resolves")
)
def test_an_honest_fix_that_renames_every_case_resolves(
    task: tuple[TaskRecord, EnvRecord], path: str
) -> None:
    t, env = task
    outcome, statuses = _graded(t, env, _patch(t, env, True, NAMED), path)
    assert outcome == "resolved", statuses  # was unresolved: every recorded id missing
    assert set(statuses) == {*t.FAIL_TO_PASS, *t.PASS_TO_PASS}


def test_a_failing_case_named_as_a_passing_one_is_not_passed(task: tuple[TaskRecord, EnvRecord]) -> None:
    """Held before: the passing case's id reads the worse of the two cases under it."""
    t, env = task
    outcome, statuses = _graded(t, env, _patch(t, env, False, COLLIDED), "predictions")
    assert outcome == "unresolved", statuses
    assert "failed" in statuses.values()


def test_the_gold_and_a_fix_that_renames_one_case_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    assert _graded(t, env, _patch(t, env, True, ""), "predictions")[0] == "resolved"
    outcome, statuses = _graded(t, env, _patch(t, env, True, RENAMED), "predictions")
    assert outcome == "resolved", statuses


@pytest.mark.parametrize(
    ("fixed", "extra", "outcome"),
    [(False, RENAMED, "unresolved"), (True, NAMED, "resolved")],
    ids=["renamed", "named"],
)
def test_codekiln_eval_reads_renamed_cases_as_grade_patch_does(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, fixed: bool, extra: str, outcome: str
) -> None:
    """The predictions path as a user runs it: the CLI on a tasks file and a predictions file."""
    t, env = task
    result = eval_one(t, _patch(t, env, fixed, extra), tmp_path, timeout=300)
    assert result["outcome"] == outcome, result
