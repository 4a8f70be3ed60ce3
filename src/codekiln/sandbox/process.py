"""Run one sandbox command to completion under a wall-clock limit and an output cap.

    res = run_limited(argv, timeout=10, max_output=1 << 20, env=env)

Both streams are read in the calling thread (no helper threads). Each keeps its first `max_output`
bytes; the rest is drained and dropped (`truncated=True`), and a command that keeps writing past
`OUTPUT_KILL_FACTOR` times the cap is killed (`killed="output"`): draining gigabytes only wastes time.
On the time limit the command is SIGKILLed (`timed_out=True`, `killed="timeout"`, exit code
-9); the limit is wall-clock time less the time the command's processes waited for a CPU, up to a
ceiling (`sandbox.loadclock`: a busy machine does not fail a healthy run, and a hang still stops): by default its whole process group; a backend passes `kill` to end what lives outside that group
(a PID namespace, a container's processes). `run_limited` returns only once `argv`'s process ended.
Exit statuses that mean a resource limit fired are named: SIGXCPU -> "cpu", SIGXFSZ -> "file_size".
Once the process is interrupted (`core.interrupt`: Ctrl-C), a running command is killed at once and a new
one is not started (`killed="interrupted"`, exit code -9), so worker threads end with the run; an
exception in the calling thread (KeyboardInterrupt) kills the command and waits for it to end before
it propagates.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

from codekiln.core import interrupt
from codekiln.core.protocols import ExecResult
from codekiln.sandbox.loadclock import LoadClock

OUTPUT_KILL_FACTOR = 64
MIN_OUTPUT_KILL = 64 << 20
# After the main process exits, how long stragglers may keep our pipes open before we stop reading.
EXIT_GRACE_S = 0.5
KILL_DRAIN_S = 2.0
_SIGNAL_LIMITS: dict[int, str] = {signal.SIGXCPU: "cpu", signal.SIGXFSZ: "file_size"}


def killed_by(exit_code: int) -> str | None:
    """The limit an exit status points at: death by SIGXCPU/SIGXFSZ (or a shell's 128+signal)."""
    sig = -exit_code if exit_code < 0 else exit_code - 128
    return _SIGNAL_LIMITS.get(sig)


def killpg(pid: int) -> None:
    """SIGKILL the process group led by `pid` (gone already is fine)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def run_limited(
    argv: Sequence[str],
    *,
    timeout: float | None,
    max_output: int,
    env: Mapping[str, str],
    cwd: str = "/",
    input: bytes | None = None,
    pass_fds: tuple[int, ...] = (),
    kill: Callable[[int], None] = killpg,
) -> ExecResult:
    """Run `argv` in a new session; see the module docstring for the limits. `pass_fds` are handed to
    the child and closed here; `kill(pid)` ends the command when a limit fires. Never raises on a
    failure of the command itself (a missing binary gives exit code 127)."""
    start = time.monotonic()
    if interrupt.requested():
        for fd in pass_fds:
            os.close(fd)
        return ExecResult("", "interrupted before it started\n", -signal.SIGKILL, 0.0, killed="interrupted")
    try:
        child = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=dict(env),
            cwd=cwd,
            start_new_session=True,
            pass_fds=pass_fds,
        )
    except OSError as err:  # no such program, or no such working directory
        return ExecResult("", f"{err}\n", 127, time.monotonic() - start)
    finally:
        for fd in pass_fds:
            os.close(fd)
    assert child.stdout is not None and child.stderr is not None
    try:
        return _supervise(child, start, timeout, max_output, input, kill)
    except BaseException:  # KeyboardInterrupt in this thread: the command must not outlive the wait
        kill(child.pid)
        _reap(child)
        raise


def _reap(child: subprocess.Popen[bytes]) -> None:
    """Wait for a command `kill` was called on: a backend's kill may end it asynchronously (bwrap's
    monitor exits only after the init it killed is gone), and a caller unwinding an exception must not
    leave it running. Past KILL_DRAIN_S its process group is SIGKILLed."""
    try:
        child.wait(timeout=KILL_DRAIN_S)
    except subprocess.TimeoutExpired:
        killpg(child.pid)
        child.wait()
    for stream in (child.stdin, child.stdout, child.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _wait(child: subprocess.Popen[bytes], clock: LoadClock | None) -> int:
    """Wait for `child` to end; TimeoutExpired once `clock`'s limit is spent."""
    while True:
        try:
            return child.wait(timeout=None if clock is None else max(clock.wait_s(time.monotonic()), 0.05))
        except subprocess.TimeoutExpired:
            now = time.monotonic()
            clock.tick(now)  # type: ignore[union-attr]
            if clock.due(now):  # type: ignore[union-attr]
                raise


def _supervise(
    child: subprocess.Popen[bytes],
    start: float,
    timeout: float | None,
    max_output: int,
    input: bytes | None,
    kill: Callable[[int], None],
) -> ExecResult:
    """`run_limited`'s wait: read both streams, feed stdin, enforce the limits, until `child` ends."""
    assert child.stdout is not None and child.stderr is not None
    kept = {child.stdout.fileno(): bytearray(), child.stderr.fileno(): bytearray()}
    out_fd, err_fd = child.stdout.fileno(), child.stderr.fileno()
    sel = selectors.DefaultSelector()
    for fd in kept:
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ)
    stop_fd = interrupt.fd()
    sel.register(stop_fd, selectors.EVENT_READ)
    pending = memoryview(input or b"")
    in_fd = child.stdin.fileno() if child.stdin is not None else -1
    if child.stdin is not None:
        if pending:
            os.set_blocking(in_fd, False)
            sel.register(in_fd, selectors.EVENT_WRITE)
        else:
            child.stdin.close()
    clock = LoadClock(child.pid, start, timeout) if timeout is not None else None
    kill_at_total = max(OUTPUT_KILL_FACTOR * max_output, MIN_OUTPUT_KILL)
    total, truncated, killed = 0, False, None
    stop_reading: float | None = None

    def end(reason: str) -> None:
        nonlocal killed, stop_reading
        if killed is None:
            killed = reason
            kill(child.pid)
        stop_reading = time.monotonic() + KILL_DRAIN_S

    while any(fd != stop_fd for fd in sel.get_map()):  # a stream is still open
        now = time.monotonic()
        if clock is not None and killed is None:
            clock.tick(now)
            if clock.due(now):
                end("timeout")
        if stop_reading is None and child.poll() is not None:
            stop_reading = now + EXIT_GRACE_S
        if stop_reading is not None and now >= stop_reading:
            if killed is None and child.returncode is not None:
                killpg(child.pid)  # stragglers that kept our pipes (the local backend has no pid namespace)
            break
        waits = [t - now for t in (stop_reading,) if t is not None]
        if clock is not None and killed is None:
            waits.append(clock.wait_s(now))
        for key, _ in sel.select(max(0.0, min(waits, default=1.0))):
            fd = key.fd
            if fd == stop_fd:
                end("interrupted")
                sel.unregister(fd)
                continue
            if fd == in_fd and child.stdin is not None:
                try:
                    pending = pending[os.write(fd, pending[:65536]) :]
                except BrokenPipeError:
                    pending = pending[:0]
                if not pending:
                    sel.unregister(fd)
                    child.stdin.close()
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                sel.unregister(fd)
                continue
            total += len(chunk)
            room = max_output - len(kept[fd])
            if len(chunk) > room:
                truncated = True
            if room > 0:
                kept[fd] += chunk[:room]
            if total > kill_at_total and killed is None:
                end("output")
    sel.close()
    for stream in (child.stdin, child.stdout, child.stderr):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:  # the pipes may close before the process ends: the time limit still holds
        code = child.wait(timeout=KILL_DRAIN_S) if killed else _wait(child, clock)
    except subprocess.TimeoutExpired:
        end("timeout")
        try:
            code = child.wait(timeout=KILL_DRAIN_S)
        except subprocess.TimeoutExpired:  # the backend's kill missed it: take the group down
            killpg(child.pid)
            code = child.wait()
    return ExecResult(
        stdout=kept[out_fd].decode("utf-8", errors="replace"),
        stderr=kept[err_fd].decode("utf-8", errors="replace"),
        exit_code=-signal.SIGKILL if killed else code,
        duration_s=time.monotonic() - start,
        timed_out=killed == "timeout",
        truncated=truncated,
        killed=killed or killed_by(code),
    )
