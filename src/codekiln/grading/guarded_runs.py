"""The grader's guarded test runs of a graded workspace (`grading.grader`): the patch's run, with canaries
planted, in the suite's own order, and the empty patch's run on the same sandbox.

    run = run_guarded(g, tests, timeout, policy)            # a TestRun: statuses, evidence, error
    run = run_guarded(g, tests, timeout, policy, twin)      # twin: the test files the run has instead
    clean_run_ok(g, tests, timeout, policy)                 # whether the harness works without the patch
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from codekiln.core.errors import CodekilnError
from codekiln.grading import twin_cases
from codekiln.grading.graded import GradedWorkspace, canary_module
from codekiln.grading.guard import Isolation, make_canaries
from codekiln.grading.patchrules import GradePolicy
from codekiln.grading.runner import TestRun, run_tests

Twin = dict[str, str] | None
"""Test files (repo-relative path -> text) written over the real ones for one run (`grading.twins`)."""


def run_guarded(
    g: GradedWorkspace,
    tests: list[str],
    timeout: float | None,
    policy: GradePolicy,
    twin: Twin = None,
    cases: Mapping[str, str] | None = None,
) -> TestRun:
    """`cases`: a twin's run's ids of the cases the twin renamed (`twin_cases`): asked for in place of
    the real ids, read back under them."""
    cases = cases or {}
    iso = Isolation.for_environment(g.snapshot, Path(g.env.venv), tests)
    if policy.twins:  # no test code a trusted run rewrote from the real files (`guard_rewrites`), in
        # either run: in a twin's its digests would tell the runs apart and its constants hold the real
        # answers, and given to one run alone its presence would tell them apart
        iso = replace(iso, venv="")
    canaries = None
    if policy.canaries and tests:
        module, existing = canary_module(g.task, g.snapshot, tests)
        existing = (twin or {}).get(module, existing)
        canaries = make_canaries(module, existing, iso.function_prefix)
        iso = replace(iso, trusted=tuple(sorted({*iso.trusted, module})))
    baseline = g.env.baseline
    run = run_tests(
        g.sb,
        g.env.test,
        tests=twin_cases.asked(tests, cases),
        timeout=timeout,
        isolation=iso,
        canaries=canaries,
        watch=twin_cases.asked(g.task.FAIL_TO_PASS, cases),
        baseline={cases.get(t, t): s for t, s in baseline.items()},
        order=twin_cases.asked(baseline, cases),  # the suite's own run order (`grading.suite_order`)
    )
    if cases:
        run.statuses = twin_cases.read_back(run.statuses, cases)
        run.messages = twin_cases.read_back(run.messages, cases)
        run.missing = list(twin_cases.read_back(dict.fromkeys(run.missing, ""), cases))
    return run


def clean_run(g: GradedWorkspace, tests: list[str], timeout: float | None, policy: GradePolicy) -> TestRun:
    """The empty patch's run on the same sandbox: whether the harness works, and the evidence a library
    gives on its own (a doctest whose docstring it builds at import differs from the snapshot's text)."""
    g.sb.reset()
    g.prepare()
    g.restore(list(g.task.hidden_tests))
    return run_guarded(g, tests, timeout, policy)


def clean_run_ok(g: GradedWorkspace, tests: list[str], timeout: float | None, policy: GradePolicy) -> bool:
    try:
        run = clean_run(g, tests, timeout, policy)
    except CodekilnError:
        return False
    return not run.error and not run.timed_out


__all__ = ["Twin", "clean_run", "clean_run_ok", "run_guarded"]
