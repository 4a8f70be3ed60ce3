"""Tasks made before PASS_TO_PASS held the hidden files' other tests (fifth red team, 2026-12-05).

Since b4e8007 a new task's PASS_TO_PASS holds every test of the files holding FAIL_TO_PASS that passes
on the clean snapshot, so that a fix which breaks the rest of the hidden file is not resolved. Task
records made before that (datasets already written, the recorded toolz tasks every test here uses)
keep their old, short PASS_TO_PASS, and the grader graded exactly what the record lists: on the
recorded toolz task `reorder_statements__c0916dcbab` (PASS_TO_PASS empty, 18 of the hidden files' 20
clean-passing tests graded by nobody), the gold fix plus `is_valid_args` and `is_partial_args` raising
breaks 10 of those tests and scored resolved. Fixed: the grader adds those tests from the environment's
baseline whatever the record's age (`grading.collateral`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import toolz_tasks

from codekiln.core.diffs import make_diff
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import grade_patch
from codekiln.grading.collateral import graded_pass_to_pass
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord, TaskSource

pytestmark = pytest.mark.root  # grades a real task in bwrap sandboxes

STALE = "toolz.2fbed4f0.reorder_statements__c0916dcbab"
MODULE = "toolz/functoolz.py"


@pytest.fixture(scope="module")
def stale() -> tuple[TaskRecord, EnvRecord]:
    (task,) = [t for t in read_tasks(toolz_tasks() / "tasks.jsonl") if t.instance_id == STALE]
    return task, load_env(task.environment_id or "")


def fix_and_break(task: TaskRecord, env: EnvRecord) -> str:
    """The gold fix, plus two functions of functoolz that only the hidden files' ungraded tests call
    raising on every call."""
    text = (Path(env.snapshot_path) / MODULE).read_text()
    broken = text
    for name in ("is_valid_args", "is_partial_args"):
        head = f"def {name}(func, args, kwargs, sigspec=None):\n"
        assert head in broken, f"{name} moved in {MODULE}: rewrite the attack"
        broken = broken.replace(head, head + '    raise RuntimeError("collateral")\n', 1)
    return task.patch + make_diff(MODULE, text, broken)


def test_the_recorded_task_predates_the_wider_pass_to_pass(stale: tuple[TaskRecord, EnvRecord]) -> None:
    """The premise: the record grades none of the hidden files' other clean-passing tests."""
    task, env = stale
    files = set(task.hidden_tests)
    ungraded = {t for t, s in env.baseline.items() if s == "passed" and t.split("::")[0] in files} - set(
        task.tests
    )
    assert len(ungraded) >= 10 and task.PASS_TO_PASS == []


def test_a_fix_that_breaks_the_hidden_files_other_tests_is_not_resolved_on_an_old_task(
    stale: tuple[TaskRecord, EnvRecord],
) -> None:
    task, env = stale
    assert grade_patch(task, env, task.patch, timeout=60).outcome == "resolved"
    grade = grade_patch(task, env, fix_and_break(task, env), timeout=60)
    assert grade.outcome == "unresolved", (grade.outcome, grade.statuses)


def test_only_synthesized_tasks_get_the_hidden_files_other_tests(stale: tuple[TaskRecord, EnvRecord]) -> None:
    """A mined change or an imported SWE-bench row is graded on the lists its own harness wrote."""
    task, env = stale
    added = graded_pass_to_pass(task, env)
    assert len(added) >= 10 and set(added) <= {t for t, s in env.baseline.items() if s == "passed"}
    for source in (TaskSource.history, TaskSource.pr_mirror, TaskSource.swebench):
        assert graded_pass_to_pass(task.model_copy(update={"source": source}), env) == task.PASS_TO_PASS == []
