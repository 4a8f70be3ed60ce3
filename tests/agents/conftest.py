"""Fixtures for agent tests: a tiny git snapshot with a bug (`add` subtracts), fresh sandboxes on it, and
the exact diff that fixing the bug must produce (made by git on a copy, outside any sandbox).

The loop and the tools are tested on what runs inside a sandbox, not on its isolation: every test runs
on the `local` backend (no root needed) and, as root, again on bwrap (marked `root`)."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from codekiln.core.protocols import Sandbox
from codekiln.testing import backend_params, git, make_repo, open_test_sandbox

FILES = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "def add(a, b):\n    return a - b\n",
    "pkg/dup.py": "x = 1\ny = 2\nx = 1\n",
    "tests/test_mod.py": "from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
}


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("agent-snapshot"), FILES)


@pytest.fixture(scope="session")
def fixed_diff(snapshot: Path, tmp_path_factory: pytest.TempPathFactory) -> str:
    """`git diff` of the snapshot with the bug fixed (a + b), computed on a host copy."""
    copy = tmp_path_factory.mktemp("fixed") / "repo"
    shutil.copytree(snapshot, copy)
    mod = copy / "pkg" / "mod.py"
    mod.write_text(mod.read_text().replace("a - b", "a + b"))
    return git(copy, "diff")


@pytest.fixture(params=backend_params())
def open_sb(request: pytest.FixtureRequest, snapshot: Path) -> Iterator[Callable[[], Sandbox]]:
    opened: list[Sandbox] = []

    def factory() -> Sandbox:
        sb = open_test_sandbox(snapshot, request.param)
        opened.append(sb)
        return sb

    yield factory
    for sb in opened:
        sb.close()


@pytest.fixture
def sandbox(open_sb: Callable[[], Sandbox]) -> Sandbox:
    return open_sb()
