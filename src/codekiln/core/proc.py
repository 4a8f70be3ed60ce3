"""Run a subprocess safely: argv lists only, a wall-clock timeout that kills the whole process group,
and a cap on captured output (the rest is drained and dropped, so a chatty child cannot exhaust memory).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

DEFAULT_MAX_OUTPUT = 1 << 20  # bytes kept per stream


@dataclass
class ProcResult:
    """What a finished process did. `truncated` is True if either stream went over the cap."""

    stdout: str
    stderr: str
    exit_code: int
    duration_s: float
    timed_out: bool = False
    truncated: bool = False


class _Drain(threading.Thread):
    """Reads a pipe to EOF, keeping the first `limit` bytes."""

    def __init__(self, stream, limit: int) -> None:
        super().__init__(daemon=True)
        self.stream, self.limit = stream, limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.truncated = False

    def run(self) -> None:
        while True:
            chunk = self.stream.read1(65536) if hasattr(self.stream, "read1") else self.stream.read(65536)
            if not chunk:
                break
            room = self.limit - self.kept
            if room > 0:
                self.chunks.append(chunk[:room])
                self.kept += min(room, len(chunk))
            if len(chunk) > room:
                self.truncated = True
        self.stream.close()

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def _feed(stdin: IO[bytes], data: bytes) -> None:
    try:
        stdin.write(data)
        stdin.close()
    except (BrokenPipeError, ValueError, OSError):  # the child ended (or was killed) first
        pass


def kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the process group led by `proc` (started with start_new_session=True)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run(
    argv: Sequence[str],
    *,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    input: bytes | None = None,
    max_output: int = DEFAULT_MAX_OUTPUT,
    preexec_fn=None,
) -> ProcResult:
    """Run `argv` to completion (or timeout) and return its output. Never raises on a non-zero exit."""
    if isinstance(argv, str):
        raise TypeError("proc.run takes an argv list, not a shell string")
    start = time.monotonic()
    proc = subprocess.Popen(
        list(argv),
        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=dict(env) if env is not None else None,
        cwd=str(cwd) if cwd else None,
        start_new_session=True,
        preexec_fn=preexec_fn,
    )
    out, err = _Drain(proc.stdout, max_output), _Drain(proc.stderr, max_output)
    out.start()
    err.start()
    if input is not None and proc.stdin is not None:
        # Fed from a thread: written here, input past the pipe's 64 KiB blocked until the child read
        # it or exited, and the timeout did not start before that (a child that never reads ran on).
        threading.Thread(target=_feed, args=(proc.stdin, input), daemon=True).start()
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        kill_group(proc)
        proc.wait()
    # Background children may still hold the pipes open: give them a moment, then kill the group.
    out.join(timeout=2)
    err.join(timeout=2)
    if out.is_alive() or err.is_alive():
        kill_group(proc)
        out.join(timeout=5)
        err.join(timeout=5)
    return ProcResult(
        stdout=out.text(),
        stderr=err.text(),
        exit_code=-9 if timed_out else proc.returncode,
        duration_s=time.monotonic() - start,
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )


def tail(text: str, lines: int = 30) -> str:
    """The last `lines` lines of `text`, for error messages."""
    return "\n".join(text.rstrip().splitlines()[-lines:])
