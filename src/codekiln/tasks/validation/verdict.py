"""The rules of what makes a candidate a task: pure functions of test statuses, no sandbox, no I/O.

    outcome = verdict(tests, env.baseline, buggy, gold)     # Validation, or Rejection(reason, detail)
    split = classify(outcome.after, outcome.gold)           # FAIL_TO_PASS / PASS_TO_PASS of an accepted one

`verdict` judges a candidate's runs: `buggy` holds its selected tests' runs with the bug in place (the
first, then the reruns of the failing tests), `gold` their clean runs (the grader's own run first).
In order, the first rule that matches decides:

1. an infrastructure error on either side, or a run that crashed: `infra_error`; but a test process
   that ended before any test with the bug, while the clean runs ran, is the bug's doing:
   `import_breakage` (a module pytest loads at start-up imports the package: a root conftest, or a
   pytest plugin that depends on it, as pytest-enabler does on jaraco.functools);
2. a run stopped at its time limit: `timeout`;
3. no selected test fails with the bug: `no_failing_test`;
4. a failing test passes in a rerun with the bug, or a selected test passes in some clean runs but
   not all: `flaky`;
5. a selected test passes in no clean run: `gold_failed`.
Otherwise the candidate is accepted with its `Validation` evidence, where every selected test passed in
every clean run, so `grading.classify(after, gold)` splits the tests into FAIL_TO_PASS (fail with the
bug) and PASS_TO_PASS. A test missing from a run counts as not passing there; a skipped one too.

`graded_verdict` judges the grader gate (the gold and the empty patch graded as agents are), and
`hidden_test_files` which of an accepted task's test files the agent does not see.
`Validator.decide` (in `validate`) orchestrates: it runs the tests, calls these, and writes the task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from codekiln.grading import GradeResult
from codekiln.grading.collateral import collateral_tests as collateral_tests
from codekiln.grading.collateral import hidden_test_files as hidden_test_files
from codekiln.tasks.records import RejectReason, Validation
from codekiln.tasks.validation.testexec import JobResult


@dataclass(frozen=True)
class Rejection:
    """Why a candidate is not a task: the reason, a detail for people, and the evidence when any."""

    reason: RejectReason
    detail: str
    validation: Validation | None = None


def _passes(statuses: Mapping[str, str], test: str) -> bool:
    return statuses.get(test) == "passed"


def _broken(side: str, result: JobResult) -> Rejection | None:
    """Rules 1 and 2 for one side."""
    if result.error:
        return Rejection(RejectReason.infra_error, f"{side}: {result.error}")
    if result.timed_out:
        limit = max((r.duration_s for r in result.runs), default=0.0)
        return Rejection(RejectReason.timeout, f"{side}: a run was stopped after {limit:.1f} s")
    crashed = next((r.error for r in result.runs if r.error), None)
    if crashed:
        return Rejection(RejectReason.infra_error, f"{side}: {crashed}")
    return None


def _start_up_crash(buggy: JobResult, gold: JobResult) -> str | None:
    """Why the test process ended before any test with the bug (an exit code of its own, no test
    reported, no time limit passed), when the clean runs did not: None otherwise."""
    if buggy.error or _broken("", gold) is not None:
        return None
    for run in buggy.runs:
        if run.error and run.exit_code and not run.timed_out and not run.statuses:
            return run.error
    return None


def verdict(
    tests: list[str], baseline: Mapping[str, str], buggy: JobResult, gold: JobResult
) -> Validation | Rejection:
    """Judge one candidate from its runs with the bug and the clean runs of its selected `tests`
    (`baseline`: the environment's clean statuses, kept as evidence); see the module docstring."""
    crash = _start_up_crash(buggy, gold)
    if crash is not None:
        return Rejection(
            RejectReason.import_breakage,
            f"the bug breaks the test run before any test (the clean runs ran): {crash}",
        )
    for side, result in (("with the bug", buggy), ("on the clean snapshot", gold)):
        broken = _broken(side, result)
        if broken is not None:
            return broken
    first = buggy.runs[0]
    validation = Validation(
        before={t: baseline.get(t, "missing") for t in tests},
        after={t: first.statuses.get(t, "missing") for t in tests},
        gold={t: gold.runs[0].statuses.get(t, "missing") for t in tests},
        reruns=len(buggy.runs),
        duration_s=round(buggy.duration_s, 3),
    )
    failing = [t for t in tests if not _passes(first.statuses, t)]
    if not failing:
        return Rejection(RejectReason.no_failing_test, f"{len(tests)} selected tests all pass", validation)
    unstable = [t for t in failing if any(_passes(r.statuses, t) for r in buggy.runs[1:])]
    gold_broken = [t for t in tests if not any(_passes(r.statuses, t) for r in gold.runs)]
    gold_unstable = [
        t for t in tests if t not in gold_broken and not all(_passes(r.statuses, t) for r in gold.runs)
    ]
    if unstable or gold_unstable:
        validation.flaky = sorted(set(unstable) | set(gold_unstable))
        detail = "results differ between reruns: " + ", ".join(validation.flaky[:5])
        return Rejection(RejectReason.flaky, detail, validation)
    if gold_broken:
        detail = "fail on the clean snapshot: " + ", ".join(gold_broken[:5])
        return Rejection(RejectReason.gold_failed, detail, validation)
    return validation


def graded_verdict(gold: GradeResult, empty: GradeResult | None) -> Rejection | None:
    """The grader gate: the gold patch must resolve the task, then the empty patch must neither resolve
    it nor fail to run (`empty` is None when the gold patch was not resolved: it is not graded)."""
    if not gold.resolved:
        reason = RejectReason.timeout if gold.outcome == "timeout" else RejectReason.gold_failed
        return Rejection(
            reason, f"grader on the gold patch: {gold.outcome} {gold.detail or _not_passing(gold)}"
        )
    if empty is None:
        raise ValueError("graded_verdict needs the empty patch's grade once the gold patch resolved")
    if empty.resolved:
        return Rejection(RejectReason.empty_resolved, "the grader resolves it with no change")
    if empty.outcome in ("timeout", "error"):
        return Rejection(
            RejectReason.infra_error, f"grader on the empty patch: {empty.outcome} {empty.detail}"
        )
    return None


def _not_passing(grade: GradeResult) -> str:
    """The tests an unresolved grade with no detail did not see pass: which ones the rejection is about
    (jaraco.functools 4.6.0's read "unresolved" and nothing more; its linters' items had failed)."""
    shown = [f"{t} {s}" for t, s in sorted(grade.statuses.items()) if s not in ("passed", "xfailed")]
    shown += [f"{t} missing" for t in sorted(grade.missing)]
    more = f" and {len(shown) - 5} more" if len(shown) > 5 else ""
    return f"({', '.join(shown[:5])}{more})" if shown else ""
