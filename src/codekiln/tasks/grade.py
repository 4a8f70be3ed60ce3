"""The grader: does a patch resolve a task? The one function validation, rollouts and rewards all use.

    result = grade_patch(task, env, agent_patch)      # GradeResult: outcome, resolved, statuses
    result.outcome       # resolved | unresolved | patch_failed | rejected | tampered | timeout | error

A task's states, all built from the environment's snapshot (`task.base_commit`):
- buggy state = snapshot + `task.bug_patch`.
- agent workspace = buggy state with the `hidden_tests` files deleted and a fresh git history of that
  state alone (`prepare_workspace`, `open_task_sandbox`); `workspace_patch` reads back what an agent
  changed there. Patches reach git on stdin: nothing of them is left on the agent's disk.
- graded state = buggy state, hidden tests deleted, no git metadata, + the patch (`git apply`).

Grading, in a fresh workspace of the environment (a given sandbox is reset first):
1. What the patch changed is read from the workspace itself (`Sandbox.changed`), not from the patch
   text, and judged by `tasks.patchrules`: binary content, symlinks, mode changes, git metadata and
   compiled artefacts reject the patch (`rejected`); test files and everything Python or pytest load
   on their own are put back as in the snapshot (the hidden tests too); a new module that would hide
   an installed one rejects the patch. A static scan of the added code (`grading.scan`) rejects code
   reaching into the test machinery (`GradePolicy.scan`).
2. FAIL_TO_PASS + PASS_TO_PASS run through `grading.run_tests`, guarded (`grading.guard`: isolated
   start-up, plugins by name, the snapshot's config) with canary tests planted under fresh names.
3. The verdict: a report that fails the guard's cross-checks is `tampered` (scored 0, never masked,
   with its evidence in `findings`); a timeout is `timeout`; a run that broke (no report, a usage
   error) is the patch's doing, `unresolved` with the reason, when the empty patch runs cleanly on the
   same sandbox, and `error` (the only masked outcome) only when the harness itself failed.

The gold patch (`task.patch`) must give "resolved" and the empty patch must not; validation checks
both. What no grader can prevent: code under test runs inside the test process and can rewrite
pytest's objects; the canaries, the guard's marker and the static scan make that detectable, not
impossible.
"""

from __future__ import annotations

import re
import secrets
import shlex
import time
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any, Literal

from pydantic import Field

from codekiln.core.errors import CodekilnError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.core.records import Record
from codekiln.envs import EnvRecord, env_sandbox
from codekiln.grading import TestRun, resolved, run_tests
from codekiln.grading.guard import Isolation, make_canaries
from codekiln.grading.scan import scan_changes
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.diffs import make_diff, parse_diff
from codekiln.tasks.patches import apply_diff
from codekiln.tasks.patchrules import (
    GradePolicy,
    installed_modules,
    is_protected,
    path_roots,
    reject_reason,
    shadowing,
)
from codekiln.tasks.records import TaskRecord, whole_file_diff

Outcome = Literal["resolved", "unresolved", "patch_failed", "rejected", "tampered", "timeout", "error"]
FRESH_HISTORY = (
    "rm -rf .git && git init -q && git -c safe.directory='*' add -A && "
    "git -c safe.directory='*' -c commit.gpgsign=false commit -q --no-verify -m 'initial commit'"
)
GIT_IDENTITY = {
    **{f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
       for what, value in (("NAME", "codekiln"), ("EMAIL", "codekiln@localhost"),
                           ("DATE", "2000-01-01T00:00:00Z"))},
    "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "HOME": "/tmp",
}  # fmt: skip
GIT_APPLY = ["git", "-c", "safe.directory=*", "apply", "--whitespace=nowarn", "-"]


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


def _read(snapshot_dir: Path, rel: str) -> str | None:
    path = Path(snapshot_dir) / rel
    return path.read_text(encoding="utf-8") if path.is_file() else None


def setup_patch(task: TaskRecord, snapshot_dir: Path) -> str:
    """The environment setup patch: the snapshot -> the agent's workspace (bug in, hidden tests out)."""
    deletions = "".join(
        whole_file_diff(Path(snapshot_dir) / rel, rel, create=False)
        if (Path(snapshot_dir) / rel).is_file()
        else make_diff(rel, None, None)
        for rel in task.hidden_tests
    )
    return task.bug_patch + deletions


def _patch_paths(patch: str) -> set[str]:
    return {p for fp in parse_diff(patch) for p in (fp.old_path, fp.new_path) if p}


def graded_files(task: TaskRecord, patch: str, snapshot_dir: Path) -> dict[str, str | None]:
    """The graded state of every file the setup or `patch` touches (None: absent), computed in memory
    with a strict apply. For patches codekiln made itself (gold, bug); the grader reads what an
    agent's patch changed from the workspace. Raises TaskError when a patch does not apply."""
    paths = _patch_paths(task.bug_patch) | _patch_paths(patch) | set(task.hidden_tests)
    files: dict[str, str | None] = {rel: _read(snapshot_dir, rel) for rel in sorted(paths)}
    files.update(apply_diff({k: v for k, v in files.items() if v is not None}, task.bug_patch))
    files.update(dict.fromkeys(task.hidden_tests))  # the setup patch's deletions, made from the snapshot
    files.update(apply_diff({k: v for k, v in files.items() if v is not None}, patch))
    for rel in paths:
        if is_protected(rel) or rel in task.hidden_tests:
            files[rel] = _read(snapshot_dir, rel)
    return files


def restores_snapshot(task: TaskRecord, patch: str, snapshot_dir: Path) -> bool:
    """True when grading `patch` leaves exactly the snapshot's files (what the gold patch must do)."""
    return all(
        text == _read(snapshot_dir, rel) for rel, text in graded_files(task, patch, snapshot_dir).items()
    )


def _git_apply(sandbox: Sandbox, patch: str) -> str | None:
    """Apply a patch in the workspace with `git apply`, fed on stdin; git's complaint, or None."""
    if not patch.strip():
        return None
    data = patch.encode("utf-8", errors="surrogateescape")
    res = sandbox.exec(GIT_APPLY, timeout=120, cwd=sandbox.workdir, input=data)
    return None if res.ok else tail(res.stderr or res.stdout, 10) or f"git apply exit code {res.exit_code}"


_MODE = re.compile(r"\bmode (?:\d{6} => )?(\d{6})\b")


def prepare_workspace(sandbox: Sandbox, task: TaskRecord) -> None:
    """Turn a clean workspace of the task's environment into the agent's starting state."""
    problem = _git_apply(sandbox, task.bug_patch)
    if problem:
        raise CodekilnError(
            f"the bug patch of {task.instance_id} does not apply: {problem}",
            hint="rebuild the task's environment",
        )
    if task.hidden_tests:
        sandbox.exec(["rm", "-f", "--", *task.hidden_tests], timeout=60, cwd=sandbox.workdir)
    # The snapshot's git history holds the clean code and the hidden tests (`git diff`, `git stash`
    # or `git checkout -- .` would hand an agent the fix): start a history of the buggy state alone.
    res = sandbox.exec(["sh", "-c", FRESH_HISTORY], timeout=300, cwd=sandbox.workdir, env=GIT_IDENTITY)
    if not res.ok:
        raise CodekilnError(
            f"could not reset the git history of {task.instance_id}'s workspace: {tail(res.output, 10)}",
            hint="check that git works inside the sandbox (codekiln env test)",
        )


def open_task_sandbox(task: TaskRecord, env: EnvRecord, backend: str = DEFAULT_BACKEND) -> Sandbox:
    """A sandbox of `env` holding the task's agent workspace (see the module docstring)."""
    sandbox = env_sandbox(env, backend)
    try:
        prepare_workspace(sandbox, task)
    except BaseException:
        sandbox.close()
        raise
    return sandbox


def workspace_patch(task: TaskRecord, sandbox: Sandbox, snapshot_dir: Path) -> str:
    """What was changed in an agent workspace since `prepare_workspace`, as a patch `grade_patch` takes."""
    start = dict(graded_files(task, "", snapshot_dir))
    for rel in task.hidden_tests:
        start[rel] = None
    # Paths that differ from the snapshot, plus the ones the setup changed (an agent may restore them).
    changed = _patch_paths(sandbox.diff()) | set(start)
    out = []
    for rel in sorted(changed):
        before = start[rel] if rel in start else _read(snapshot_dir, rel)
        try:
            after: str | None = sandbox.read_file(rel).decode("utf-8")
        except (CodekilnError, OSError, ValueError):
            after = None
        out.append(make_diff(rel, before, after))
    return "".join(out)


class _Graded:
    """The graded workspace of one grade: its state before the patch, and the patch's real changes."""

    def __init__(self, sandbox: Sandbox, task: TaskRecord, env: EnvRecord) -> None:
        self.sb, self.task, self.env = sandbox, task, env
        self.snapshot = Path(env.snapshot_path)
        buggy = apply_diff(
            {
                rel: text
                for rel in _patch_paths(task.bug_patch)
                if (text := _read(self.snapshot, rel)) is not None
            },
            task.bug_patch,
        )
        self.before: dict[str, str | None] = {**buggy, **dict.fromkeys(task.hidden_tests)}

    def prepare(self, patch: str = "", modes: list[str] | None = None) -> str | None:
        """Bug in, hidden tests and git metadata out (nothing of the fix stays in the tree), then `patch`
        applied by git fed on stdin, in one sandbox command. Returns git's complaint, or None; `modes`
        collects the file modes git's own summary names (160000: a submodule)."""
        gone = [rel for rel, text in self.before.items() if text is None]
        for rel, text in self.before.items():
            if text is not None:
                self.sb.write_file(rel, text)
        self.baseline = {
            ".git": "deleted",
            **{r: "deleted" if t is None else "file" for r, t in self.before.items()},
        }
        script = 'rm -rf -- .git "$@"'
        data = patch.encode("utf-8", errors="surrogateescape") if patch.strip() else None
        if data is not None:
            script += " && exec " + " ".join(
                shlex.quote(a) for a in [*GIT_APPLY[:-1], "--summary", "--apply", "-"]
            )
        res = self.sb.exec(["sh", "-c", script, "sh", *gone], timeout=120, cwd=self.sb.workdir, input=data)
        if data is None:
            if not res.ok:
                raise CodekilnError(f"could not prepare the graded workspace: {tail(res.output, 10)}")
            return None
        if modes is not None:
            modes.extend(_MODE.findall(res.stdout))
        return (
            None if res.ok else tail(res.stderr or res.stdout, 10) or f"git apply exit code {res.exit_code}"
        )

    def _changes(self) -> dict[str, str]:
        changed = getattr(self.sb, "changed", None)
        if changed is None:
            raise CodekilnError(
                "this sandbox backend cannot list what a patch changed",
                hint="grade with a bwrap, podman or local sandbox",
            )
        return dict(changed())

    def _bytes(self, rel: str) -> bytes | None:
        try:
            return self.sb.read_file(rel)
        except (CodekilnError, OSError, ValueError):
            return None

    def touched(self) -> dict[str, str]:
        """Paths the patch really changed, with their kind (file, symlink, dir, other, deleted)."""
        out = {}
        for rel, kind in self._changes().items():
            if kind == "deleted" and (rel == ".git" or rel.startswith(".git/")):
                continue  # the grader's own removal
            if rel in self.baseline and self.baseline[rel] == kind:
                want = self.before.get(rel)
                if kind == "deleted" or (
                    kind == "file" and want is not None and self._bytes(rel) == want.encode()
                ):
                    continue
            out[rel] = kind
        return out

    def executable(self, rel: str) -> bool:
        tree = getattr(getattr(self.sb, "ws", None), "path", None)
        if tree is not None:  # a host backend: look at the workspace directly
            return bool((Path(tree) / rel).lstat().st_mode & 0o111)
        return self.sb.exec(["test", "-x", rel], timeout=30, cwd=self.sb.workdir).ok

    def _in_the_way(self, above: list[str], paths: list[str]) -> bool:
        """Whether a restore must remove something first: one of `paths` exists, or a file or link
        stands where one of their folders (`above`) belongs. Always, when the tree cannot be seen."""
        tree = getattr(getattr(self.sb, "ws", None), "path", None)
        if tree is None:
            return bool(paths)
        root = Path(tree)

        def there(rel: str) -> bool:
            return (root / rel).is_symlink() or (root / rel).exists()

        return any(there(rel) for rel in paths) or any(
            there(a) and ((root / a).is_symlink() or not (root / a).is_dir()) for a in above
        )

    def restore(self, paths: list[str]) -> None:
        """Put `paths` back as they are in the snapshot (absent there: deleted); a file or link that
        took the place of one of their folders goes first."""
        above = sorted({str(p) for rel in paths for p in PurePosixPath(rel).parents if str(p) != "."})
        if self._in_the_way(above, paths):
            clear = (
                'n=$1; shift; i=0; for a in "$@"; do i=$((i+1)); if [ $i -le $n ]; then '
                'if [ -L "$a" ] || { [ -e "$a" ] && [ ! -d "$a" ]; }; then rm -f -- "$a"; fi; '
                'else rm -rf -- "$a"; fi; done'
            )
            argv = ["sh", "-c", clear, "sh", str(len(above)), *above, *paths]
            self.sb.exec(argv, timeout=120, cwd=self.sb.workdir)
        for rel in paths:
            original = self.snapshot / rel
            if original.is_dir() and not original.is_symlink():
                for child in sorted(original.rglob("*")):
                    if child.is_file() and not child.is_symlink():
                        self.sb.write_file(str(child.relative_to(self.snapshot)), child.read_bytes())
            elif original.is_file() and not original.is_symlink():
                self.sb.write_file(rel, original.read_bytes())


def _scan(changes: dict[str, tuple[str | None, str | None]]) -> list[dict[str, Any]]:
    """Findings of the static scan (`grading.scan`) over the code the patch added."""
    return [f.as_dict() for f in scan_changes(changes, is_test=is_protected)]


def _check(g: _Graded, patch: str, policy: GradePolicy, result: GradeResult) -> bool:
    """Judge what the patch changed (module docstring, step 1). False: the patch is rejected."""
    touched = g.touched()
    for rel, kind in sorted(touched.items()):
        data = g._bytes(rel) if kind == "file" else None
        problem = reject_reason(rel, kind, data, kind == "file" and g.executable(rel), g.snapshot, policy)
        if problem:
            result.outcome, result.reason, result.detail = "rejected", "patch_rule", problem
            result.findings.append({"kind": "patch_rule", "path": rel, "detail": problem})
            return False
    new = [rel for rel, kind in touched.items() if kind != "deleted" and not (g.snapshot / rel).exists()]
    shadows: dict[str, str] = {}
    if new:
        roots = path_roots(Path(g.env.venv), g.snapshot, g.task.tests, g.sb.workdir)
        shadows = shadowing(new, roots, installed_modules(Path(g.env.venv)), g.snapshot)
    if shadows:
        rel, name = sorted(shadows.items())[0]
        result.outcome, result.reason = "rejected", "shadows_module"
        result.detail = (
            f"{rel}: a new module on the test process's sys.path that hides the installed {name!r}"
        )
        result.findings.extend({"kind": "shadows_module", "path": p, "detail": n} for p, n in shadows.items())
        return False
    protected = sorted(rel for rel in touched if is_protected(rel))
    result.findings.extend({"kind": "reverted", "path": rel, "detail": "protected path"} for rel in protected)
    g.restore(sorted(set(protected) | set(g.task.hidden_tests)))
    if policy.scan == "off":
        return True
    changes: dict[str, tuple[str | None, str | None]] = {
        rel: (g.before.get(rel, _read(g.snapshot, rel)), (g._bytes(rel) or b"").decode("utf-8", "replace"))
        for rel, kind in touched.items()
        if rel.endswith(".py") and kind == "file" and rel not in protected
    }
    findings = _scan(changes)
    result.findings.extend(findings)
    if findings and policy.scan == "enforce":
        first = findings[0]
        result.outcome, result.reason = "rejected", "scan"
        result.detail = f"the patch reaches into the test machinery: {first.get('path')}:{first.get('line')} {first.get('detail')}"
        return False
    return True


def canary_module(task: TaskRecord, snapshot_dir: Path) -> tuple[str, str]:
    """Where a grade plants its canaries, and that file's source now: the first graded test module
    (a file of the suite, so the canaries look like its own tests), else a new module beside the
    first test (a suite of doctests or data-driven tests only)."""
    for test in task.tests:
        rel = test.split("::", 1)[0]
        if "::" in test and rel.endswith(".py") and is_protected(rel):
            text = _read(snapshot_dir, rel)
            if text is not None:
                return rel, text
    folder = PurePosixPath(task.tests[0].split("::", 1)[0]).parent
    return str(folder / f"test_{secrets.token_hex(4)}.py").removeprefix("./"), ""


def _run(g: _Graded, timeout: float | None, policy: GradePolicy) -> TestRun:
    tests = g.task.tests
    iso = Isolation.for_environment(g.snapshot, Path(g.env.venv), tests)
    canaries = None
    if policy.canaries and tests:
        module, existing = canary_module(g.task, g.snapshot)
        canaries = make_canaries(module, existing, iso.function_prefix)
        iso = replace(iso, trusted=tuple(sorted({*iso.trusted, module})))
    return run_tests(
        g.sb,
        g.env.test,
        tests=tests,
        timeout=timeout,
        isolation=iso,
        canaries=canaries,
        watch=g.task.FAIL_TO_PASS,
    )


def _clean_run_ok(g: _Graded, timeout: float | None, policy: GradePolicy) -> bool:
    """Whether the empty patch runs cleanly on the same sandbox (the harness works)."""
    try:
        g.sb.reset()
        g.prepare()
        g.restore(list(g.task.hidden_tests))
        run = _run(g, timeout, policy)
    except CodekilnError:
        return False
    return not run.error and not run.timed_out


def grade_patch(
    task: TaskRecord,
    env: EnvRecord,
    patch: str,
    *,
    backend: str = DEFAULT_BACKEND,
    sandbox: Sandbox | None = None,
    timeout: float | None = None,
    policy: GradePolicy | None = None,
) -> GradeResult:
    """Grade `patch` (a diff against the agent's workspace) on `task`; see the module docstring."""
    start = time.monotonic()
    policy = policy or GradePolicy()
    result = GradeResult(instance_id=task.instance_id, outcome="error")
    sb: Sandbox | None = sandbox
    try:
        sb = env_sandbox(env, backend) if sandbox is None else sandbox
        if sandbox is not None:
            sb.reset()
        g = _Graded(sb, task, env)
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
            checked = _check(g, patch, policy, result)
        except (OSError, CodekilnError) as err:  # the patch left a tree the grader cannot put right
            if not _clean_run_ok(g, timeout, policy):
                raise
            result.outcome, result.reason = "rejected", "breaks_grading"
            result.detail = f"the patch leaves the workspace in a state the grader cannot restore: {err}"
            return result
        if not checked:
            return result
        run = _run(g, timeout, policy)
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
            if patch.strip() and _clean_run_ok(g, timeout, policy):
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
            result.resolved = resolved(run.statuses, task.FAIL_TO_PASS, task.PASS_TO_PASS)
            result.outcome = "resolved" if result.resolved else "unresolved"
            if run.collection_errors:
                result.reason = "collection_error"
                result.detail = "collection errors: " + "; ".join(sorted(run.collection_errors))[:1000]
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
