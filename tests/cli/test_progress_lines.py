"""A warning or error printed while a progress bar is on screen starts a line of its own, through the
real `codekiln` program on a pseudo-terminal (rich draws its bars only on a terminal). It used to be
written after the bar, on the bar's line: `rendering ━━━━━━   warning: r/rollouts.jsonl:1: ...`."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from codekiln.cli.synth import per_min

ROOT = Path(__file__).resolve().parents[2]
ESCAPES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def on_a_terminal(argv: list[str], cwd: Path, timeout: float = 120) -> tuple[int, str]:
    """Run `codekiln ARGV` with a pty as stdin, stdout and stderr; its exit code and what the terminal
    received, escape sequences removed (a `\\r` stays: it returns to the line's start)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TERM": "xterm", "COLUMNS": "100"}
    main, child = pty.openpty()
    cmd = [sys.executable, "-c", "from codekiln.cli import main; main()", *argv]
    with subprocess.Popen(cmd, cwd=cwd, env=env, stdin=child, stdout=child, stderr=child) as proc:
        os.close(child)
        seen, deadline = b"", time.monotonic() + timeout
        while time.monotonic() < deadline:
            if select.select([main], [], [], 0.2)[0]:
                try:
                    chunk = os.read(main, 1 << 16)
                except OSError:  # the child side closed
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        os.close(main)
    return proc.wait(), ESCAPES.sub("", seen.decode("utf-8", errors="replace"))


@pytest.mark.parametrize(
    ("rollouts", "line", "code"),
    [  # read while the bar runs: a torn last line is dropped with a warning, a corrupt one is an error
        (
            '{"oops',
            "warning: r/rollouts.jsonl:1: dropped a partial last line (6 bytes)",
            1,
        ),  # then: no rollouts
        ('{"oops\n{"a": 1}\n', "error: r/rollouts.jsonl:1: not valid JSON", 1),
    ],
)
def test_a_message_during_a_progress_bar_starts_its_own_line(
    tmp_path: Path, rollouts: str, line: str, code: int
) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "rollouts.jsonl").write_text(rollouts)
    exit_code, screen = on_a_terminal(["export", "sft", "r", "--out", "sft"], tmp_path)
    assert exit_code == code, screen
    at = screen.index(line)
    assert "rendering" in screen[:at], "no bar was drawn before the message: the test proves nothing"
    assert screen[at - 1] in "\r\n", repr(screen[max(0, at - 60) : at + len(line)])


def test_synths_display_in_a_log_ends_its_line(tmp_path: Path) -> None:
    """Written to a file or a pipe (CI, `| tee`), the display's last frame ended without a newline, so
    the next line was glued to it: `... environment snapshot: starterror: './nope' is not a repository`."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, "-c", "from codekiln.cli import main; main()", "synth", "./nope", "--out", "t"]
    done = subprocess.run(
        cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=120
    )
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert "codekiln synth ./nope" in lines[0], done.stdout
    assert "error: './nope' is not a repository: no such directory" in lines, done.stdout


def test_a_slow_rate_keeps_its_decimal() -> None:
    """A library that decides one candidate every few minutes showed "0 candidates/min"."""
    assert [per_min(r) for r in (0.0, 0.14, 3.96, 9.94, 10.4, 651.5)] == [
        "0.0",
        "0.1",
        "4.0",
        "9.9",
        "10",
        "652",
    ]
