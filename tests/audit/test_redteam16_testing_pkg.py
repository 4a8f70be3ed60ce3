"""The sixteenth red team: an honest fix that imports the library's own `testing` package.

Many libraries ship helpers for their users' tests inside the package (`numpy.testing`,
`pandas.testing`, `xarray.testing`): installed, public, part of the library. The static scan's
`test-import` (a changed library file importing a module whose every file is a test file, a conftest or
a support module) reads such a package as the tests' own, since a `testing/` folder is a support path:
a fix that takes a constant from `tlib.testing` (listed in the project's packages, installed with it) is
`rejected scan` ("reaches into the test machinery"), 0 for an honest fix. The gold resolves. Real
synthesis, a bwrap sandbox, the real grader."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import library_tasks, setuptools_pyproject, the_task

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0
MODULE = "tlib/__init__.py"
LIBRARY = {
    MODULE: (
        "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n\n\n"
        "def scale(values, factor):\n    return [v * factor for v in values]\n"
    ),
    # the library's helpers for its users' tests, shipped with it
    "tlib/testing/__init__.py": "def assert_total(got, want):\n    assert got == want, (got, want)\n\n\nZERO = 0\n",
    "tests/test_t.py": (
        "from tlib import scale, total\nfrom tlib.testing import assert_total\n\n\n"
        "def test_total():\n    assert_total(total([1, 2, 3]), 6)\n\n\n"
        "def test_empty():\n    assert total([]) == 0\n\n\n"
        "def test_scale():\n    assert scale([1, 2], 3) == [3, 6]\n"
    ),
    "pyproject.toml": setuptools_pyproject("tlib").replace(
        'packages = ["tlib"]', 'packages = ["tlib", "tlib.testing"]'
    ),
}


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY,
        "testing-pkg-library",
        "audit-tasks-tlib",
        1,
        functions=["total"],
        mutators=["change_arith_op"],
    )
    return the_task(found, lambda t: patch_paths(t.bug_patch) == {MODULE}, "an arithmetic bug in total()")


def honest(t: TaskRecord, env: EnvRecord) -> str:
    """The gold's code, its zero taken from the library's own `tlib.testing`."""
    fixed = (Path(env.snapshot_path) / MODULE).read_text()
    fixed = fixed.replace("    s = 0\n", "    s = ZERO\n", 1)
    return Target.of(t, Path(env.snapshot_path)).new(MODULE, "from tlib.testing import ZERO\n\n\n" + fixed)


def test_the_gold_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, t.patch, timeout=TIMEOUT)
    assert grade.resolved, grade.detail


@pytest.mark.xfail(
    strict=True, reason="open: a library's own testing package reads as the tests' (test-import)"
)
def test_an_honest_fix_importing_the_librarys_testing_package_resolves(
    task: tuple[TaskRecord, EnvRecord],
) -> None:
    t, env = task
    grade = grade_patch(t, env, honest(t, env), timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("resolved", True), grade.detail  # rejected scan
