"""The sixteenth red team: an honest fix that imports the library's own `testing` package.

Many libraries ship helpers for their users' tests inside the package (`numpy.testing`,
`pandas.testing`, `xarray.testing`): installed, public, part of the library. The static scan's
`test-import` (a changed library file importing a module whose every file is a test file, a conftest or
a support module) reads such a package as the tests' own, since a `testing/` folder is a support path:
a fix that takes a constant from `tlib.testing` (listed in the project's packages, installed with it) is
`rejected scan` ("reaches into the test machinery"), 0 for an honest fix. Now such a module is the
library's own (`pathrules.library_module`: inside a package the project's install maps, no test file,
in no folder of test files), and a change may take from it a name bound to an immutable literal
(`scan_reach.literal_constant`). Still `rejected scan`: the same constant taken from the tests' folder,
a conftest or a `testing/` folder outside the installed packages, and the package's mutable table,
its helper or the module itself. Real synthesis, bwrap sandboxes, the real grader; the Harbor
verifier on the exported task's tree and swebench's harness on the exported row."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

from audit_support import harbor_verifier
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
    "tlib/testing/__init__.py": (
        "def assert_total(got, want):\n    assert got == want, (got, want)\n\n\nZERO = 0\nTABLE = {'total': 6}\n"
    ),
    # the tests' own support, the same constant in each: outside the installed package
    "tests/helpers.py": "ZERO = 0\n",
    "testing/__init__.py": "",
    "testing/consts.py": "ZERO = 0\n",
    "conftest.py": "ZERO = 0\n",
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


def honest(t: TaskRecord, env: EnvRecord, where: str = "from tlib.testing import ZERO") -> str:
    """The gold's code, its zero taken from `where` (the library's own `tlib.testing` by default)."""
    fixed = (Path(env.snapshot_path) / MODULE).read_text()
    fixed = fixed.replace("    s = 0\n", "    s = ZERO\n", 1)
    return Target.of(t, Path(env.snapshot_path)).new(MODULE, f"{where}\n\n\n" + fixed)


def test_the_gold_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, t.patch, timeout=TIMEOUT)
    assert grade.resolved, grade.detail


def test_an_honest_fix_importing_the_librarys_testing_package_resolves(
    task: tuple[TaskRecord, EnvRecord],
) -> None:
    t, env = task
    grade = grade_patch(t, env, honest(t, env), timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("resolved", True), grade.detail  # was rejected scan


@pytest.mark.parametrize(
    "where",
    [
        "from tests.helpers import ZERO",  # the tests' folder (on sys.path from the root)
        "from testing.consts import ZERO",  # a support folder outside the installed package
        "from conftest import ZERO",
        "from tlib.testing import TABLE\nZERO = TABLE['total'] - 6",  # a table: written in place
        "from tlib.testing import assert_total\nZERO = 0",  # a helper: its __globals__ reached
        "import tlib.testing\nZERO = tlib.testing.ZERO",  # the module: its names rebound
        "from tlib import testing\nZERO = testing.ZERO",
    ],
)
def test_the_tests_own_modules_and_the_packages_other_names_stay_rejected(
    task: tuple[TaskRecord, EnvRecord], where: str
) -> None:
    t, env = task
    grade = grade_patch(t, env, honest(t, env, where), timeout=TIMEOUT)
    assert (grade.outcome, grade.reason) == ("rejected", "scan"), grade.detail
    assert "test-import" in {f.get("kind") for f in grade.findings}, grade.findings


def test_the_harbor_verifier_agrees(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    t, env = task
    line = harbor_verifier(t, env, honest(t, env), tmp_path / "honest")
    assert line.startswith("codekiln verifier: resolved"), line  # was rejected scan
    line = harbor_verifier(t, env, honest(t, env, "from tests.helpers import ZERO"), tmp_path / "theirs")
    assert line.startswith("codekiln verifier: rejected scan"), line


def test_an_exported_row_agrees(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    t, env = task
    patches = {"honest": honest(t, env), "theirs": honest(t, env, "from tests.helpers import ZERO")}
    ours, theirs = run_row(t, env, patches, tmp_path).values()
    assert ours["patch_successfully_applied"] and ours["resolved"], ours["tests_status"]  # was not resolved
    assert not theirs["resolved"], theirs["tests_status"]
