"""What the buggy snapshot's own run collects for each graded doctest, recorded where no empty-patch run
is at hand: an exported Harbor task's verifier.

    vouched = buggy_doctest_digests(task, env)    # {"dtpkg/__init__.py::dtpkg.clamp": "3f2a..."} or {}

The guard reports a graded doctest whose collected examples are not the snapshot's docstring's, with a
digest of them (`guard_plugin_machinery.doctest_changed`): a docstring rebound at import by the patch
(`clamp.__doc__ = ...`, `functools.update_wrapper`). A library that builds its docstrings at import
shows the same report on every run, the empty patch's too: the grader drops what that run shows alike,
but the verifier has no such run. So the export runs the buggy state here once, guarded as the
grader runs it, and ships the digests that run reported (`state.json`'s `doctest_digests`); the
verifier's guard lets examples with those digests stand (the gold's, which leaves docstrings alone)
and reports any other (a rebinding on top of them: `tampered`). A task with no graded doctest of a
module costs nothing: no run.
"""

from __future__ import annotations

import re
from pathlib import Path

from codekiln.core.errors import CodekilnError
from codekiln.grading.collateral import graded_pass_to_pass
from codekiln.grading.doctests import DOCTEST_CHANGED
from codekiln.grading.graded import GradedWorkspace
from codekiln.grading.guard import Isolation
from codekiln.grading.guarded_runs import run_guarded
from codekiln.grading.patchrules import GradePolicy
from codekiln.grading.subject import GradedTask, GradingEnv
from codekiln.sandbox import DEFAULT_BACKEND

_EVIDENCE = re.compile(
    rf"^a test was replaced: (?P<test>.+): {re.escape(DOCTEST_CHANGED)} \((?P<digest>[0-9a-f]+)\)$"
)


def digests(evidence: list[str]) -> dict[str, str]:
    """Test id -> digest of every guard report of a doctest's collected examples in `evidence`."""
    return {m["test"]: m["digest"] for e in evidence if (m := _EVIDENCE.match(e))}


def buggy_doctest_digests(
    task: GradedTask, env: GradingEnv, *, backend: str = DEFAULT_BACKEND, timeout: float | None = None
) -> dict[str, str]:
    """The digests of the examples the buggy snapshot's run collects, for each graded doctest whose
    examples are not its docstring's as the file spells it (see the module docstring); {} when the
    task grades no doctest of a module. Raises CodekilnError when that run fails."""
    tests = [*task.FAIL_TO_PASS, *graded_pass_to_pass(task, env)]
    if not Isolation.for_environment(Path(env.snapshot_path), Path(env.venv), tests).doctests:
        return {}
    sandbox = env.open_sandbox(backend)
    try:
        g = GradedWorkspace(sandbox, task, env)
        problem = g.prepare()
        if problem:
            raise CodekilnError(f"the buggy state of {task.instance_id} does not build: {problem}")
        g.restore(list(task.hidden_tests))
        run = run_guarded(g, tests, timeout, GradePolicy())
    finally:
        sandbox.close()
    if run.error or run.timed_out:
        raise CodekilnError(
            f"the buggy state's test run of {task.instance_id} failed: {run.error or 'timeout'}",
            hint="check the environment with `codekiln env test`, then export again",
        )
    other = [e for e in run.evidence if not _EVIDENCE.match(e)]
    if other:
        raise CodekilnError(f"the buggy state's test run of {task.instance_id} failed the guard: {other[:3]}")
    return digests(run.evidence)


__all__ = ["buggy_doctest_digests", "digests"]
