"""Fixtures for repository tests: small local projects built on the fly, and one real PyPI sdist."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from codekiln.repos import SnapshotRecord, add_repo
from codekiln.testing import git as run_git_checked


def git(repo: Path, *args: str) -> str:
    """git's stdout without the trailing newline (these tests compare single values)."""
    return run_git_checked(repo, *args).strip()


def write_project(root: Path, version: str = "0.1.0") -> Path:
    """A tiny Python project with a test, plus junk that must never reach a snapshot."""
    (root / "pkg").mkdir(parents=True, exist_ok=True)
    (root / "tests").mkdir(exist_ok=True)
    (root / "pkg" / "__init__.py").write_text("def add(a, b):\n    return a + b\n")
    (root / "tests" / "test_pkg.py").write_text(
        "from pkg import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n"
    )
    (root / "pyproject.toml").write_text(f'[project]\nname = "demo-pkg"\nversion = "{version}"\n')
    (root / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (root / "run.sh").chmod(0o755)
    (root / "pkg" / "__pycache__").mkdir(exist_ok=True)
    (root / "pkg" / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"junk")
    (root / ".tox").mkdir(exist_ok=True)
    (root / ".tox" / "log").write_text("junk")
    return root


@pytest.fixture(name="git")
def git_fixture() -> Callable[..., str]:
    """`git(repo, *args)`: run git in repo with a clean config, return its stdout."""
    return git


@pytest.fixture
def make_project() -> Callable[..., Path]:
    """`make_project(root, version="0.1.0")`: write the tiny project into root."""
    return write_project


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "demo")


@pytest.fixture
def git_project(tmp_path: Path) -> Path:
    """A git repository with two commits, a tag, a remote and an ignored file."""
    root = write_project(tmp_path / "gitdemo")
    (root / ".gitignore").write_text("secret.txt\n__pycache__/\n.tox/\n")
    (root / "secret.txt").write_text("ignored")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "first")
    (root / "pkg" / "future.py").write_text("FUTURE = 'the fix'\n")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "second: the fix")
    git(root, "tag", "v0.1.0")
    git(root, "remote", "add", "origin", "https://example.invalid/upstream.git")
    return root


@pytest.fixture(scope="session")
def toolz_snapshot() -> SnapshotRecord:
    """toolz 1.2.0 from PyPI (downloaded once per CODEKILN_HOME)."""
    return add_repo("pypi:toolz==1.2.0")
