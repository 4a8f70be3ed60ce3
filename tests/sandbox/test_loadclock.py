"""`run_limited`'s time limit under load (`sandbox.loadclock`): a run slowed by load is not stopped, and a
hang, spinning or sleeping, still is. Load is made, not hoped for: the command and busy competitors are
pinned to one CPU, so the command gets a third of it whatever the machine."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from codekiln.sandbox import loadclock
from codekiln.sandbox.loadclock import CEILING, LoadClock
from codekiln.sandbox.process import run_limited

CPU = min(os.sched_getaffinity(0))
PIN = f"import os; os.sched_setaffinity(0, {{{CPU}}})"
SPIN = f"{PIN}\nwhile True: pass"
# Needs 1 s of CPU; pinned with two spinners on its CPU it gets a third of it: ~3 s of wall-clock time.
NEEDS_ONE_CPU_SECOND = f"{PIN}\nimport time\nwhile time.process_time() < 1.0: pass\nprint('done')"
LIMIT = 2.0
needs_schedstat = pytest.mark.skipif(
    not Path("/proc/self/schedstat").exists(),
    reason="this kernel keeps no schedstat: the limit is the plain wall-clock one",
)


@pytest.fixture
def loaded_cpu() -> Iterator[None]:
    spinners = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(2)]
    try:
        yield
    finally:
        for p in spinners:
            p.kill()
            p.wait()


def limited(script: str, tmp_path: Path, timeout: float = LIMIT):  # type: ignore[no-untyped-def]
    # through bash, so that the work is a descendant of the command's process, not the process itself
    argv = ["bash", "-c", '"$0" -c "$1"; status=$?; exit $status', sys.executable, script]
    return run_limited(argv, timeout=timeout, max_output=1 << 16, env=dict(os.environ), cwd=str(tmp_path))


@needs_schedstat
def test_a_run_slowed_by_load_past_its_limit_is_not_stopped(
    tmp_path: Path, loaded_cpu: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The ceiling is raised for this run only: on a machine busy with other work too, the pinned CPU
    # gives the command less than its third, and a run past 3x its limit is stopped by design (below).
    monkeypatch.setattr(loadclock, "CEILING", 20.0)
    res = limited(NEEDS_ONE_CPU_SECOND, tmp_path)
    assert not res.timed_out, res
    assert res.exit_code == 0 and res.stdout.strip() == "done", res
    # what makes this test mean something: by the wall clock alone it would have been stopped
    assert res.duration_s > LIMIT, f"the load did not slow the run past its limit ({res.duration_s:.1f} s)"


def test_a_spinning_hang_is_still_stopped_under_load(tmp_path: Path, loaded_cpu: None) -> None:
    res = limited(SPIN, tmp_path)
    assert res.timed_out and res.killed == "timeout", res
    assert res.duration_s < CEILING * LIMIT + 5, res  # the ceiling holds however much it waited


def test_a_spinning_hang_is_stopped(tmp_path: Path) -> None:
    res = limited(SPIN, tmp_path, timeout=1.0)
    assert res.timed_out and res.killed == "timeout", res


def test_a_sleeping_hang_is_stopped_at_its_limit_not_its_ceiling(tmp_path: Path) -> None:
    res = limited("import time; time.sleep(60)", tmp_path, timeout=1.0)
    assert res.timed_out and res.killed == "timeout", res
    # a sleeper waits for no CPU: nothing extends its limit (the ceiling would be 3 s)
    assert res.duration_s < CEILING * 1.0, res


@needs_schedstat
def test_the_clock_counts_the_waits_of_a_descendant(tmp_path: Path, loaded_cpu: None) -> None:
    child = subprocess.Popen(["bash", "-c", f'"{sys.executable}" -c "$0"; status=$?; exit $status', NEEDS_ONE_CPU_SECOND],
                             stdout=subprocess.DEVNULL)  # fmt: skip
    clock = LoadClock(child.pid, time.monotonic(), LIMIT)
    while child.poll() is None:  # sampled as `run_limited`'s supervisor samples it, not in a busy loop:
        now = time.monotonic()  # intervals of a few ms read the outside CPU time in whole clock ticks
        clock.tick(now)
        time.sleep(max(clock.wait_s(now), 0.05))
    assert clock.waited() > 0.5, "two spinners on its CPU left the descendant waiting most of its run"


TREE = r"""
import subprocess, sys, threading, time
sleeper = "import os, time; os.write(1, b'asleep\\n'); time.sleep(30)"  # one write: lines whole
subprocess.Popen(["bash", "-c", '"$0" -c "$1" & wait', sys.executable, sleeper])  # a grandchild
threading.Thread(target=lambda: subprocess.Popen([sys.executable, "-c", sleeper])).start()
time.sleep(30)
"""


@pytest.mark.skipif(not loadclock._CHILDREN, reason="this kernel lists no thread's children")
def test_the_tree_read_down_from_the_root_is_the_scanned_tree() -> None:
    """The clock reads a command's process tree down from its root (each thread's children) instead of
    scanning every process of the machine: the same processes, a grandchild and a child that a second
    thread started included."""
    root = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert root.stdout is not None
        assert [root.stdout.readline() for _ in range(2)] == [b"asleep\n"] * 2  # both sleepers are up
        down = sorted(loadclock._children_tree(root.pid))
        assert len(down) == 4, down  # the root, bash, bash's child, the thread's child
        assert down == sorted(loadclock._scanned_tree(root.pid))
        assert sorted(loadclock._tree(root.pid)) == down
    finally:
        os.killpg(root.pid, 9)
        root.wait()


SELF_LOADED = f"""
import subprocess, sys
for _ in range(3):
    subprocess.Popen([sys.executable, "-c", "while True: pass"])
{SPIN}
"""


@needs_schedstat
def test_a_command_that_loads_its_own_cpus_is_not_forgiven_its_own_load() -> None:
    """Seventeenth red team: a patch that started `yes` twice per CPU waited for CPUs its own processes
    held, and the clock forgave those waits as the machine's. Here the command and everything it starts
    are pinned to one CPU, four spinners in all: each waits three quarters of its time for the others.
    Whatever else the machine runs, at most a quarter of the run is outside load per thread (the tree's
    own waits, three thread-seconds a second, are never forgiven); the clock once forgave three seconds
    a second."""
    child = subprocess.Popen(
        [sys.executable, "-c", SELF_LOADED], preexec_fn=lambda: os.sched_setaffinity(0, {CPU})
    )
    try:
        clock = LoadClock(child.pid, time.monotonic(), LIMIT)
        start = time.monotonic()
        while time.monotonic() - start < 3.0:
            time.sleep(0.25)
            clock.sample()
        wall = time.monotonic() - start
        naive = sum(clock.seen.values()) / 1e9
    finally:
        for pid in loadclock._tree(child.pid)[::-1]:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        child.wait()
    assert naive > wall, (
        "four spinners on one CPU waited for each other"
    )  # what makes the test mean something
    assert clock.waited() <= 0.3 * wall, (clock.waited(), wall)


BURSTS = f"""
{PIN}
import os, time
for _ in range(50):
    if os.fork() == 0:
        while True:
            time.sleep(0.5 - time.monotonic() % 0.5)  # every child wakes at the same instant
            end = time.thread_time() + 0.002
            while time.thread_time() < end:
                pass
time.sleep(60)
"""


@needs_schedstat
def test_bursts_of_a_commands_own_processes_are_not_forgiven_as_outside_load() -> None:
    """Eighteenth red team (part A): children that wake together and burn 2 ms each wait for each other,
    runnable at few samples, and the clock counted those waits as outside load (two seconds a second
    here). Here 50 children pinned to one CPU wake together twice a second: each wait is at most a
    burst's length, ~0.1 s of every half second plus what other work on the machine takes of the CPU.
    The clock now forgives only what processes outside the tree ran, at most the longest wait of one
    thread: under a third of the run, however busy the machine, where the children's waits sum to more
    than the run."""
    child = subprocess.Popen([sys.executable, "-c", BURSTS])
    try:
        clock = LoadClock(child.pid, time.monotonic(), LIMIT)
        time.sleep(1.0)  # every child is up
        clock.sample()
        before, start = clock.waited(), time.monotonic()
        while time.monotonic() - start < 4.0:
            time.sleep(0.25)
            clock.sample()
        wall = time.monotonic() - start
        naive = sum(clock.seen.values()) / 1e9
    finally:
        for pid in loadclock._tree(child.pid)[::-1]:
            with contextlib.suppress(OSError):
                os.kill(pid, 9)
        child.wait()
    assert naive > wall, (
        "fifty children bursting together waited for each other"
    )  # what makes it mean something
    assert clock.waited() - before <= 0.3 * wall, (clock.waited() - before, wall)


@pytest.mark.parametrize("size", [0, 100, 4095, 4096, 5000, 8192])
def test_a_proc_file_read_with_system_calls_is_its_whole_text(tmp_path: Path, size: int) -> None:
    """The clock reads /proc with plain system calls (`loadclock._read`, several reads where one does
    not hold the file): the same text as `Path.read_text`, at every size around the read's buffer."""
    path = tmp_path / "f"
    path.write_text("".join(chr(ord("a") + i % 26) if i % 50 else "\n" for i in range(size)))
    assert loadclock._read(str(path)) == path.read_text()


def test_the_pass_over_proc_reads_each_process_as_read_text_does() -> None:
    """`loadclock._machine` and `_threads`, read with system calls, give what reading each stat file with
    `Path.read_text` gives, compared on a process that sleeps (its counters hold still)."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        time.sleep(0.3)  # past its start-up: its CPU counters hold still
        stat = Path(f"/proc/{sleeper.pid}/stat").read_text().rsplit(")", 1)[1].split()
        expected = (int(stat[1]), stat[19], int(stat[11]) + int(stat[12]), int(stat[13]) + int(stat[14]))
        machine = loadclock._machine()
        assert machine[sleeper.pid] == expected
        assert machine[sleeper.pid][0] == os.getpid()
        assert {p for p in machine} >= {os.getpid(), sleeper.pid}
        threads = loadclock._threads(sleeper.pid)
        task = Path(f"/proc/{sleeper.pid}/task/{sleeper.pid}")
        start = task.joinpath("stat").read_text().rsplit(")", 1)[1].split()[19]
        if Path("/proc/self/schedstat").exists():
            ran, delay = task.joinpath("schedstat").read_text().split()[:2]
            assert threads[(sleeper.pid, start)] == (int(ran), int(delay))
        assert loadclock.process_start(sleeper.pid) == stat[19]
    finally:
        sleeper.kill()
        sleeper.wait()
