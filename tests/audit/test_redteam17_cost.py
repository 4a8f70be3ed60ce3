"""The seventeenth red team: a fix that loads the machine itself to run past the derived limit.

A graded run may take 10 times the environment's measured suite, at least 60 s, on a load-tolerant
clock (`sandbox.loadclock`): time the command's processes spent runnable but waiting for a CPU is not
counted, up to `CEILING` (3) times the limit, and waits of processes running at once are summed. A
patch can make that load itself: the gold fix, plus, at import, `yes` started twice per CPU (a plain
`subprocess.Popen`, no scan finding) while the module spins for 90 s. Its processes wait for CPUs at
once, so the clock barely moved: the grade ended `resolved` after 90 s of wall-clock time with every
CPU of the grading machine busy, where the same 90 s spent asleep is `timeout` at the 60 s limit (held).
The suite itself takes under a second. Up to 3 x 60 s = 180 s of wall-clock time and every CPU for all
of it, per grade, for any patch (an honest fix included), on any machine: the busy processes are
counted per CPU. Timings are not asserted: the verdicts are (`timeout` is the secure one, the run
took longer than its limit on an idle machine's terms). Closed: the clock forgives only load from
outside the command (`sandbox.loadclock`). Real synthesis, bwrap, the real grader.

The attacks are graded under an explicit `GRADE_S` limit (`grade_patch(timeout=...)`, which the grader
honours in place of the derived one and hands to the same load-tolerant clock, `CEILING` included),
with the spell scaled to match: past that limit, under its ceiling, as 90 s is past the 60 s floor and
under 180 s. The clock reads the same counters whatever the limit, so each attack proves the same
thing in ~10 s instead of 60 s; the derived limit itself is asserted by the gold's test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import library_tasks, setuptools_pyproject, the_task

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.limits import FLOOR_S, graded_limit
from codekiln.sandbox.loadclock import CEILING
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

MODULE = "costlib/__init__.py"
LIBRARY = {
    MODULE: "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n",
    "tests/test_cost.py": (
        "from costlib import total\n\n\ndef test_total():\n    assert total([1, 2, 3]) == 6\n\n\n"
        "def test_empty():\n    assert total([]) == 0\n"
    ),
    "pyproject.toml": setuptools_pyproject("costlib"),
}
GRADE_S = 10.0  # the attacks' explicit limit, under the floor (see the module docstring)
SPELL_S = 15  # past GRADE_S, under the ceiling's 30 s (as 90 s is past the 60 s floor, under 180 s)
LOADED = f"""

import os as _os
import subprocess as _subprocess
import time as _time

_busy = [_subprocess.Popen(["yes"], stdout=_subprocess.DEVNULL) for _ in range(2 * (_os.cpu_count() or 1) + 2)]
_until = _time.monotonic() + {SPELL_S}
while _time.monotonic() < _until:
    pass
for _one in _busy:
    _one.kill()
    _one.wait()
"""
ASLEEP = f"""

import time as _time

_time.sleep({SPELL_S})
"""


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY, "cost-library", "audit-tasks-costlib", 1, functions=["total"], mutators=["change_arith_op"]
    )
    return the_task(found, lambda t: "tests/test_cost.py::test_total" in t.FAIL_TO_PASS, "total()'s bug")


def with_gold(t: TaskRecord, env: EnvRecord, tail: str) -> str:
    """The gold's module with `tail` appended: an honest fix that takes its time."""
    snapshot = Path(env.snapshot_path)
    fixed = Target.of(t, snapshot).text(MODULE) or ""
    gold = (snapshot / MODULE).read_text()  # the snapshot is the fixed state
    assert fixed != gold
    return Target.of(t, snapshot).new(MODULE, gold + tail)


def test_the_limit_is_the_floor_and_the_gold_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    assert graded_limit(env) == FLOOR_S  # the suite takes under a second: the derived limit is the floor
    assert GRADE_S < SPELL_S < CEILING * GRADE_S  # the attacks' spell outlasts their limit, not its ceiling
    grade = grade_patch(t, env, t.patch)
    assert grade.outcome == "resolved", (grade.outcome, grade.detail)


def test_a_fix_that_sleeps_past_the_limit_times_out(task: tuple[TaskRecord, EnvRecord]) -> None:
    """Held: a sleep waits for no CPU, so the limit is the plain one."""
    t, env = task
    grade = grade_patch(t, env, with_gold(t, env, ASLEEP), timeout=GRADE_S)
    assert grade.outcome == "timeout", (grade.outcome, grade.detail)


def test_a_fix_that_loads_every_cpu_past_the_limit_times_out(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, with_gold(t, env, LOADED), timeout=GRADE_S)
    assert grade.outcome == "timeout", (grade.outcome, grade.duration_s)  # resolved after the spell
