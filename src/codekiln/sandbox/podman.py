"""Container backends: one long-lived podman (or docker) container per sandbox, same protocol as bwrap.

    with PodmanSandbox(SandboxSpec(snapshot=path, venv=venv)) as sb:
        sb.exec("python -m pytest -q")

The container runs from the locally built base image (`image.ensure_base_image`, nothing pulled)
with `sleep infinity` under an init; each `exec` is a `<cli> exec` into it. `DockerSandbox` is the
same code driving the `docker` CLI (untested here: no Docker engine on the development machines).

What it isolates:
- Filesystem: read-only root; writable only the workspace at `workdir` (copy-on-write, see
  `Workspace`), a per-sandbox /tmp and the container's own /dev/shm (64 MB) and /dev/mqueue. /run and
  /var/tmp stay read-only (podman's --read-only made them tmpfs of half the host's RAM). Host /usr and
  /etc, the Python install(s) and the venv (at /opt/venv) are bound read-only, `spec.binds` as given.
  Nothing else of the host is visible, and nothing is written on the host outside the sandbox's own
  directories (the container monitor's `oom` file lands in the workspace's state directory).
- Users: commands run as uid/gid `SANDBOX_UID` with no new privileges.
- Processes: the container's PID namespace; all of them end on `stop` (an agent's episode ends with
  it, before the host reads the change), `reset` and `close`, and when a command is killed (timeout,
  output): the container is then replaced, the workspace kept.
- Network: none (`--network none`) unless `spec.network`, which shares the host's network.
- Limits: the container's total memory (`--memory`, no swap) and process count (`--pids-limit`);
  per command wall time, CPU seconds, address space per process, file size and output, as in bwrap.

What it does not isolate:
- The kernel (shared), and whatever the container runtime does not: it runs rootful, with podman's
  default capabilities for its root init (commands themselves run unprivileged).
- Background processes survive from one `exec` to the next (unlike bwrap) until a timeout, `stop`,
  `reset` or `close` ends them.
- Memory: the container's limit also holds what it writes to the workspace and /tmp (tmpfs pages);
  filling it leaves every later command of the sandbox killed for memory (exit code 137).

Needs root, podman with runc (crun fails on this host's hybrid cgroups), and ~0.3 s per start.
"""

from __future__ import annotations

import os
import resource
import shutil
import weakref
from pathlib import Path

from codekiln.core import proc
from codekiln.core.errors import SandboxError
from codekiln.sandbox.base import SANDBOX_UID, VENV_DIR, SandboxSpec
from codekiln.sandbox.bwrap import shell_argv
from codekiln.sandbox.common import HostSandbox, Launch, Stdin, hidden_site_dirs, python_prefixes
from codekiln.sandbox.image import ensure_base_image
from codekiln.sandbox.workspace import Mode

# RLIMIT_NPROC for the container (counted per uid host-wide, so it is no sandbox limit: --pids-limit
# is). runc fails to set values above what its own parent holds: 32768 works where 65536 does not.
CONTAINER_NPROC = 32768

# `podman exec --interactive` drops what the command wrote when the command exits before reading all
# of its stdin: the stdin copy fails and the attach session ends without draining stdout and stderr
# (podman 4.3: `sh -c 'echo E >&2; exit 2'` fed one byte lost its output in 20 of 30 runs). So a
# command given input runs under a shell that reads the rest of it after the command ended, then
# exits with the command's status.
DRAIN_STDIN = ["/bin/sh", "-c", '"$@"; status=$?; cat >/dev/null; exit $status', "sh"]


def problem(binary: str = "podman") -> str | None:
    """Why containers cannot run here with `binary`, or None when they might (a start tells for sure)."""
    if shutil.which(binary) is None:
        return f"{binary} is not installed (apt-get install {binary})"
    if binary == "podman" and shutil.which("runc") is None:
        return "podman needs runc here (its default crun fails): apt-get install runc"
    if os.geteuid() != 0:
        return f"the {binary} backend runs rootful containers over mounted workspaces: run as root"
    return None


def _remove(binary: str, name: str) -> None:
    now = ["--time", "0"] if binary == "podman" else []  # docker rm --force kills at once anyway
    proc.run([binary, "rm", "--force", *now, name], timeout=120)


class PodmanSandbox(HostSandbox):
    """A container sandbox (see the module docstring for what it does and does not isolate)."""

    binary = "podman"

    def __init__(self, spec: SandboxSpec, *, workspace: Mode = "auto", image: str | None = None) -> None:
        reason = problem(self.binary)
        if reason:
            raise SandboxError(reason, hint="use the default bwrap backend instead")
        super().__init__(spec, uid=SANDBOX_UID, workspace=workspace)
        self.name = f"codekiln-{self.ws.id}"
        self._writable: dict[Path, Path] = {}
        self._gone = weakref.finalize(self, _remove, self.binary, self.name)
        try:
            self.image = image or ensure_base_image(self.binary)
            self._start()
        except BaseException:
            self.close()
            raise

    def _run_argv(self) -> list[str]:
        spec, limits = self.spec, self.limits
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], CONTAINER_NPROC)
        argv = [self.binary, "run", "--detach", "--rm", "--init", "--name", self.name]
        if self.binary == "podman":
            argv += ["--runtime", "runc"]
        # Root may not raise hard limits here, and the runtimes' defaults would: pass our own.
        argv += ["--ulimit", f"nofile={nofile[0]}:{nofile[1]}", "--ulimit", f"nproc={nproc}:{nproc}"]
        argv += ["--network", "host" if spec.network else "none", "--hostname", "sandbox"]
        argv += ["--read-only", "--security-opt", "no-new-privileges", "--workdir", self.workdir]
        if self.binary == "podman":  # podman's --read-only makes /run and /var/tmp tmpfs of half the RAM
            argv.append("--read-only-tmpfs=false")
        if limits.memory_mb:
            argv += ["--memory", f"{limits.memory_mb}m", "--memory-swap", f"{limits.memory_mb}m"]
        if limits.max_procs:
            argv += ["--pids-limit", str(limits.max_procs)]
        mounts = [("/usr", "/usr", "ro"), ("/etc", "/etc", "ro")]
        mounts += [
            (str(p), str(p), "ro")
            for p in (Path("/bin"), Path("/sbin"), Path("/lib"), Path("/lib64"))
            if p.is_dir() and not p.is_symlink()
        ]
        mounts += [(str(p), str(p), "ro") for p in python_prefixes(spec.venv)]
        if spec.venv is not None:
            mounts.append(self._source(spec.venv, VENV_DIR, spec.venv_writable))
        mounts += [self._source(b.src, b.dest, b.rw) for b in spec.binds]
        mounts += [(str(self.ws.tmp), "/tmp", "rw"), (str(self.ws.path), self.workdir, "rw")]
        for src, dest, mode in mounts:
            argv += ["--volume", f"{src}:{dest}:{mode}"]
        for folder in hidden_site_dirs(spec.venv):
            argv += ["--tmpfs", f"{folder}:ro,size=1k,notmpcopyup"]
        return [*argv, self.image, "sleep", "infinity"]

    def _source(self, src: Path, dest: str, rw: bool) -> tuple[str, str, str]:
        """A --volume for `src`; writable ones go through an idmapped bind owned by the sandbox uid."""
        if not rw:
            return str(src), dest, "ro"
        if src not in self._writable:
            self._writable[src] = self.ws.stage_writable(src)
        return str(self._writable[src]), dest, "rw"

    def _start(self) -> None:
        # The container's monitor (conmon) keeps the cwd of `run`, and writes a file `oom` there when the
        # container runs out of memory: a command filling /tmp made one in the driver's own directory.
        self.ws.state.mkdir(parents=True, exist_ok=True)
        res = proc.run(self._run_argv(), timeout=300, cwd=self.ws.state)
        if res.exit_code != 0:
            raise SandboxError(
                f"{self.binary} could not start the sandbox container: {proc.tail(res.stderr)}",
                hint=f"try `{self.binary} run --rm --runtime runc {self.image} true` to see why; podman needs 'runc' installed (apt-get install runc), or use --backend bwrap",
            )

    def _launch(self, argv: list[str], env: dict[str, str], cwd: str, stdin: Stdin) -> Launch:
        cmd = [self.binary, "exec", "--user", f"{SANDBOX_UID}:{SANDBOX_UID}", "--workdir", cwd]
        if stdin != "none":
            cmd.append("--interactive")
        for key, value in env.items():
            cmd += ["--env", f"{key}={value}"]
        # No per-command process limit: RLIMIT_NPROC counts the uid host-wide; --pids-limit holds.
        inner = shell_argv(argv, self.limits, nproc=False)
        if stdin == "input":  # not a spawned worker's stream: its end must show when the worker ends
            inner = [*DRAIN_STDIN, *inner]
        return Launch([*cmd, self.name, *inner], dict(os.environ))

    def _kill_all(self) -> None:
        """End every process of the sandbox: a new container over the same workspace. (Killing from
        inside can race a fork bomb, or find no free pid to start the killer with.)"""
        _remove(self.binary, self.name)
        self._start()

    def reset(self) -> None:
        """Remove the container, reset the workspace, start a new container (~0.5 s)."""
        _remove(self.binary, self.name)
        self.ws.reset()
        self._start()

    def close(self) -> None:
        self._gone()
        super().close()


class DockerSandbox(PodmanSandbox):
    """`PodmanSandbox` driving the docker CLI (same flags; docker's default runtime is runc)."""

    binary = "docker"
