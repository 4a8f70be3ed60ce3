"""Fixtures for sandbox tests: a small snapshot (a git repo with one commit, owned by root), a venv
without pip (fast to make), and sandboxes of every backend that works here. Podman is skipped with
the reason printed when it cannot run; bwrap must work wherever the suite runs as root."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sbhelpers import FILES

from codekiln.core.errors import SandboxError
from codekiln.core.protocols import Limits
from codekiln.sandbox import bwrap, podman
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.sandbox.common import HostSandbox
from codekiln.sandbox.image import ensure_base_image
from codekiln.sandbox.local import LocalSandbox
from codekiln.sandbox.podman import PodmanSandbox
from codekiln.testing import make_repo


@pytest.fixture(scope="session")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("snapshot"), FILES)


@pytest.fixture(scope="session")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    return path


@pytest.fixture(scope="session")
def podman_ready(snapshot: Path, venv: Path) -> str | None:
    """None when podman sandboxes work here, else why not (printed as the skip reason)."""
    reason = podman.problem()
    if reason:
        return reason
    try:
        ensure_base_image("podman")
        PodmanSandbox(SandboxSpec(snapshot=snapshot, venv=venv)).close()
    except SandboxError as err:
        return f"podman sandbox failed to start: {err}"
    return None


@pytest.fixture
def open_sb(
    request: pytest.FixtureRequest, snapshot: Path, venv: Path
) -> Iterator[Callable[..., HostSandbox]]:
    """A factory `open_sb(backend, limits=..., **spec_fields)`; everything opened is closed after the test."""
    opened: list[HostSandbox] = []

    def factory(backend: str, *, limits: Limits | None = None, **fields: object) -> HostSandbox:
        if backend.startswith("bwrap") and bwrap.problem():
            pytest.skip(f"bwrap unavailable: {bwrap.problem()}")
        if backend == "podman":
            reason = request.getfixturevalue("podman_ready")
            if reason:
                print(f"\nSKIP podman: {reason}")
                pytest.skip(f"podman unavailable: {reason}")
        fields.setdefault("venv", venv)
        spec = SandboxSpec(snapshot=snapshot, limits=limits or Limits(timeout_s=60), **fields)  # type: ignore[arg-type]
        sb: HostSandbox
        if backend == "bwrap":
            sb = BwrapSandbox(spec)
        elif backend == "bwrap-copy":
            sb = BwrapSandbox(spec, workspace="copy")
        elif backend == "podman":
            sb = PodmanSandbox(spec)
        else:
            sb = LocalSandbox(spec)
        opened.append(sb)
        return sb

    yield factory
    for sb in opened:
        sb.close()


@pytest.fixture
def token() -> str:
    """A unique marker to find a test's processes on the host."""
    return f"ckt{uuid.uuid4().hex[:10]}"
