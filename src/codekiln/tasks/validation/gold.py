"""The clean side of validation: results of the unchanged snapshot's tests, kept for later batches.

Each test selection runs once on its own (as the grader will run it); the union of a batch's selected
tests runs the remaining reruns together. The snapshot never changes, so both are kept (`GoldCache`)
and a selection's clean runs are assembled from them (`GoldCache.runs`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from codekiln.grading import TestRun
from codekiln.tasks.validation.own_reads import run_reads
from codekiln.tasks.validation.testexec import JobResult

UNION = "union"
"""The key (and job id suffix) of a batch's union rerun job."""


def selection_key(tests: list[str]) -> str:
    return hashlib.sha256("\n".join(tests).encode()).hexdigest()[:16]


def _clean(result: JobResult) -> bool:
    """Whether clean results can be reused: no infrastructure error, timeout or crash."""
    return not result.error and not any(run.error for run in result.runs)


@dataclass
class GoldCache:
    """Clean results that later batches reuse: each test selection's own run, for each test the
    union job whose reruns it took part in, and its status in the grader gate's shared run. One may
    be shared by the validators of one synthesis run."""

    own: dict[str, JobResult] = field(default_factory=dict)
    reruns: dict[str, JobResult] = field(default_factory=dict)
    graded: dict[str, str] = field(default_factory=dict)
    """Each test's status in the grader's own run on the snapshot (`gate.GraderGate.shared_run`)."""
    reads: dict[str, str] = field(default_factory=dict)
    """The tests whose run on the snapshot read the tests' source, with the finding: left out (`own_reads`)."""
    audit_failed: bool = False
    """An audit found the grader gate's shortcut wrong here: every validator grades every task."""
    gated: int = 0
    """Tasks the grader gate has judged with its shortcut and audit, over the validators sharing this."""
    audited: int = 0
    """Of those, the tasks it audited (graded for real): `gate.audits_due` keeps them `audit` of all."""

    def keep(self, key: str, tests: list[str], result: JobResult) -> None:
        """Keep a clean gold job's result: a selection's own run, or (key UNION) its tests' reruns."""
        if key == UNION:  # its fresh reruns are guarded: they name the tests that read the tests' source
            self.reads.update(run_reads(result))
        if not _clean(result):
            return
        if key == UNION:
            self.reruns.update(dict.fromkeys(tests, result))
        else:
            self.own[key] = result

    def runs(self, tests: list[str], own: JobResult, union: JobResult | None, count: int) -> JobResult:
        """The clean runs of one selection: its own run, then `count` reruns where rerun i holds each
        test's result in rerun i of the union job that ran it (a kept one, else this batch's `union`);
        a test that a union lacks, or a rerun a union never reached, is missing there."""
        out = JobResult(own.id, runs=list(own.runs), error=own.error, duration_s=own.duration_s)
        if count < 1:
            return out
        unions: dict[int, JobResult] = {}
        for t in tests:
            ran = self.reruns.get(t) or union
            if ran is not None:
                unions[id(ran)] = ran
        wanted = set(tests)
        for ran in unions.values():
            out.error = out.error or ran.error
        for i in range(count):
            merged = TestRun()
            for ran in unions.values():
                if i >= len(ran.runs):
                    continue
                run = ran.runs[i]
                merged.statuses.update({t: s for t, s in run.statuses.items() if t in wanted})
                merged.missing += [t for t in run.missing if t in wanted]
                merged.timed_out = merged.timed_out or run.timed_out
                merged.error = merged.error or run.error
                merged.duration_s += run.duration_s
            merged.missing += [t for t in tests if t not in merged.statuses and t not in merged.missing]
            out.runs.append(merged)
        return out
