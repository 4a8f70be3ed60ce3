"""The `local` backend: NO ISOLATION. Commands run directly on the host, as the calling user.

    sb = open_sandbox(spec, "local")     # explicit opt-in: debugging, and tests (no root needed)

Use it to debug codekiln itself (to see a command run with no sandbox in the way), and in tests of
what runs inside a sandbox rather than of its isolation (it is `codekiln.testing`'s test backend:
it needs no root), never to run model-written code: that code can read and write anything the
calling user can, use the network, and leave processes behind.

What it does: a private workspace (the same copy-on-write `Workspace` as the other backends, so the
snapshot is never modified, and `diff`/`reset` work) at a host path, which is `workdir`; `TMPDIR` and
`HOME` point to a per-sandbox directory; the wall-clock timeout and the output cap apply, and a
timeout kills the command's process group. What it does not: everything else. No filesystem, user,
process, network or resource isolation; no memory, CPU or process limits; a child that calls setsid
escapes the timeout kill. `spec.venv`'s bin is first on PATH, but scripts whose shebang names
/opt/venv (venvs built inside a sandbox) cannot run: call `python -m tool` instead.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.common import SYSTEM_PATH, HostSandbox, Launch, Stdin
from codekiln.sandbox.workspace import Mode

log = logging.getLogger(__name__)


class LocalSandbox(HostSandbox):
    """Runs commands on the host with no isolation (see the module docstring). Debugging and tests only."""

    def __init__(self, spec: SandboxSpec, *, workspace: Mode = "auto") -> None:
        log.warning("local sandbox: commands run on the host with NO isolation (debugging only)")
        super().__init__(spec, uid=None, workspace=workspace)
        self.workdir = str(self.ws.path)

    def _roots(self) -> list[tuple[str, Path]]:
        return [(self.workdir, self.ws.path)]

    def base_env(self) -> dict[str, str]:
        path = os.environ.get("PATH", SYSTEM_PATH)
        env = {"PATH": path, "HOME": str(self.ws.tmp), "TMPDIR": str(self.ws.tmp), "LANG": "C.UTF-8"}
        if self.spec.venv is not None:
            env["PATH"] = f"{self.spec.venv}/bin:{path}"
            env["VIRTUAL_ENV"] = str(self.spec.venv)
        return env

    def _launch(self, argv: list[str], env: dict[str, str], cwd: str, stdin: Stdin) -> Launch:
        return Launch(argv, env, cwd=cwd)
