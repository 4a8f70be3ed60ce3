"""`run_limited`'s contract on the way out: the command it ran has ended, also when an exception in the
waiting thread (Ctrl-C's KeyboardInterrupt) unwinds it."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from types import FrameType

import pytest

from codekiln.sandbox.process import run_limited
from codekiln.testing.procs import running

# Ends a moment after its SIGTERM, as bwrap's monitor does after its PID namespace's init was killed.
SLOW_TO_DIE = "echo $$ > pid; trap 'sleep 0.5; exit 7' TERM; while :; do sleep 0.05; done"


def test_a_command_killed_while_an_exception_unwinds_has_ended_when_it_propagates(tmp_path: Path) -> None:
    def interrupt(signum: int, frame: FrameType | None) -> None:
        pid = tmp_path / "pid"
        if not (pid.exists() and pid.read_text().endswith("\n")):  # not started yet: a moment later
            signal.setitimer(signal.ITIMER_REAL, 0.1)
            return
        raise KeyboardInterrupt

    before = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        with pytest.raises(KeyboardInterrupt):
            run_limited(
                ["bash", "-c", SLOW_TO_DIE], timeout=30, max_output=1 << 16, env=dict(os.environ),
                cwd=str(tmp_path), kill=lambda pid: os.killpg(pid, signal.SIGTERM),
            )  # fmt: skip
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, before)
    pid = int((tmp_path / "pid").read_text())
    assert not running(pid), "the command was still running when the exception reached the caller"
