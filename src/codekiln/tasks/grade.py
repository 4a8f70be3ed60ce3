"""The grader: does a patch resolve a task? The one function validation, rollouts and rewards all use.

    result = grade_patch(task, env, agent_patch)      # GradeResult: outcome, resolved, statuses
    result.outcome       # "resolved" | "unresolved" | "patch_failed" | "timeout" | "error"

A task's states, all built from the environment's snapshot (`task.base_commit`):
- buggy state = snapshot + `task.bug_patch`.
- agent workspace = buggy state with the `hidden_tests` files deleted. Its "environment setup patch"
  (`setup_patch(task, snapshot_dir)`) is the bug patch plus those deletions; `open_task_sandbox`
  gives a sandbox in that state, and `workspace_patch` reads back what an agent changed there.
- graded state = agent workspace + the patch being graded, then every test file and pytest config
  file the patch touched is put back as it is in the snapshot (a new one is deleted) and the hidden
  tests are restored (what `task.test_patch` does), so a patch cannot edit, add or remove tests.

Grading: a fresh workspace of the environment (a given sandbox is reset first), the setup patch and
the patch applied with `git apply`, the restore above, then FAIL_TO_PASS + PASS_TO_PASS run through
`grading.run_tests` and judged by `grading.resolved`. A patch that does not apply, a timeout and an
infrastructure failure are distinct outcomes, never "unresolved". The gold patch (`task.patch`) must
give "resolved" and the empty patch must not; validation checks both.
"""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath
from typing import Literal

from pydantic import Field

from codekiln.core.errors import CodekilnError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.core.records import Record
from codekiln.envs import EnvRecord, env_sandbox
from codekiln.grading import resolved, run_tests
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.diffs import make_diff, parse_diff
from codekiln.tasks.patches import apply_diff
from codekiln.tasks.records import TaskRecord, whole_file_diff

Outcome = Literal["resolved", "unresolved", "patch_failed", "timeout", "error"]
PATCH_PATH = "/tmp/codekiln/patch.diff"
CONFIG_FILES = frozenset({"pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml", "conftest.py"})
TEST_DIRS = frozenset({"tests", "test", "testing"})
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


class GradeResult(Record):
    """What grading one patch on one task gave."""

    instance_id: str
    outcome: Outcome
    resolved: bool = False
    statuses: dict[str, str] = Field(default_factory=dict)
    missing: list[str] = Field(default_factory=list)
    detail: str = ""
    duration_s: float = 0.0


def is_protected(rel: str) -> bool:
    """Test files and pytest configuration: what a graded patch may not change."""
    path = PurePosixPath(rel)
    name = path.name
    if name in CONFIG_FILES or any(part in TEST_DIRS for part in path.parts[:-1]):
        return True
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))


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
    with a strict apply. Raises TaskError when a patch does not apply."""
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
    """Apply a patch in the workspace with `git apply`; returns git's complaint, or None on success."""
    if not patch.strip():
        return None
    sandbox.write_file(PATCH_PATH, patch)
    argv = ["git", "-c", "safe.directory=*", "apply", "--whitespace=nowarn", PATCH_PATH]
    res = sandbox.exec(argv, timeout=120, cwd=sandbox.workdir)
    return None if res.ok else tail(res.stderr or res.stdout, 10) or f"git apply exit code {res.exit_code}"


def prepare_workspace(sandbox: Sandbox, task: TaskRecord) -> None:
    """Turn a clean workspace of the task's environment into the agent's starting state."""
    sandbox.exec(["mkdir", "-p", "/tmp/codekiln"], timeout=30)
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
            hint="check that git works inside the sandbox (codekiln sandbox)",
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


def grade_patch(
    task: TaskRecord,
    env: EnvRecord,
    patch: str,
    *,
    backend: str = DEFAULT_BACKEND,
    sandbox: Sandbox | None = None,
    timeout: float | None = None,
) -> GradeResult:
    """Grade `patch` (a diff against the agent's workspace) on `task`; see the module docstring."""
    start = time.monotonic()
    own = sandbox is None
    sb = env_sandbox(env, backend) if sandbox is None else sandbox
    result = GradeResult(instance_id=task.instance_id, outcome="error")
    try:
        if not own:
            sb.reset()
        prepare_workspace(sb, task)
        problem = _git_apply(sb, patch)
        if problem:
            result.outcome, result.detail = "patch_failed", problem
            return result
        snapshot_dir = Path(env.snapshot_path)
        for rel in sorted(p for p in _patch_paths(patch) if is_protected(p)) + list(task.hidden_tests):
            original = _read(snapshot_dir, rel)
            if original is None:
                sb.exec(["rm", "-f", "--", rel], timeout=60, cwd=sb.workdir)
            else:
                sb.write_file(rel, original)
        run = run_tests(sb, env.test, tests=task.tests, timeout=timeout)
        result.statuses, result.missing = run.statuses, run.missing
        if run.timed_out:
            result.outcome, result.detail = "timeout", run.error or "timeout"
        elif run.error and not run.collection_errors:
            result.outcome, result.detail = "error", f"{run.error}\n{run.log_tail}"
        else:
            # Collection errors come from the code under test (pytest may call them a usage error):
            # the tests that could not be collected are missing, hence failed.
            result.resolved = resolved(run.statuses, task.FAIL_TO_PASS, task.PASS_TO_PASS)
            result.outcome = "resolved" if result.resolved else "unresolved"
            if run.collection_errors:
                result.detail = "collection errors: " + "; ".join(sorted(run.collection_errors))[:1000]
        return result
    except CodekilnError as err:
        result.outcome, result.detail = "error", str(err)
        return result
    finally:
        result.duration_s = time.monotonic() - start
        if own:
            sb.close()


__all__ = [
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
