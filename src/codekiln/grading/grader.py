"""The grader: does a patch resolve a task? The one function validation, rollouts and rewards all use.

    result = grade_patch(task, env, agent_patch)      # GradeResult: outcome, resolved, statuses
    result.outcome       # resolved | unresolved | patch_failed | rejected | tampered | timeout | error

A task's states, all built from the environment's snapshot (`task.base_commit`):
- buggy state = snapshot + `task.bug_patch`.
- agent workspace = buggy state with the `hidden_tests` files deleted and a fresh git history of that
  state alone, a tree made for the task that the sandbox opens on (`open_task_sandbox`,
  `grading.start`); `workspace_patch` reads back what an agent changed there. Patches reach git on
  stdin: nothing of them is left on the agent's disk.
- graded state = buggy state, hidden tests deleted, no git metadata, + the patch (`git apply`).

Grading, in a fresh workspace of the environment (a given sandbox is reset first):
1. What the patch changed is read from the workspace itself (`Sandbox.changed`), not from the patch
   text, and judged by `grading.patchrules`: binary content, symlinks, mode changes, git metadata and
   compiled artefacts reject the patch (`rejected`); test files (not a new library module named like
   one: `grading.libnames`) and everything Python or pytest load on their own are put back as in the
   snapshot (the hidden tests too); a new module that would hide
   an installed one rejects the patch. A static scan of the added code (`grading.scan`) rejects code
   reaching into the test machinery (`GradePolicy.scan`).
2. FAIL_TO_PASS + PASS_TO_PASS (with the other clean-passing tests of the files holding FAIL_TO_PASS,
   which a record made before synthesis added them lacks: `grading.collateral`) run through
   `grading.run_tests`, guarded (`grading.guard`: isolated
   start-up, plugins by name, the snapshot's config) with canary tests planted under fresh names,
   asked for in the order the environment's baseline ran them (`grading.suite_order`).
3. The verdict: a report that fails the guard's cross-checks is `tampered` (scored 0, never masked,
   with its evidence in `findings`); a timeout is `timeout`; a run that broke (no report, a usage
   error) is the patch's doing, `unresolved` with the reason, when the empty patch runs cleanly on the
   same sandbox, and `error` (the only masked outcome) only when the harness itself failed.
4. A `resolved` verdict is checked on the task's twin (`grading.twin_check`, `GradePolicy.twins`): its
   FAIL_TO_PASS tests' literals changed; passing one the gold fails there is `tampered` (`answers_read`).
   The twin's run and a real rerun follow in a drawn order: a mark that tells a run's place resolves
   under at most half the draws.

The gold patch (`task.patch`) must give "resolved" and the empty patch must not; validation checks
both. What no grader can prevent: code under test runs inside the test process and can rewrite
pytest's objects; the canaries, the guard's marker and the static scan make that detectable, not
impossible.
"""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from codekiln.core.diffs import make_diff
from codekiln.core.errors import CodekilnError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.core.records import Record
from codekiln.grading import doctests, libnames, pathrules, twin_cases
from codekiln.grading.classify import resolved
from codekiln.grading.collateral import graded_pass_to_pass
from codekiln.grading.graded import (
    GIT_APPLY,
    GradedWorkspace,
    graded_files,
    new_links,
    patch_paths,
    read_snapshot,
    restores_snapshot,
    setup_patch,
    snapshot_text,
)
from codekiln.grading.guarded_runs import Twin, clean_run, clean_run_ok, run_guarded
from codekiln.grading.limits import graded_limit
from codekiln.grading.manifests import scrubbed_manifests
from codekiln.grading.patchrules import (
    GradePolicy,
    installed_modules,
    is_protected,
    path_roots,
    reject_reason,
    shadowing,
)
from codekiln.grading.scan_reach import change_findings
from codekiln.grading.start import agent_start
from codekiln.grading.subject import GradedTask, GradingEnv
from codekiln.grading.support import SUPPORT, support_modules
from codekiln.grading.traces import restoring_times
from codekiln.grading.twin_check import answers_read
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.sandbox.tasktree import GIT_IDENTITY

Outcome = Literal["resolved", "unresolved", "patch_failed", "rejected", "tampered", "timeout", "error"]
FRESH_HISTORY = (
    "rm -rf .git && git init -q && git -c safe.directory='*' add -A && "
    "git -c safe.directory='*' -c commit.gpgsign=false commit -q --no-verify -m 'initial commit'"
)


class GradeResult(Record):
    """What grading one patch on one task gave."""

    instance_id: str
    outcome: Outcome
    resolved: bool = False
    statuses: dict[str, str] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    detail: str = ""
    reason: str = ""
    """A short name for why the outcome is what it is (binary_content, canary_forged, broke_test_run...)."""
    findings: list[dict[str, Any]] = Field(default_factory=list)
    """Evidence: rejected paths, scan findings, reverted files, the guard's cross-check failures."""
    duration_s: float = 0.0


def _git_apply(sandbox: Sandbox, patch: str) -> str | None:
    """Apply a patch in the workspace with `git apply`, fed on stdin; git's complaint, or None."""
    if not patch.strip():
        return None
    data = patch.encode("utf-8", errors="surrogateescape")
    res = sandbox.exec(GIT_APPLY, timeout=120, cwd=sandbox.workdir, input=data)
    return None if res.ok else tail(res.stderr or res.stdout, 10) or f"git apply exit code {res.exit_code}"


def prepare_workspace(sandbox: Sandbox, task: GradedTask, snapshot_dir: Path) -> None:
    """Turn a clean workspace of the task's environment into the agent's starting state (manifests
    that list the hidden test files lose those lines: `grading.manifests`), by writing it in from
    inside: for a sandbox that was opened on the snapshot. Every write leaves a trace that an agent can
    read (`grading.traces`); `open_task_sandbox` opens on a tree made for the task instead."""
    problem = _git_apply(sandbox, task.bug_patch)
    if problem:
        raise CodekilnError(
            f"the bug patch of {task.instance_id} does not apply: {problem}",
            hint="rebuild the task's environment",
        )
    if task.hidden_tests:
        sandbox.exec(["rm", "-f", "--", *task.hidden_tests], timeout=60, cwd=sandbox.workdir)
    scrubbed = scrubbed_manifests(snapshot_dir, task.hidden_tests)
    for rel, text in scrubbed.items():
        sandbox.write_file(rel, text)
    # The snapshot's git history holds the clean code and the hidden tests (`git diff`, `git stash`
    # or `git checkout -- .` would hand an agent the fix): start a history of the buggy state alone,
    # and let no time say which files the setup touched, not even in that history's index.
    touched = [*patch_paths(task.bug_patch), *task.hidden_tests, *scrubbed]
    res = sandbox.exec(
        restoring_times(snapshot_dir, touched, FRESH_HISTORY),
        timeout=300,
        cwd=sandbox.workdir,
        env=GIT_IDENTITY,
    )
    if not res.ok:
        raise CodekilnError(
            f"could not reset the git history and file times of {task.instance_id}'s workspace: "
            f"{tail(res.output, 10)}",
            hint="check that git and the environment's python work inside the sandbox (codekiln env test)",
        )


def open_task_sandbox(task: GradedTask, env: GradingEnv, backend: str = DEFAULT_BACKEND) -> Sandbox:
    """A sandbox of `env` holding the task's agent workspace (see the module docstring): opened on a
    tree made for the task (`grading.start`, cached), which its `reset` goes back to."""
    return env.open_sandbox(backend, start=agent_start(task, Path(env.snapshot_path)))


def workspace_patch(task: GradedTask, sandbox: Sandbox, snapshot_dir: Path) -> str:
    """What was changed in an agent workspace since `prepare_workspace`, as a patch `grade_patch` takes."""
    start = dict(graded_files(task, "", snapshot_dir))
    for rel in task.hidden_tests:
        start[rel] = None
    start.update(scrubbed_manifests(snapshot_dir, task.hidden_tests))
    # Paths that differ from the snapshot, plus the ones the setup changed (an agent may restore them).
    diff = sandbox.diff()
    links = new_links(diff)
    changed = patch_paths(diff) | set(start)
    out = []
    for rel in sorted(changed):
        before = start[rel] if rel in start else snapshot_text(snapshot_dir, rel)
        if rel in links:  # stays a link, which the grader rejects (it was read through, inside the sandbox)
            out.append(make_diff(rel, before, None) + make_diff(rel, None, links[rel], mode="120000"))
            continue
        try:
            after: str | None = sandbox.read_file(rel, follow=False).decode("utf-8", "surrogateescape")
        except (CodekilnError, OSError, ValueError):
            after = None
        out.append(make_diff(rel, before, after))
    return "".join(out)


def _scan(changes: dict[str, tuple[str | None, str | None]], *reach: Any) -> list[dict[str, Any]]:
    """Findings of the static scan (`grading.scan`) over the code the patch added, and `test-import`
    ones (`grading.scan_reach`, `reach`: its roots, exists, theirs, read, own and is_test): the tests'
    own modules imported."""
    return change_findings(changes, *reach[:3], is_test=reach[5], read=reach[3], own=reach[4])


def _check(
    g: GradedWorkspace, patch: str, policy: GradePolicy, result: GradeResult, tests: list[str]
) -> bool:
    """Judge what the patch changed (module docstring, step 1). False: the patch is rejected."""
    touched, fixed = g.touched(), patch_paths(g.task.bug_patch)
    new = [rel for rel, kind in touched.items() if kind != "deleted" and not (g.snapshot / rel).exists()]
    roots = path_roots(Path(g.env.venv), g.snapshot, g.task.tests, g.sb.workdir)
    kept = g.kept_modules(new, roots, tests)
    is_test = libnames.protection(kept)  # `is_protected`, less new library modules named like tests
    for rel, kind in sorted(touched.items()):
        data = g._bytes(rel) if kind == "file" else None
        executable = kind == "file" and g.executable(rel)
        back = pathrules.put_back(rel, fixed) and rel not in kept
        problem = reject_reason(rel, kind, data, executable, g.snapshot, policy, back)
        if problem:
            result.outcome, result.reason, result.detail = "rejected", "patch_rule", problem
            result.findings.append({"kind": "patch_rule", "path": rel, "detail": problem})
            return False
    shadows: dict[str, str] = {}
    if new:
        shadows = shadowing(new, roots, installed_modules(Path(g.env.venv)), g.snapshot)
    problem, texts = doctests.judge(tests, touched, g.snapshot_bytes, g._bytes)
    if problem:
        result.outcome, result.reason, result.detail = "rejected", "patch_rule", problem
        result.findings.append({"kind": "patch_rule", "path": problem.split(":", 1)[0], "detail": problem})
        return False
    areas = pathrules.code_areas(fixed, roots)
    as_data = {rel: pathrules.DATA for rel in texts} | dict.fromkeys(shadows, pathrules.SHADOWS)
    exists = g.snapshot_has
    for rel, kind in touched.items():
        why = pathrules.is_data(rel, fixed, areas, exists(rel))
        if why and not is_test(rel) and not pathrules.new_folder(rel, kind, exists):
            as_data[rel] = why
    test_files = {t.split("::", 1)[0] for t in tests} | set(g.task.hidden_tests)
    support = support_modules(g.snapshot, test_files, fixed)
    as_support = set(touched) & support
    protected = sorted({*(rel for rel in touched if is_test(rel)), *as_data, *as_support})
    hidden = pathrules.hidden_modules(touched, exists, protected)
    as_data |= dict.fromkeys(hidden, pathrules.SHADOWS)
    protected = sorted({*protected, *hidden})
    hides = shadows | hidden
    result.findings.extend({"kind": "shadows_module", "path": p, "detail": hides[p]} for p in sorted(hides))
    result.findings.extend({"kind": "kept", "path": p, "detail": libnames.KEPT} for p in sorted(kept))
    result.findings.extend(
        {"kind": "reverted", "path": rel, "detail": _reverted_why(rel, as_data, as_support)}
        for rel in protected
    )
    g.restore(sorted(set(protected) | set(g.task.hidden_tests)))
    if policy.scan == "off":
        return True
    changes: dict[str, tuple[str | None, str | None]] = {
        rel: (
            g.before.get(rel, read_snapshot(g.snapshot, rel)),
            (g._bytes(rel) or b"").decode("utf-8", "surrogateescape"),  # read as Python reads it by the scan
        )
        for rel, kind in touched.items()
        if rel.endswith(".py") and kind == "file" and rel not in protected
    }
    own = pathrules.library_judge(Path(g.env.venv), g.sb.workdir, g.holds_tests, g.task.hidden_tests)
    findings = _scan(
        changes, roots, exists, lambda rel: is_test(rel) or rel in support, g._bytes, own, is_test
    )
    result.findings.extend(findings)
    if findings and policy.scan == "enforce":
        first = findings[0]
        result.outcome, result.reason = "rejected", "scan"
        result.detail = f"the patch reaches into the test machinery: {first.get('path')}:{first.get('line')} {first.get('detail')}"
        return False
    return True


def _reverted_why(rel: str, as_data: dict[str, str], as_support: set[str]) -> str:
    if rel in as_data:
        return as_data[rel]
    return SUPPORT if rel in as_support else "protected path"


def grade_patch(
    task: GradedTask,
    env: GradingEnv,
    patch: str,
    *,
    backend: str = DEFAULT_BACKEND,
    sandbox: Sandbox | None = None,
    timeout: float | None = None,
    policy: GradePolicy | None = None,
    twin: Twin = None,
    cases: dict[str, str] | None = None,
) -> GradeResult:
    """Grade `patch` (a diff against the agent's workspace) on `task`; see the module docstring. `twin`:
    test files written over the real ones for this run (`grading.twin_check`, which calls it so; `{}`:
    none, and no twin check of its own). `cases`: the twin's ids of the cases it renames, asked for in
    place of the real ones (`grading.twin_cases`); an empty dict is filled from a collection of the twin's
    files in a sandbox of its own (the gold's twin run)."""
    start = time.monotonic()
    policy = policy or GradePolicy()
    timeout = timeout or graded_limit(env)  # the environment's measured test time, with headroom
    result = GradeResult(instance_id=task.instance_id, outcome="error")
    pass_to_pass = graded_pass_to_pass(task, env)  # the record's, and the hidden files' other tests
    tests = [*task.FAIL_TO_PASS, *pass_to_pass]
    sb: Sandbox | None = sandbox
    try:
        sb = env.open_sandbox(backend) if sandbox is None else sandbox
        if sandbox is not None:
            sb.reset()
        g = GradedWorkspace(sb, task, env)
        modes: list[str] = []
        problem = g.prepare(patch, modes)
        if problem:
            result.outcome, result.reason, result.detail = "patch_failed", "does_not_apply", problem
            return result
        if "160000" in modes:
            result.outcome, result.reason = "rejected", "patch_rule"
            result.detail = "the patch adds a submodule (git's summary names mode 160000)"
            return result
        try:
            checked = _check(g, patch, policy, result, tests)
        except (OSError, CodekilnError) as err:  # the patch left a tree the grader cannot put right
            if not clean_run_ok(g, tests, timeout, policy):
                raise
            result.outcome, result.reason = "rejected", "breaks_grading"
            result.detail = f"the patch leaves the workspace in a state the grader cannot restore: {err}"
            return result
        if not checked:
            return result
        if twin and cases is not None and not cases:
            cases.update(twin_cases.learn_apart(task, env, backend, patch, twin, tests))
        for rel, text in (twin or {}).items():
            sb.write_file(rel, text)
        run = run_guarded(g, tests, timeout, policy, twin, cases)
        if any(doctests.DOCTEST_CHANGED in e for e in run.evidence):  # the library's own doing too?
            empty = set(clean_run(g, tests, timeout, policy).evidence)
            run.evidence = [e for e in run.evidence if e not in empty]
        result.statuses, result.missing = run.statuses, run.missing
        if run.timed_out:
            result.outcome, result.reason, result.detail = "timeout", "timeout", run.error or "timeout"
        elif run.evidence:
            result.outcome, result.reason = "tampered", "report_forged"
            more = f" (and {len(run.evidence) - 3} more)" if len(run.evidence) > 3 else ""
            shown = "; ".join(run.evidence[:3])
            result.detail = f"the test run's report failed the grader's cross-checks: {shown}{more}"
            result.findings.extend({"kind": "tampered", "detail": e} for e in run.evidence)
            result.statuses = {}
        elif run.error and not run.collection_errors:
            if patch.strip() and clean_run_ok(g, tests, timeout, policy):
                result.outcome, result.reason = "unresolved", "broke_test_run"
                result.detail = f"the patch broke the test run (the empty patch runs cleanly): {run.error}\n{run.log_tail}"
            else:
                result.outcome, result.reason, result.detail = (
                    "error",
                    "harness",
                    f"{run.error}\n{run.log_tail}",
                )
        else:
            # Collection errors come from the code under test (pytest may call them a usage error):
            # the tests that could not be collected are missing, hence failed.
            result.resolved = resolved(run.statuses, task.FAIL_TO_PASS, pass_to_pass)
            result.outcome = "resolved" if result.resolved else "unresolved"
            if run.collection_errors:
                result.reason = "collection_error"
                result.detail = "collection errors: " + "; ".join(sorted(run.collection_errors))[:1000]
            if result.resolved and policy.twins and twin is None:
                # a sandbox of its own: a reset keeps what outlives a workspace (its network namespace:
                # a port left in TIME_WAIT told the twin's run apart, twenty-third red team)
                again = partial(grade_patch, task, env, backend=backend, timeout=timeout, policy=policy)
                answers_read(task, g.snapshot, result, patch, again, policy.twin_order)
        return result
    except (CodekilnError, OSError) as err:
        result.outcome, result.reason, result.detail = "error", "harness", str(err)
        return result
    finally:
        result.duration_s = time.monotonic() - start
        if sandbox is None and sb is not None:
            sb.close()


__all__ = [
    "GradePolicy",
    "GradeResult",
    "grade_patch",
    "graded_files",
    "is_protected",
    "open_task_sandbox",
    "prepare_workspace",
    "restores_snapshot",
    "setup_patch",
    "workspace_patch",
]
