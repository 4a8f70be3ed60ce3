"""What every backend shares: a `Workspace` shown at `workdir`, host-side file access and diffs, the
environment commands see, and the exec path. A backend only says how to launch a command
(`_launch`) and, when it keeps processes between commands, how to end them (`_kill_all`).

Host-side reads and writes never follow a symlink in the tree (see `files`): when one is in
the way, or the path lies outside `workdir` and /tmp, the operation runs inside the sandbox instead,
with the sandboxed user's rights. Missing files raise FileNotFoundError and refused writes
PermissionError, as `open()` would.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import functools
import os
import posixpath
import subprocess
import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codekiln.core.errors import NotFollowed, SandboxClosed, SandboxError
from codekiln.core.protocols import ExecResult
from codekiln.sandbox.base import KEPT_EXTENSIONS, VENV_DIR, SandboxSpec
from codekiln.sandbox.files import over_limit
from codekiln.sandbox.process import killpg, run_limited
from codekiln.sandbox.workspace import DEFAULT_DISK_MB, Mode, Workspace

SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


Stdin = Literal["none", "input", "stream"]
"""A command's stdin: none (/dev/null), `input` (bytes handed over whole, then closed: `exec`), or
`stream` (a pipe the caller keeps writing requests to: `spawn`)."""


@dataclass
class Launch:
    """How to start one command on the host, and how to end it when a limit fires.

    `pass_fds` go to the process (and are closed here once it started); `kill(pid)` replaces the
    default (SIGKILL the process group, then `_kill_all`); `done()` runs after the command ended.
    """

    argv: list[str]
    env: dict[str, str]
    cwd: str = "/"
    pass_fds: tuple[int, ...] = ()
    kill: Callable[[int], None] | None = None
    done: Callable[[], None] | None = None


@dataclass
class Spawned:
    """A long-lived command started by `HostSandbox.spawn`: its pipes, and `kill()` to end all of it."""

    process: subprocess.Popen[bytes]
    _kill: Callable[[int], None]
    _done: Callable[[], None] | None = None

    def kill(self) -> None:
        """End the command and everything it started (idempotent)."""
        if self.process.poll() is None:
            self._kill(self.process.pid)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._done is not None:
            self._done()
            self._done = None


def python_prefixes(venv: Path | None) -> list[Path]:
    """Interpreter installs a sandbox must show (read-only, same path) for `venv` and for codekiln's own
    Python to work: the venv's `home` from pyvenv.cfg and sys.base_prefix, minus those under /usr."""
    found = [Path(sys.base_prefix)]
    cfg = venv / "pyvenv.cfg" if venv else None
    if cfg is not None and cfg.exists():
        for line in cfg.read_text().splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                home = Path(value.strip())
                found.insert(0, home.parent if home.name == "bin" else home)
    out: list[Path] = []
    for prefix in found:
        prefix = prefix.resolve()
        if not str(prefix).startswith("/usr/") and str(prefix) != "/usr" and prefix not in out:
            out.append(prefix)
    return out


def hidden_site_dirs(venv: Path | None) -> list[str]:
    """The interpreters' own package folders a sandbox covers with an empty, read-only folder.

    A venv made without `--system-site-packages` never imports from them, and they can hold other
    versions of the very library a task is made from (its clean source: the answer). Kept visible
    only when the venv's pyvenv.cfg asks for the system's packages. Looked up once per venv and
    pyvenv.cfg content (every sandbox opened on an environment asks; a key of the file's mtime kept
    the old answer for a venv made again whose pyvenv.cfg got the old mtime, e.g. copied with `cp -a`)."""
    cfg = venv / "pyvenv.cfg" if venv else None
    try:
        text = cfg.read_text() if cfg is not None else None
    except OSError:
        text = None
    return list(_hidden_site_dirs(venv, text))


@functools.lru_cache(maxsize=64)
def _hidden_site_dirs(venv: Path | None, cfg_text: str | None) -> tuple[str, ...]:
    if cfg_text is not None:
        for line in cfg_text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "include-system-site-packages" and value.strip().lower() == "true":
                return ()
    out: list[str] = []
    for prefix in [*python_prefixes(venv), Path("/usr"), Path("/usr/local")]:
        for pattern in (
            "lib/python3*/site-packages",
            "lib/python3*/dist-packages",
            "lib/python3/dist-packages",
        ):
            for found in sorted(prefix.glob(pattern)):
                if found.is_dir() and not found.is_symlink() and str(found) not in out:
                    out.append(str(found))
    return tuple(out)


def _inside_error(res: ExecResult, path: str) -> OSError:
    """The error `open()` would raise for a file a command inside the sandbox could not read."""
    code = errno.ENOENT if "No such file" in res.stderr else errno.EACCES
    cls = FileNotFoundError if code == errno.ENOENT else PermissionError
    return cls(code, res.stderr.strip() or "output over the sandbox's cap", path)


_REGULAR_ONLY = (
    'if [ -L "$1" ]; then exit 113; fi; if [ -e "$1" ] && [ ! -f "$1" ]; then exit 114; fi; shift; exec "$@"'
)


def _unfollowed(argv: list[str], follow: bool) -> list[str]:
    """`argv` (whose last item is the path) run inside only where that path is neither a symlink nor
    anything but a regular file, unless `follow`: for a path no host directory maps (`_roots`)."""
    return argv if follow else ["/bin/sh", "-c", _REGULAR_ONLY, "sh", argv[-1], *argv]


def _raise_unfollowed(res: ExecResult, path: str) -> None:
    if res.exit_code == 113:
        raise NotFollowed(errno.ENOENT, "a symlink is in the way (not followed)", path)
    if res.exit_code == 114:
        raise PermissionError(errno.EPERM, "not a regular file", path)


class HostSandbox(ABC):
    """Base class of the backends (not a backend itself): a backend implements `_launch`, and overrides
    `_kill_all` when it keeps processes between commands."""

    workdir: str

    def __init__(self, spec: SandboxSpec, *, uid: int | None, workspace: Mode = "auto") -> None:
        self.spec = spec
        self.limits = spec.limits
        self.uid = uid
        disk_mb = int(spec.limits.extra.get("disk_mb") or spec.limits.disk_mb or DEFAULT_DISK_MB)
        beneath = Path(spec.venv, KEPT_EXTENSIONS) if spec.venv is not None else None
        self.ws = Workspace(
            spec.snapshot, uid=uid, mode=workspace, disk_mb=disk_mb, start=spec.start, beneath=beneath
        )
        self.workdir = spec.workdir

    # -- what a backend provides -------------------------------------------------------------------
    @abstractmethod
    def _launch(self, argv: list[str], env: dict[str, str], cwd: str, stdin: Stdin) -> Launch:
        """How to start `argv` (environment `env`, inside directory `cwd`) on the host; `stdin` says what
        the caller does with its stdin (see `Stdin`)."""

    def _kill_all(self) -> None:  # noqa: B027 (an optional hook: a no-op where nothing outlives a command)
        """End every process the sandbox still runs (after a timeout, before a reset). Optional: the
        default does nothing, for backends whose processes all die with the command's process group."""

    def _roots(self) -> list[tuple[str, Path]]:
        """Inside paths that map to host directories: (inside prefix, host directory)."""
        return [(self.workdir, self.ws.path), ("/tmp", self.ws.tmp)]

    def base_env(self) -> dict[str, str]:
        # SHELL set: bash would otherwise look the (passwd-less) sandbox uid up through NSS at startup.
        env = {"PATH": SYSTEM_PATH, "HOME": "/tmp", "TMPDIR": "/tmp", "LANG": "C.UTF-8", "SHELL": "/bin/bash"}
        if self.spec.venv is not None:
            env["PATH"] = f"{VENV_DIR}/bin:{SYSTEM_PATH}"
            env["VIRTUAL_ENV"] = VENV_DIR
        return env

    # -- the protocol ------------------------------------------------------------------------------
    def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        input: bytes | None = None,
    ) -> ExecResult:
        """Run `cmd` (a string runs under /bin/bash -c; a list is an argv) at `cwd` (default workdir).

        `timeout` overrides `limits.timeout_s`; `env` adds to the sandbox's environment.
        """
        if self.ws.closed:
            raise SandboxError("exec on a closed sandbox", hint="open a new sandbox; close() is final")
        argv = ["/bin/bash", "-c", cmd] if isinstance(cmd, str) else [str(a) for a in cmd]
        if not argv:
            raise SandboxError("exec needs a command", hint="pass a shell string or a non-empty argv list")
        full_env = {**self.base_env(), **self.spec.env, **(env or {})}
        where = self._inside(cwd) if cwd else self.workdir
        launch = self._launch(argv, full_env, where, "none" if input is None else "input")
        try:
            return run_limited(
                launch.argv,
                timeout=timeout if timeout is not None else self.limits.timeout_s,
                max_output=self.limits.max_output_bytes,
                env=launch.env,
                cwd=launch.cwd,
                input=input,
                pass_fds=launch.pass_fds,
                kill=launch.kill or self._kill,
            )
        finally:
            if launch.done is not None:
                launch.done()

    def spawn(self, argv: Sequence[str], *, env: Mapping[str, str] | None = None) -> Spawned:
        """Start `argv` at workdir with its stdin and stdout as pipes, for a worker that answers requests
        line by line. The sandbox's isolation and per-process limits hold; the wall-clock timeout and
        the output cap do not (the caller bounds each request and calls `Spawned.kill()`). stderr is
        discarded."""
        if self.ws.closed:
            raise SandboxError("spawn on a closed sandbox", hint="open a new sandbox; close() is final")
        full_env = {**self.base_env(), **self.spec.env, **(env or {})}
        launch = self._launch([str(a) for a in argv], full_env, self.workdir, "stream")
        try:
            process = subprocess.Popen(
                launch.argv,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=launch.env,
                cwd=launch.cwd,
                start_new_session=True,
                pass_fds=launch.pass_fds,
            )
        finally:
            for fd in launch.pass_fds:
                os.close(fd)
        return Spawned(process, launch.kill or self._kill, launch.done)

    def _kill(self, pid: int) -> None:
        killpg(pid)
        self._kill_all()

    def _inside(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.workdir, path))

    def _locate(self, path: str) -> tuple[Path, str] | None:
        inside = self._inside(path)
        for prefix, root in self._roots():
            if inside == prefix or inside.startswith(prefix.rstrip("/") + "/"):
                return root, inside[len(prefix) :]
        return None

    @property
    def closed(self) -> bool:
        return self.ws.closed

    def _check_open(self, what: str) -> None:
        """A read of a closed sandbox raises: its files are gone with its workspace, and a file read as
        absent would be the code's doing to a grader (`SandboxClosed`: never a verdict)."""
        if self.ws.closed:
            raise SandboxClosed(f"{what} on a closed sandbox", hint="open a new sandbox; close() is final")

    def read_file(self, path: str, *, max_bytes: int | None = None, follow: bool = True) -> bytes:
        """The file's bytes, read on the host (see the module docstring). `max_bytes`: a bigger file
        raises OSError(EFBIG) unread (the host read a sparse gigabyte whole for the editor). `follow=False`:
        where a symlink is in the way the file is not read inside the sandbox (FileNotFoundError): one
        exec per link, or a link to a FIFO blocking a minute, held the reader of an agent's change."""
        self._check_open("read")
        loc = self._locate(path)
        data = self.ws.read(*loc, max_bytes) if loc else None
        if data is not None:
            return data
        if not follow and loc is not None:
            raise NotFollowed(errno.ENOENT, "a symlink is in the way (not followed)", path)
        res = self.exec(_unfollowed(["base64", "-w0", "--", self._inside(path)], follow), timeout=60)
        _raise_unfollowed(res, path)
        if res.exit_code != 0 or res.truncated:
            raise _inside_error(res, path)
        data = base64.b64decode(res.stdout)
        if max_bytes is not None and len(data) > max_bytes:
            raise over_limit(path, max_bytes)
        return data

    def file_digest(self, path: str, *, follow: bool = True) -> str:
        """The sha256 (hex) of a file, read in chunks: never held whole in memory, whatever its size.
        `follow=False`: a symlink in the way is not followed (`NotFollowed`), as in `read_file`."""
        self._check_open("file_digest")
        loc = self._locate(path)
        digest = self.ws.digest(*loc) if loc else None
        if digest is not None:
            return digest
        if not follow and loc is not None:
            raise NotFollowed(errno.ENOENT, "a symlink is in the way (not followed)", path)
        res = self.exec(_unfollowed(["sha256sum", "--", self._inside(path)], follow), timeout=300)
        _raise_unfollowed(res, path)
        if res.exit_code != 0 or not res.stdout.strip():
            raise _inside_error(res, path)
        return res.stdout.split()[0].lstrip("\\")

    def write_file(self, path: str, data: bytes | str) -> None:
        # Text is patch text (`core.sources`): a file's bytes of another encoding come back as they were.
        raw = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
        loc = self._locate(path)
        if loc and self.ws.write(*loc, raw):
            return
        script = 'mkdir -p -- "$(dirname -- "$1")" && cat > "$1"'
        res = self.exec(["/bin/sh", "-c", script, "sh", self._inside(path)], input=raw, timeout=60)
        if res.exit_code != 0:
            raise PermissionError(errno.EACCES, res.stderr.strip(), path)

    def diff(self) -> str:
        """Unified git diff (binary-safe, untracked files included) of the workspace against the snapshot."""
        return self.ws.diff()

    def changed(self, whole: Collection[str] = ()) -> dict[str, str]:
        """Workspace paths that differ from the snapshot (see `Workspace.changed`)."""
        return self.ws.changed(whole)

    def changed_bytes(self) -> int:
        """About the bytes a patch of the change since the start would carry (names, contents, link
        targets, deleted files: `Workspace.weight`), measured on the host without opening a file (an
        agent's change is sized before it is read)."""
        return self.ws.weight()

    def hide(self, names: Collection[str]) -> bool:
        """Top-level entries of a fresh workspace made to vanish at once (see `Workspace.hide`)."""
        return self.ws.hide(names)

    def stop(self) -> None:
        """End every process the sandbox still runs, keeping the workspace as it is: before the host
        reads what the commands left (a backend that keeps processes between commands let one go on
        writing while the host sized the change and then read it whole)."""
        self._kill_all()

    def reset(self) -> None:
        """End all processes and return the workspace (and /tmp) to where it started (`spec.start`)."""
        self._kill_all()
        self.ws.reset()

    def close(self) -> None:
        self.ws.close()

    def __enter__(self) -> HostSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
