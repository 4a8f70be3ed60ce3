"""Ctrl-C that lands where Python drops it: in a generator the garbage collector closes (a stage's
`executor.map`, left early, joins its pool's threads there), Python prints "Exception ignored" with a
traceback and the program ran on to exit 0 (seen once in CI: `synth` interrupted exited 0). Now the
interrupt is sent again and ends the program as interrupted (130, the `interrupted:` line); a command
that returns although Ctrl-C was pressed also exits 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
INTERRUPTED = "interrupted: finished work is saved; rerun the same command to resume"

IN_A_CLOSING_GENERATOR = """
import sys, time
from codekiln.cli.common import run

def units():
    try:
        yield 1
        yield 2
    finally:  # what a pool's shutdown(wait=True) does when the generator is closed early
        print("closing", flush=True)
        time.sleep(30)

def app():
    stream = units()
    next(stream)
    del stream  # left early: the generator is closed by the garbage collector
    for i in range(100):
        print("went on", i, flush=True)
        time.sleep(0.1)

run(app)
"""

RETURNS_AFTER_CTRL_C = """
import time
from codekiln.cli.common import run

def app():
    try:
        print("closing", flush=True)
        time.sleep(30)
    except KeyboardInterrupt:
        pass  # a command that swallows it and returns

run(app)
"""


def interrupted(program: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    with subprocess.Popen(
        [sys.executable, "-c", program], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "closing\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_ctrl_c_in_a_generator_the_collector_closes_ends_the_program() -> None:
    done = interrupted(IN_A_CLOSING_GENERATOR)
    assert done.returncode == 130, done.stdout[-2000:] + done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] == INTERRUPTED
    assert "went on 5" not in done.stdout  # it did not run on: the interrupt landed at once


def test_a_command_that_returns_after_ctrl_c_exits_as_interrupted() -> None:
    done = interrupted(RETURNS_AFTER_CTRL_C)
    assert done.returncode == 130, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stderr.strip().splitlines()[-1] == INTERRUPTED
