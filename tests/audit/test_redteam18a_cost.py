"""The eighteenth red team (part A): a fix whose own processes wait in bursts runs past its limit.

The load-tolerant clock (`sandbox.loadclock`) forgives the time a command's threads waited for a CPU,
less what its own runnable threads would make it wait on an idle machine: between two samples, with
T of its threads runnable (read at the samples) on C CPUs, (T - C) thread-seconds a second are not
forgiven and the rest is shared among the T threads. T is read at the sample instants only. A patch
whose processes are runnable in short bursts between samples makes waits the clock counts as outside
load: the gold fix plus, at import, 100 forked children that sleep to the same whole second and each
burn 2 ms of CPU (they queue for the CPUs some 100 ms a second: five thread-seconds of waiting a
second, with none of them runnable at most samples), while the module sleeps 90 s. The same sleep
alone is `timeout` at the derived 60 s limit (held, the seventeenth's test); with the bursts the grade
is `resolved` after ~90 s, and any patch may so take `CEILING` x the limit (180 s at the floor) on a
suite that takes under a second, with the machine a tenth busy. Timings are not asserted: the verdict
is (`timeout` is the secure one). Closed: the clock reads cumulative counters, not the samples' state,
and forgives waits only up to the CPU time processes outside the command ran (`sandbox.loadclock`).
Real synthesis, bwrap, the real grader. Graded, as the seventeenth's attacks are, under the explicit
`GRADE_S` limit with the spell scaled to it (past the limit, under its ceiling): the clock samples
once a second whatever the limit, so the bursts meet the same samples, in ~10 s instead of 60 s.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout_support import library_tasks, the_task
from test_redteam17_cost import GRADE_S, LIBRARY, SPELL_S, with_gold

from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.limits import FLOOR_S, graded_limit
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

BURSTS = f"""

import os as _os
import time as _time


def _burst():
    while True:
        _time.sleep(1.0 - _time.monotonic() % 1.0)  # every child wakes on the same whole second
        _end = _time.thread_time() + 0.002
        while _time.thread_time() < _end:
            pass


for _ in range(100):
    if _os.fork() == 0:
        _burst()
_time.sleep({SPELL_S})
"""


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    """The seventeenth's cost task (the same cache): an arithmetic bug in `total`."""
    found = library_tasks(
        LIBRARY, "cost-library", "audit-tasks-costlib", 1, functions=["total"], mutators=["change_arith_op"]
    )
    return the_task(found, lambda t: "tests/test_cost.py::test_total" in t.FAIL_TO_PASS, "total()'s bug")


def test_a_fix_that_sleeps_past_the_limit_beside_bursts_of_its_own_times_out(
    task: tuple[TaskRecord, EnvRecord],
) -> None:
    t, env = task
    assert graded_limit(env) == FLOOR_S and GRADE_S < SPELL_S
    grade = grade_patch(t, env, with_gold(t, env, BURSTS), timeout=GRADE_S)
    assert grade.outcome == "timeout", (grade.outcome, grade.duration_s, grade.detail)  # resolved
