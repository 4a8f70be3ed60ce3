"""Sandboxes for tests that exercise what runs inside a sandbox, not the isolation around it.

    with open_test_sandbox(make_repo(tmp_path / "s", FILES)) as sb:   # the `local` backend
        sb.exec("python -m pytest -q")

`TEST_BACKEND` is `local`: commands really run (bash, git, python) in a real copy of the snapshot,
with `diff`, `reset`, timeouts and the output cap of every backend, and no root needed (without root
the workspace is a plain copy). It isolates nothing, so the code a test runs there must be the
test's own. `workdir` is the workspace's host path, not /testbed: assert on `sb.workdir`.

`backend_params()` gives pytest parameters for a fixture that should run everywhere on `local`
and, as root, on bwrap too (marked `root`, so a non-root run skips them with the reason).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codekiln.core.protocols import Limits, Sandbox
from codekiln.sandbox import SandboxSpec, open_sandbox

TEST_BACKEND = "local"


def open_test_sandbox(
    snapshot: Path, backend: str = TEST_BACKEND, *, timeout_s: float = 60, **fields: Any
) -> Sandbox:
    """A sandbox of `backend` on `snapshot` (a git repo with one commit, e.g. from `make_repo`), with a
    `timeout_s` per command; `fields` go to `SandboxSpec` (venv, env, binds, ...)."""
    return open_sandbox(SandboxSpec(snapshot=snapshot, limits=Limits(timeout_s=timeout_s), **fields), backend)


def backend_params() -> list[Any]:
    """`[local, bwrap (marked root)]` as pytest parameters, for `@pytest.fixture(params=...)`."""
    import pytest

    return [TEST_BACKEND, pytest.param("bwrap", marks=pytest.mark.root)]
