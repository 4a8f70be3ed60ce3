"""Helpers shared by the sandbox tests (kept out of conftest.py so test modules can import them)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

# bwrap needs root here (it mounts workspaces and switches uid); podman runs rootful containers.
BWRAP = pytest.param("bwrap", marks=pytest.mark.root)
BWRAP_COPY = pytest.param("bwrap-copy", marks=pytest.mark.root)
PODMAN = pytest.param("podman", marks=pytest.mark.podman)
BACKENDS = [BWRAP, BWRAP_COPY, PODMAN, "local"]
ISOLATING = [BWRAP, PODMAN]

FILES = {
    "README.md": b"# demo\n",
    "pkg/__init__.py": b"",
    "pkg/mod.py": b"def add(a, b):\n    return a + b\n",
    "tests/test_mod.py": b"from pkg.mod import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n",
    "data/blob.bin": bytes(range(256)) * 4,
    ".gitignore": b"*.log\n",
}


def tree_state(root: Path) -> dict[str, tuple[int, int, bytes | str]]:
    """Every path under `root` (the .git dir included) with its mode, owner and content."""
    out: dict[str, tuple[int, int, bytes | str]] = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        body: bytes | str = (
            os.readlink(path) if path.is_symlink() else path.read_bytes() if path.is_file() else ""
        )
        out[str(path.relative_to(root))] = (st.st_mode, st.st_uid, body)
    return out


def live_pids(token: str) -> list[int]:
    """Host pids of running (not zombie) processes whose command line contains `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll `predicate` until it holds or `timeout` passes (for processes that are still starting)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
