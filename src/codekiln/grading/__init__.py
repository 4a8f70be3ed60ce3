"""Test grading: run tests in a sandbox, parse JUnit into status maps, classify before/after, and the
grader that validation, rollouts, rewards and evaluation all use (`grade_patch`).

- `runner` (`run_tests`), `junit` (`parse_junit`), `classify` (FAIL_TO_PASS / PASS_TO_PASS, a pure
  function of two status maps): the test runs themselves.
- `grader` (`grade_patch`, `open_task_sandbox`, `workspace_patch`): does a patch resolve a task? Start
  there; `graded` is its workspace, `patchrules` what a patch may touch, `scan` the static scan of
  added code, `guard` the guarded test process. `subject` names what it reads of a task and an
  environment.
- `shipped`: the files shipped by path into test processes (the guard plugin and its parts) and into
  exported tasks (the verifier and what it reads: `pathrules`, `guard_check`, `scan`...), which import
  nothing from codekiln there.
"""

from codekiln.grading.classify import Classification, classify, resolved
from codekiln.grading.graded import graded_files, restores_snapshot, setup_patch
from codekiln.grading.grader import (
    GradeResult,
    grade_patch,
    open_task_sandbox,
    prepare_workspace,
    workspace_patch,
)
from codekiln.grading.junit import JUnitReport, parse_junit
from codekiln.grading.patchrules import GradePolicy
from codekiln.grading.runner import TestCommand, TestRun, internal_error, items_note, run_tests
from codekiln.grading.subject import GradedTask, GradingEnv

__all__ = [
    "Classification",
    "GradePolicy",
    "GradeResult",
    "GradedTask",
    "GradingEnv",
    "JUnitReport",
    "TestCommand",
    "TestRun",
    "classify",
    "grade_patch",
    "graded_files",
    "internal_error",
    "items_note",
    "open_task_sandbox",
    "parse_junit",
    "prepare_workspace",
    "resolved",
    "restores_snapshot",
    "run_tests",
    "setup_patch",
    "workspace_patch",
]
