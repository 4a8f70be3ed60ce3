"""`core.proc.run`: its wall-clock timeout holds from the start, also while input is still being fed."""

from __future__ import annotations

import time

from codekiln.core.proc import run

BIG = b"x" * (1 << 20)  # far past a pipe's 64 KiB


def test_the_timeout_holds_while_a_child_that_never_reads_is_fed_input() -> None:
    start = time.monotonic()
    res = run(["sleep", "30"], input=BIG, timeout=0.5)
    assert res.timed_out and res.exit_code == -9
    assert time.monotonic() - start < 10  # it used to run until the child ended (30 s)


def test_input_past_the_pipe_buffer_reaches_a_child_that_reads_it() -> None:
    res = run(["wc", "-c"], input=BIG, timeout=60)
    assert (res.stdout.strip(), res.exit_code, res.timed_out) == (str(len(BIG)), 0, False)
