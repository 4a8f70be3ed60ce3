"""The default sandbox backend: every command runs in a fresh bubblewrap container over the workspace.

    with BwrapSandbox(SandboxSpec(snapshot=path, venv=venv)) as sb:
        sb.exec("python -m pytest -q")

What it isolates:
- Filesystem: the root is read-only; only the workspace (`workdir`, copy-on-write over the snapshot)
  and a per-sandbox /tmp are writable. The host shows through read-only: /usr (and the /bin, /lib
  links), /etc, the Python install(s) the venv needs, the venv at /opt/venv, `spec.binds`. Nothing
  else exists inside: no /root, /home, /work, $CODEKILN_HOME or host /tmp. The interpreters' own
  site-packages / dist-packages show empty (`hidden_site_dirs`): they may hold the task's library.
- Users: commands run as uid/gid `SANDBOX_UID` in their own user namespace, with no capabilities and
  no way to make further user namespaces. They cannot gain root.
- Processes: a PID namespace per command. When the command returns (or is killed), everything it
  started dies with it, setsid'ed and double-forked children included; no process outlives `exec`.
- Network: none but a private loopback (with one more address on it: `hostview`), unless
  `spec.network`. /etc/passwd, /etc/group and /etc/hosts name the sandbox user and hostname.
- Limits (per command): wall time (SIGKILL of the whole namespace), CPU seconds (SIGXCPU), address
  space per process (a memory hog gets ENOMEM/MemoryError: nothing is killed, so `killed` stays
  None), processes of the command (a fork bomb gets EAGAIN; counted per command through its user
  namespace), file size (SIGXFSZ), output (see `process`), disk (the workspace's tmpfs, `disk_mb`:
  its bytes and its number of files; /dev is read-only and /dev/shm a tmpfs of `SHM_MB`).

What it does not isolate:
- The kernel (one shared kernel, no seccomp filter), /proc's view of system-wide numbers, time.
  World-readable host files under /usr and /etc stay readable.
- Memory in total: the limit is per process (RLIMIT_AS), not a cgroup over the whole command; and
  what a sandbox writes (workspace changes, /tmp) is held in RAM, up to `disk_mb` (tmpfs).
- Background processes do not survive from one `exec` to the next (a server started in one command
  is gone in the next: start and use it in the same command).

Needs root on the host (to mount the workspace and switch to the sandbox uid) and bubblewrap >= 0.8.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import signal
import time
from pathlib import Path

from codekiln.core.errors import SandboxError
from codekiln.core.protocols import Limits
from codekiln.sandbox.base import SANDBOX_UID, VENV_DIR, SandboxSpec
from codekiln.sandbox.common import HostSandbox, Launch, Stdin, hidden_site_dirs, python_prefixes
from codekiln.sandbox.hostview import block_device_binds, identity_binds, private_network
from codekiln.sandbox.process import killpg
from codekiln.sandbox.workspace import Mode


@functools.cache
def _tool(name: str) -> str:
    return shutil.which(name) or name


def problem() -> str | None:
    """Why bwrap sandboxes cannot run here, or None when they can."""
    if shutil.which("bwrap") is None:
        return "bubblewrap is not installed (apt-get install bubblewrap, or run scripts/setup.sh)"
    if os.geteuid() != 0:
        return "bwrap sandboxes need root to mount workspaces and switch to the sandbox uid"
    return None


def shell_argv(argv: list[str], limits: Limits, *, nproc: bool = True) -> list[str]:
    """`argv` run by bash after `ulimit` applies `limits` (no core dumps).

    A shell string (`["/bin/bash", "-c", script]`) gets the ulimits prepended on the same line, so
    line numbers in its error messages do not move; any other argv is exec'ed by that bash. The CPU
    limit is soft (SIGXCPU, reported as killed="cpu") with a hard SIGKILL one second later.
    """
    flags = ["-c", "0"]
    if nproc and limits.max_procs:
        flags += ["-u", str(limits.max_procs)]
    if limits.memory_mb:
        flags += ["-v", str(limits.memory_mb << 10)]
    if limits.max_file_mb:
        flags += ["-f", str(limits.max_file_mb << 10)]
    script = f"ulimit {' '.join(flags)}"
    if limits.cpu_s:
        script += f" && ulimit -St {limits.cpu_s} && ulimit -Ht {limits.cpu_s + 1}"
    prefix = f"{script} || exit 126; "
    if len(argv) == 3 and argv[:2] == ["/bin/bash", "-c"]:
        return ["/bin/bash", "-c", prefix + argv[2]]
    return ["/bin/bash", "-c", prefix + 'exec "$@"', "bash", *argv]


SHM_MB = 64
"""Size of /dev/shm (POSIX shared memory, multiprocessing's semaphores) in every command's sandbox."""


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        path = Path("/", name)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    # bwrap's /dev is a tmpfs sized at half the host's RAM and writable: a command could park gigabytes
    # there, past `disk_mb`. It is made read-only, with /dev/shm a 64 MiB tmpfs (Docker's default size).
    shm = ["--perms", "1777", "--size", str(SHM_MB << 20), "--tmpfs", "/dev/shm", "--remount-ro", "/dev"]
    dev = ["--dev", "/dev", *block_device_binds()]  # a disk, as any host has (hostview)
    return [*args, "--ro-bind", "/etc", "/etc", "--proc", "/proc", *dev, *shm]


class BwrapSandbox(HostSandbox):
    """A bubblewrap sandbox (see the module docstring for what it does and does not isolate).

    `workspace` picks the workspace mode ("auto": overlayfs, else a copy); see `Workspace`.
    """

    def __init__(self, spec: SandboxSpec, *, workspace: Mode = "auto") -> None:
        reason = problem()
        if reason:
            raise SandboxError(reason, hint="use --sandbox podman, or --sandbox local for debugging only")
        super().__init__(spec, uid=SANDBOX_UID, workspace=workspace)
        try:
            self._prefix = self._bwrap_args()
        except BaseException:
            self.close()
            raise

    def _bwrap_args(self) -> list[str]:
        spec, ws = self.spec, self.ws
        # setpriv, not Popen(user=...): it keeps the fast vfork spawn path in a large parent process.
        uid = str(SANDBOX_UID)
        # A network namespace of its own, with an address besides loopback's (see `hostview`).
        stage = ws.stage or ws.state
        net = None if spec.network else private_network(stage)
        args = [*(net or []), _tool("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]
        args += ["--nnp", "--", _tool("bwrap"), "--unshare-user", "--disable-userns", "--unshare-pid"]
        args += ["--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
        args += ["--die-with-parent", "--new-session"]
        if not spec.network and net is None:
            args.append("--unshare-net")
        args += _system_binds()
        args += identity_binds(stage, SANDBOX_UID, "sandbox")
        args += ["--bind", str(ws.tmp), "/tmp"]
        # Every source goes through the stage dir: the sandbox uid could not reach most of them.
        for i, prefix in enumerate(python_prefixes(spec.venv)):
            args += ["--ro-bind", str(ws.stage_dir(prefix, f"python{i}")), str(prefix)]
        for folder in hidden_site_dirs(spec.venv):
            args += ["--tmpfs", folder, "--remount-ro", folder]
        if spec.venv is not None:
            if spec.venv_writable:
                args += ["--bind", str(ws.stage_writable(spec.venv)), VENV_DIR]
            else:
                args += ["--ro-bind", str(ws.stage_dir(spec.venv, "venv")), VENV_DIR]
        for i, extra in enumerate(spec.binds):
            if extra.rw:
                args += ["--bind", str(ws.stage_writable(extra.src)), extra.dest]
            else:
                args += ["--ro-bind", str(ws.stage_dir(extra.src, f"ro{i}")), extra.dest]
        return [*args, "--bind", str(ws.path), self.workdir, "--remount-ro", "/"]

    def _launch(self, argv: list[str], env: dict[str, str], cwd: str, stdin: Stdin) -> Launch:
        # bwrap reports the host pid of the namespace's init on the info fd. Killing that init takes
        # the whole PID namespace down before bwrap itself exits, so `exec` returns only after every
        # process of the command is gone (killing bwrap first would leave that to --die-with-parent,
        # asynchronously). On a normal exit bwrap's monitor returns as soon as the init reports the
        # command's status, while the kernel may still be killing what the command left behind:
        # `done` waits for the init to be gone, which happens only after every other process is.
        info, info_w = os.pipe()
        os.set_blocking(info, False)
        init: list[int] = []

        def init_pid() -> int | None:
            if not init:
                try:
                    init.append(int(json.loads(os.read(info, 4096))["child-pid"]))
                except (OSError, ValueError, KeyError, TypeError):
                    return None
            return init[0]

        def kill(pid: int) -> None:
            child = init_pid()
            try:
                if child is None:
                    raise ProcessLookupError
                os.kill(child, signal.SIGKILL)
            except OSError:  # not started yet, or gone: end bwrap itself
                killpg(pid)

        def done() -> None:
            child = init_pid()
            os.close(info)
            if child is not None:
                wait_namespace_gone(child)

        full = [*self._prefix, "--info-fd", str(info_w), "--chdir", cwd, "--", *shell_argv(argv, self.limits)]
        return Launch(full, env, pass_fds=(info_w,), kill=kill, done=done)


def wait_namespace_gone(init: int, *, limit_s: float = 10.0) -> None:
    """Wait until the PID namespace whose init has host pid `init` is torn down.

    The init leaves /proc (or turns zombie) only once the kernel has killed and reaped every other
    process of its namespace. A pid reused by a process of this namespace is not waited for.
    """
    own = _pid_ns(os.getpid())
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{init}/stat").read_text().rsplit(")", 1)[1].split()[0]
            ns = _pid_ns(init)
        except (OSError, IndexError):
            return
        if state in ("Z", "X") or ns == own:
            return
        time.sleep(0.002)


def _pid_ns(pid: int) -> str:
    return os.readlink(f"/proc/{pid}/ns/pid")
