"""What every sandbox backend is built from: a `SandboxSpec` and the backend registry.

A sandbox shows a repository snapshot at `workdir` (default `/testbed`) as a copy-on-write workspace:
the snapshot directory itself is never modified, `reset()` throws the changes away, `diff()` reports them.
An environment (a venv built for that snapshot) is mounted read-only at `/opt/venv`; its `bin` is first
on PATH. `/tmp` is private to the sandbox and persists across `exec` calls (like a container's) until
`reset()` or `close()`; `read_file`/`write_file` accept absolute paths there too (the grader writes its
JUnit report to /tmp/codekiln/junit.xml and reads it back). `open_sandbox(spec, backend)` picks the backend by name: bwrap (default), podman, docker, local.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from codekiln.core.protocols import Limits, Sandbox
from codekiln.core.registry import Registry
from codekiln.sandbox.tasktree import StartTree

WORKDIR = "/testbed"
VENV_DIR = "/opt/venv"
KEPT_EXTENSIONS = "codekiln-ext"
"""The venv's folder of compiled extensions its build made in the source tree (`envs.extensions`); every
sandbox of the environment shows them in /testbed at their paths (`Workspace`'s `beneath`)."""
# The unprivileged uid (and gid) sandboxed commands run as: process-count limits do not apply to root.
# Snapshots need not belong to it: workspaces show their files as owned by it (idmapped mounts).
SANDBOX_UID = 10001


@dataclass
class Bind:
    """An extra host path visible inside the sandbox at `dest` (read-only unless `rw`)."""

    src: Path
    dest: str
    rw: bool = False


@dataclass
class SandboxSpec:
    """What to start a sandbox from.

    snapshot: host directory holding the repository snapshot (a git repo with one commit). It is the
        read-only lower layer; the sandbox never writes to it.
    venv: host directory of the environment's virtualenv, mounted read-only at /opt/venv, or None.
    binds: extra mounts. network: allow network access (only environment builds need it).
    env: environment variables for every command. limits: per-command resource limits.
    start: the workspace starts from (and resets to) a tree made from the snapshot for it, cached
        (`sandbox.tasktree`: a task's starting state that leaves no trace of how it was made); `diff`
        and `changed` still compare with the snapshot. None: the snapshot itself.
    """

    snapshot: Path
    venv: Path | None = None
    workdir: str = WORKDIR
    binds: list[Bind] = field(default_factory=list)
    network: bool = False
    env: dict[str, str] = field(default_factory=dict)
    limits: Limits = field(default_factory=Limits)
    venv_writable: bool = False
    start: StartTree | None = None


SANDBOXES = Registry(
    "sandbox backend",
    {
        "bwrap": "codekiln.sandbox.bwrap:BwrapSandbox",
        "podman": "codekiln.sandbox.podman:PodmanSandbox",
        "docker": "codekiln.sandbox.podman:DockerSandbox",
        "local": "codekiln.sandbox.local:LocalSandbox",
    },
)

DEFAULT_BACKEND = "bwrap"

MAX_CHANGE_BYTES = 2_000_000
"""The most an agent's change may weigh: about the bytes its patch would carry (each changed path's
name and git's header lines, files' sizes, links' targets, deleted files' sizes), sized on the host
before anything is read (`Workspace.weight`). A bigger one is neither read into a diff nor stored nor
graded: the episode's grade is `rejected` (reason `change_too_large`), scored 0 like any patch the
grader refuses, never masked. Otherwise a policy could write gigabytes that the driver reads whole and
stores twice per rollout, or as many empty files or links, which weighed nothing when only files'
sizes counted."""


def change_bytes(sandbox: Sandbox) -> int:
    """About the bytes a patch of the workspace's change would carry (`MAX_CHANGE_BYTES`), where the
    sandbox can size it unread (every host-backed one can: `HostSandbox.changed_bytes`); 0 for one that
    cannot."""
    sized = getattr(sandbox, "changed_bytes", None)
    return int(sized()) if callable(sized) else 0


def settle(sandbox: Sandbox) -> None:
    """End every process of `sandbox` that outlived its command, where it keeps any (`HostSandbox.stop`:
    podman's do, bwrap's never), so that nothing changes the workspace while the host reads it."""
    stop = getattr(sandbox, "stop", None)
    if callable(stop):
        stop()


def open_sandbox(spec: SandboxSpec, backend: str = DEFAULT_BACKEND) -> Sandbox:
    """Start a sandbox of the named backend. Close it (or use `with`) to release its resources."""
    cls = SANDBOXES.load(backend)
    return cls(spec)
