"""git for tests: one identity, no user or system config, and snapshots made from a dict of files.

    repo = make_repo(tmp_path / "demo", {"pkg/mod.py": "def add(a, b):\n    return a - b\n"})
    git(repo, "rev-parse", "HEAD")             # stdout; a failing git command raises GitError
    run_git(repo, "apply", "--check", "-", input=patch).exit_code   # the result, whatever git did

Every call sees the same environment (`GIT_ENV`): a fixed author and committer, `GIT_CONFIG_GLOBAL`
pointing at /dev/null and `GIT_CONFIG_NOSYSTEM`, so a contributor's own git config (signing, hooks,
default branch, autocrlf) never changes what a test sees.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from codekiln.core import proc

IDENTITY = {
    "GIT_AUTHOR_NAME": "codekiln-test",
    "GIT_AUTHOR_EMAIL": "test@localhost",
    "GIT_COMMITTER_NAME": "codekiln-test",
    "GIT_COMMITTER_EMAIL": "test@localhost",
}
GIT_ENV = {**IDENTITY, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}


class GitError(AssertionError):
    """A git command a test relied on failed (an AssertionError, so pytest shows it as a test failure)."""


def run_git(
    repo: Path, *args: str, input: str | bytes | None = None, timeout: float = 120
) -> proc.ProcResult:
    """Run `git *args` in `repo` with `GIT_ENV`; return the result whatever the exit code."""
    data = input.encode() if isinstance(input, str) else input
    return proc.run(["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, input=data, timeout=timeout)


def git(repo: Path, *args: str, input: str | bytes | None = None) -> str:
    """Run `git *args` in `repo`; return its stdout as is. Raises GitError (with git's stderr) on failure."""
    res = run_git(repo, *args, input=input)
    if res.exit_code != 0:
        raise GitError(f"git {' '.join(args)} in {repo} exited {res.exit_code}: {proc.tail(res.stderr)}")
    return res.stdout


def commit_all(repo: Path, message: str = "snapshot") -> str:
    """Stage everything in `repo` and commit it; returns the new commit's id."""
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--allow-empty", "-m", message)
    return git(repo, "rev-parse", "HEAD").strip()


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Write `files` (relative path -> text or bytes) under `root`, making folders as needed."""
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(data, bytes):
            path.write_bytes(data)
        else:
            path.write_text(data)
    return root


def make_repo(root: Path, files: Mapping[str, str | bytes], *, message: str = "snapshot") -> Path:
    """A git repository at `root` (branch main) holding `files` in exactly one commit: the shape of a
    codekiln snapshot, so sandboxes open on it directly."""
    write_files(root, files)
    git(root, "init", "-q", "-b", "main")
    commit_all(root, message)
    return root
