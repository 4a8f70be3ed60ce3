"""Each rule of the validation verdict (`tasks.validation.verdict`) on hand-written statuses: no
sandbox, no pytest run. A rule's exact reason is asserted, and the order in which rules apply."""

from __future__ import annotations

import pytest

from codekiln.grading import GradeResult, TestRun, classify
from codekiln.tasks.records import RejectReason, Validation
from codekiln.tasks.validation.testexec import JobResult
from codekiln.tasks.validation.verdict import Rejection, graded_verdict, verdict

TESTS = ["t.py::a", "t.py::b", "t.py::c"]
BASELINE = dict.fromkeys(TESTS, "passed")
CLEAN = dict.fromkeys(TESTS, "passed")
BUGGY = {"t.py::a": "failed", "t.py::b": "passed", "t.py::c": "passed"}


def job(*runs: dict[str, str], error: str | None = None, **run_fields: object) -> JobResult:
    return JobResult("j", runs=[TestRun(statuses=s, **run_fields) for s in runs], error=error)


def rejected(outcome: Validation | Rejection) -> RejectReason:
    assert isinstance(outcome, Rejection), outcome
    return outcome.reason


def test_a_test_failing_every_bug_run_and_passing_every_clean_run_makes_a_task() -> None:
    outcome = verdict(TESTS, BASELINE, job(BUGGY, {"t.py::a": "failed"}), job(CLEAN, CLEAN))
    assert isinstance(outcome, Validation)
    assert outcome.after == BUGGY and outcome.gold == CLEAN and outcome.reruns == 2
    split = classify(outcome.after, outcome.gold)
    assert split.FAIL_TO_PASS == ["t.py::a"] and split.PASS_TO_PASS == ["t.py::b", "t.py::c"]


def test_an_infrastructure_error_on_either_side_is_infra_error() -> None:
    assert (
        rejected(verdict(TESTS, BASELINE, job(error="runner died"), job(CLEAN))) is RejectReason.infra_error
    )
    outcome = verdict(TESTS, BASELINE, job(BUGGY), job(CLEAN, error="sandbox gone"))
    assert rejected(outcome) is RejectReason.infra_error
    assert isinstance(outcome, Rejection) and outcome.detail == "on the clean snapshot: sandbox gone"


def test_a_crashed_run_is_infra_error() -> None:
    outcome = verdict(TESTS, BASELINE, job(BUGGY, error="fork failed"), job(CLEAN))
    assert rejected(outcome) is RejectReason.infra_error
    assert isinstance(outcome, Rejection) and outcome.detail == "with the bug: fork failed"


def test_a_run_stopped_at_its_limit_is_a_timeout() -> None:
    outcome = verdict(TESTS, BASELINE, job(BUGGY, timed_out=True, duration_s=5.0), job(CLEAN))
    assert rejected(outcome) is RejectReason.timeout
    assert isinstance(outcome, Rejection) and outcome.detail == "with the bug: a run was stopped after 5.0 s"


def test_no_failing_selected_test_is_no_failing_test() -> None:
    outcome = verdict(TESTS, BASELINE, job(CLEAN), job(CLEAN))
    assert rejected(outcome) is RejectReason.no_failing_test
    assert isinstance(outcome, Rejection) and outcome.validation is not None  # the evidence is kept


def test_a_failing_test_that_passes_in_a_bug_rerun_is_flaky() -> None:
    outcome = verdict(TESTS, BASELINE, job(BUGGY, {"t.py::a": "passed"}), job(CLEAN, CLEAN))
    assert rejected(outcome) is RejectReason.flaky
    assert isinstance(outcome, Rejection) and outcome.validation and outcome.validation.flaky == ["t.py::a"]


def test_a_test_passing_in_some_clean_runs_only_is_flaky() -> None:
    some = {**CLEAN, "t.py::c": "failed"}
    outcome = verdict(TESTS, BASELINE, job(BUGGY, {"t.py::a": "failed"}), job(CLEAN, some))
    assert rejected(outcome) is RejectReason.flaky
    assert isinstance(outcome, Rejection) and outcome.validation and outcome.validation.flaky == ["t.py::c"]


def test_a_test_passing_in_no_clean_run_is_gold_failed() -> None:
    never = {**CLEAN, "t.py::b": "failed"}
    outcome = verdict(TESTS, BASELINE, job(BUGGY, {"t.py::a": "failed"}), job(never, never))
    assert rejected(outcome) is RejectReason.gold_failed
    assert isinstance(outcome, Rejection) and outcome.detail == "fail on the clean snapshot: t.py::b"


def test_flaky_is_decided_before_gold_failed() -> None:
    never_b = {**CLEAN, "t.py::b": "failed"}
    outcome = verdict(TESTS, BASELINE, job(BUGGY, {"t.py::a": "passed"}), job(never_b, never_b))
    assert rejected(outcome) is RejectReason.flaky


@pytest.mark.parametrize("status", ["skipped", "missing"])
def test_a_skipped_or_missing_test_never_counts_as_passing(status: str) -> None:
    """Skipped on both sides, a selected test is not a FAIL_TO_PASS test: the clean side broke it."""
    bug, clean = dict(BUGGY), dict(CLEAN)
    for statuses in (bug, clean):
        statuses["t.py::c"] = status
        if status == "missing":
            del statuses["t.py::c"]
    outcome = verdict(TESTS, BASELINE, job(bug, {"t.py::a": "failed", "t.py::c": status}), job(clean, clean))
    assert rejected(outcome) is RejectReason.gold_failed


def grade(outcome: str, resolved: bool = False) -> GradeResult:
    return GradeResult(instance_id="i", outcome=outcome, resolved=resolved)  # type: ignore[arg-type]


def test_the_grader_gate_rules() -> None:
    resolved = grade("resolved", True)
    assert graded_verdict(resolved, grade("unresolved")) is None
    assert graded_verdict(grade("unresolved"), None).reason is RejectReason.gold_failed  # type: ignore[union-attr]
    assert graded_verdict(grade("timeout"), None).reason is RejectReason.timeout  # type: ignore[union-attr]
    assert graded_verdict(resolved, resolved).reason is RejectReason.empty_resolved  # type: ignore[union-attr]
    assert graded_verdict(resolved, grade("timeout")).reason is RejectReason.infra_error  # type: ignore[union-attr]
    assert graded_verdict(resolved, grade("error")).reason is RejectReason.infra_error  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="empty patch"):
        graded_verdict(resolved, None)
    lint = GradeResult(
        instance_id="i",
        outcome="unresolved",
        statuses={"t.py::test_a": "passed", "t.py::ruff": "failed"},
        missing=["t.py::ruff::format"],
    )
    assert graded_verdict(lint, None).detail == (  # type: ignore[union-attr]
        "grader on the gold patch: unresolved (t.py::ruff failed, t.py::ruff::format missing)"
    )
