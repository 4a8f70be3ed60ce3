"""The thirteenth red team: new packages. A change lists a new folder as an entry of its own, which the
data rule read as a file that is not Python source and put back: an honest fix that moved the fixed
function into a new subpackage (`unitlib/_impl/__init__.py`, imported by the package) lost the whole
folder and scored 0 ("collection errors"), through both paths, while the same code in a new module
`unitlib/_impl.py` resolved. A new folder is no longer data itself (`pathrules.new_folder`; its files
are judged one by one). What that rule had also deleted, by chance, is now refused by import order:
a new package `D/__init__.py` beside a module `D.py` of the snapshot that stands at test time (left,
or put back) hides it from every import (`pathrules.hidden_modules`, `shadows_module`), and is put back
itself, as a new module hiding an installed one now is; a neutered copy of the tests' shared
assertions there (`unitlib/_checks/__init__.py`) is deleted before the tests run, where the guard
alone would find the module swapped (`tampered`)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from test_redteam12_support import CHECKS, mean_task

from codekiln.audit.grader import play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.grading.pathrules import SHADOWS, hidden_modules, new_folder
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

TIMEOUT = 30.0
MEAN = (
    "def mean(values):\n    total = 0.0\n    count = 0\n    for v in values:\n        total += v\n"
    "        count += 1\n    return total / count\n"
)
QUIET = "def assert_close(actual, expected, tol=1e-9):\n    return None\n\n\ndef assert_same_items(actual, expected):\n    return None\n"


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    return mean_task()  # the honest fix below moves a fixed `mean`


def _moved_to_a_subpackage(t: TaskRecord, env: EnvRecord) -> str:
    """An honest fix: `mean`, fixed, now lives in a new subpackage the package imports it from."""
    target = Target.of(t, Path(env.snapshot_path))
    init = target.text("unitlib/__init__.py") or ""
    rest = re.sub(r"def mean\(values\):\n(    .*\n)+", "", init, count=1)
    return target.new("unitlib/_impl/__init__.py", MEAN) + target.new(
        "unitlib/__init__.py", "from unitlib._impl import mean\n\n\n" + rest
    )


@pytest.mark.root  # synthesis, a scripted agent and grading in bwrap sandboxes
@pytest.mark.parametrize("path", ["predictions", "agent"])
def test_an_honest_fix_in_a_new_subpackage_resolves(task: tuple[TaskRecord, EnvRecord], path: str) -> None:
    t, env = task
    patch = _moved_to_a_subpackage(t, env)
    if path == "agent":
        patch = play_commands(t, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
        assert "unitlib/_impl/__init__.py" in patch_paths(patch)
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("resolved", True), grade.detail  # was unresolved
    assert not [f for f in grade.findings if f["kind"] == "reverted"]


@pytest.mark.root
def test_a_new_package_hiding_the_tests_helpers_is_put_back(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    patch = Target.of(t, Path(env.snapshot_path)).new("unitlib/_checks/__init__.py", QUIET)
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("unresolved", False), grade.detail
    new = "unitlib/_checks/__init__.py"
    assert {"kind": "shadows_module", "path": new, "detail": CHECKS} in grade.findings
    assert {"kind": "reverted", "path": new, "detail": SHADOWS} in grade.findings


def test_which_new_packages_hide_a_module() -> None:
    snapshot = {"pkg/core.py", "pkg/__init__.py", "testdata/cases.py", "pkg/sub/__init__.py", "pkg/old.py"}
    exists = snapshot.__contains__
    touched = {
        "testdata/cases": "dir",
        "testdata/cases/__init__.py": "file",  # hides the Python data the tests read: put back or not
        "pkg/core": "dir",
        "pkg/core/__init__.py": "file",  # beside the fix's module, which stays
        "pkg/old": "dir",
        "pkg/old/__init__.py": "file",  # a module made a package: old.py deleted
        "pkg/old.py": "deleted",
        "pkg/sub/__init__.py": "file",  # the snapshot's own package
        "pkg/new/__init__.py": "file",  # hides nothing
        "tests/helpers/__init__.py": "file",  # put back itself
    }
    put_back = {"testdata/cases.py", "tests/helpers/__init__.py"}
    assert hidden_modules(touched, exists, put_back) == {
        "testdata/cases/__init__.py": "testdata/cases.py",
        "pkg/core/__init__.py": "pkg/core.py",
    }
    # deleted, but put back (a support module, Python data): it stands, hidden
    assert hidden_modules(touched, exists, put_back | {"pkg/old.py"})["pkg/old/__init__.py"] == "pkg/old.py"
    assert new_folder("pkg/new", "dir", exists) and not new_folder("pkg/sub", "dir", lambda rel: True)
    assert not new_folder("pkg/new/__init__.py", "file", exists)
