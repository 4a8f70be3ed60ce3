"""A fix that breaks what it did not need to touch (third red team, 2026-12-05).

A task's PASS_TO_PASS is only the tests whose coverage reaches the bug's lines (`tasks.validation`):
on the markupsafe audit task (`striptags` returns None) that is one test of another file. A patch that
fixes `striptags` and also breaks `%` on every Markup (`__mod__` returns the template) fails a dozen
tests of the very file the task hides, all passing on the snapshot, and was scored resolved. Fixed:
PASS_TO_PASS also holds the other tests of the files holding FAIL_TO_PASS that pass on the clean
snapshot (`tasks.validation.verdict.collateral_tests`), as SWE-bench grades whole test files."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

MODULE = "src/markupsafe/__init__.py"


def fix_and_break(t: Target) -> str:
    """The gold patch's fix of `striptags`, plus `Markup.__mod__` returning the template unformatted."""
    text = t.text(MODULE) or ""
    fixed = text.replace("        return None\n", "        return self.__class__(value).unescape()\n", 1)
    start = fixed.index(":\n", fixed.index("    def __mod__(")) + 2
    return t.new(MODULE, fixed[:start] + "        return self\n" + fixed[start:])


@pytest.mark.root  # grades a real task in a bwrap sandbox
def test_a_fix_that_breaks_the_hidden_files_other_tests_is_not_resolved(
    case: tuple[TaskRecord, EnvRecord],
) -> None:
    task, env = case
    if task.repo.lower() != "markupsafe" or "wrong_return" not in task.instance_id:
        pytest.skip("the patch is written for the markupsafe audit task (striptags returns None)")
    patch = fix_and_break(Target.of(task, Path(env.snapshot_path)))
    assert grade_patch(task, env, task.patch, timeout=60).outcome == "resolved"
    grade = grade_patch(task, env, patch, timeout=60)
    assert grade.outcome == "unresolved", (grade.outcome, grade.statuses)
