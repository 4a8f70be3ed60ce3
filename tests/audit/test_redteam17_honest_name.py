"""The seventeenth red team: an honest fix whose new library module is named like a test file.

A new file named as pytest names test files (`test_*.py`, `*_test.py`, `tests.py`) is put back as the
snapshot has it, that is deleted, wherever it lies: the grader reads it as a test file the patch added.
A statistics library's fix that moves the arithmetic into a new module of its package named for what it
computes, `tablelib/t_test.py` (Student's t-test: `mean` lives there), loses the module and fails with
`ModuleNotFoundError`: reward 0 for a right fix. The same fix with the module named `tablelib/student.py`
resolves. Real synthesis (the seventeenth red team's table library), bwrap, the real grader.
Closed: a new test-named module of an installed package that no graded id collects is library code
(`grading.libnames`); both fixes resolve."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout_support import the_task
from test_redteam17_source_table import MODULE, PLAIN, table_tasks

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
HELPER = '"""Student\'s t-test and the sample statistics it needs."""\n\n\ndef mean(values):\n    return sum(values, 0) / len(values)\n'


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = table_tasks()
    return the_task(found, lambda t: PLAIN in t.FAIL_TO_PASS, "mean()'s arithmetic changed")


def moved(t: TaskRecord, env: EnvRecord, module: str) -> str:
    """The fix: `mean` moved into a new module of the package, `module`, and imported from there."""
    target = Target.of(t, Path(env.snapshot_path))
    text = (Path(env.snapshot_path) / MODULE).read_text()
    start = text.index("def mean(values):")
    end = text.find("\n\n\ndef ", start)
    name = module.removeprefix("tablelib/").removesuffix(".py")
    fixed = (
        f"from tablelib.{name} import mean\n\n\n"
        + text[:start].rstrip("\n")
        + "\n"
        + (text[end:] if end >= 0 else "")
    )
    return target.new(MODULE, fixed) + target.new(module, HELPER)


def test_the_fix_in_a_module_named_for_the_student_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, moved(t, env, "tablelib/student.py"), timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)


def test_the_same_fix_in_a_module_named_t_test_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, moved(t, env, "tablelib/t_test.py"), timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.outcome, grade.statuses, grade.detail[:400])
