"""Tests whose clean run reads the tests' source through the library: left out of a task's tests.

    reads = run_reads(union)                       # {test id: finding}, from the clean side's guarded reruns
    outcome = kept_verdict(tests, reads, baseline, buggy, gold)   # `verdict.verdict` without them
    found = reading_tests(grade, tests)            # the same, from a grader run of the snapshot
    left = drop_tests(task, validation, found, graded)   # left out of the task (`TaskRecord.left_out`)

A library whose tests hand it their own file (`assert count_lines(__file__) == 15`) opens a test
file through its own code, which the guard's read watch refuses and notes as tampering
(`grading.guard_plugin_reads`). The rule stays: library code opening the tests' source is how a patch
reads the hidden answers. But such a test, on the clean snapshot (no bug), cannot grade anything: like
a flaky test, it is left out of the task's tests, and the library's other tests still make tasks.

Guarded runs of the snapshot say which tests: the clean side's fresh reruns (`gold.GoldCache.keep`),
the gate's shared run (`gate.GraderGate.shared_run`) and a gold patch's own grade (it puts the
snapshot back: `restores_snapshot`). One counts only when every one of its findings is such a read
naming the test it happened in (` during NODEID`), a test that was run. Any other finding, or a read
made at collection or between tests (a table built at import time), leaves it as before (`flaky`,
`tampered`). A test left out is named in `TaskRecord.left_out`, so no grade runs it as collateral of
its hidden file. An agent's patch is never read so: its grades keep every read as tampering.

A child process reads the tests' source where the read watch cannot see it, and finds it emptied
(`grading.guard_plugin_hide`): s3fs 2026.9.0's `test_no_connection_sharing_among_processes[spawn]`
and `[forkserver]` start `multiprocessing` children that import the test module to find their target,
which fail, so the tests fail in every grader run of the clean snapshot while the baseline (no guard)
and the engine pass them. Every task whose hidden file held them was `gold_failed` (both tasks the
engine accepted in s3fs's first batch: the tests were collateral PASS_TO_PASS of
`test_s3fs.py`). So the gate's shared run (a grader run of the clean snapshot that
ran cleanly) also names each test it saw not pass (`unpassing_tests`): left out the same way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from codekiln.grading import GradeResult
from codekiln.tasks.records import RejectReason, TaskRecord, Validation
from codekiln.tasks.validation.testexec import JobResult
from codekiln.tasks.validation.verdict import Rejection, verdict

EVIDENCE = "a test was replaced: code under test read the tests' source: "
"""How the grader's evidence states a read finding (`guard_check`, `TestReads.unreported`)."""
DURING = " during "


def reading_tests(grade: GradeResult, tests: Iterable[str]) -> dict[str, str]:
    """Each of `tests` that `grade` (a grader run on the clean snapshot) says read the tests' source
    through library code, with its finding: empty unless the grade is `tampered` and every finding
    is such a read attributed to one of `tests`."""
    if grade.outcome != "tampered" or any(f.get("kind") != "tampered" for f in grade.findings):
        return {}
    return attributed([str(f.get("detail", "")) for f in grade.findings], tests)


def unpassing_tests(grade: GradeResult, tests: Iterable[str]) -> dict[str, str]:
    """Each of `tests` that `grade` (a grader run on the clean snapshot that ran: `resolved` or
    `unresolved`, no reason) did not see pass, with what it saw: no grade of a task can see it pass."""
    if grade.outcome not in ("resolved", "unresolved") or grade.reason:
        return {}
    return {
        t: f"{grade.statuses.get(t, 'missing')} in the grader's run of the clean snapshot"
        for t in tests
        if grade.statuses.get(t) != "passed"
    }


def run_reads(result: JobResult | None) -> dict[str, str]:
    """The tests that the guarded runs of `result` (the clean side's fresh reruns, `testexec.Job.fresh`)
    name as reading the tests' source, each run judged as `attributed` judges its evidence."""
    out: dict[str, str] = {}
    for run in result.runs if result is not None else []:
        out.update(attributed(run.evidence, run.statuses))
    return out


def kept_verdict(
    tests: list[str], reads: Mapping[str, str], baseline: Mapping[str, str], buggy: JobResult, gold: JobResult
) -> Validation | Rejection:
    """`verdict.verdict` over the selected tests that do not read the tests' source on the clean snapshot
    (`reads`); `gold_failed` when every selected test does."""
    kept = [t for t in tests if t not in reads]
    if tests and not kept:
        return Rejection(
            RejectReason.gold_failed,
            f"every selected test reads the tests' source on the clean snapshot (the grader refuses it): "
            f"{tests[0]}: {reads[tests[0]]}",
        )
    return verdict(kept, baseline, buggy, gold)


def attributed(evidence: Iterable[str], tests: Iterable[str]) -> dict[str, str]:
    """Each of `tests` that `evidence` (a guarded run's) names as reading the tests' source, with its
    finding: empty unless every line is such a read attributed to one of `tests`."""
    wanted, out = set(tests), dict[str, str]()
    for detail in evidence:
        if not detail.startswith(EVIDENCE) or DURING not in detail:
            return {}
        test = detail.rsplit(DURING, 1)[1]
        if test not in wanted:
            return {}
        out.setdefault(test, detail[len(EVIDENCE) :])
    return out


def drop_tests(
    task: TaskRecord, validation: Validation, reads: Mapping[str, str], graded: Iterable[str]
) -> list[str] | Rejection:
    """Leave the tests of `reads` among `graded` (what a grade of the task runs) out of the task's
    FAIL_TO_PASS and PASS_TO_PASS and its evidence, and name them in `TaskRecord.left_out` (so no grade
    runs them as collateral): the tests newly left out, or a rejection when no failing test is left
    (`gold_failed`: the grader does not see them pass). The hidden test files stay as they are."""
    left = [t for t in dict.fromkeys(graded) if t in reads and t not in task.left_out]
    if not left:
        return []
    failing = [t for t in task.FAIL_TO_PASS if t not in reads]
    if not failing:
        first = next(t for t in task.FAIL_TO_PASS if t in reads)
        return Rejection(
            RejectReason.gold_failed,
            f"every failing test reads the tests' source on the clean snapshot (the grader refuses it): "
            f"{first}: {reads[first]}",
            validation,
        )
    task.FAIL_TO_PASS = failing
    task.PASS_TO_PASS = [t for t in task.PASS_TO_PASS if t not in reads]
    task.left_out = sorted({*task.left_out, *left})
    for side in (validation.before, validation.after, validation.gold):
        for t in left:
            side.pop(t, None)
    return left


def left_out_note(left: list[str]) -> str:
    """The reason recorded in the task's validation detail."""
    shown = ", ".join(left[:5]) + (f" and {len(left) - 5} more" if len(left) > 5 else "")
    return f"left out, they read the tests' source on the clean snapshot or do not pass there under the grader: {shown}"
