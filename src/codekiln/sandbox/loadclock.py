"""A wall-clock limit that a busy machine does not eat: time a command's processes spent waiting for a CPU
is not counted against it, up to a ceiling.

    clock = LoadClock(pid, start, timeout)   # pid: the command's process, its descendants are watched
    clock.sample()                           # every SAMPLE_S while it runs (the stalls of short-lived
                                             # processes are only seen while they live)
    clock.due(now)                           # True once the limit is spent

A limit of `timeout` seconds means what the command may take on an idle machine. On a loaded one a
CPU-bound test suite gets a fraction of a core (s3fs's baseline got ~0.3 of one with the load average at
7 on 2 cores) and a plain wall-clock limit fails a healthy suite. The kernel counts, per thread, the time
it was runnable but waited for a CPU (`/proc/PID/task/TID/schedstat`, second field: run_delay). The
clock's reading is the wall-clock time less the largest total of those waits seen over the command's
process tree (every thread of every descendant, each counted at the last value seen), so:

- a busy loop (a hang that spins) is stopped after `timeout` of the time it had a CPU or could not be
  given one for reasons other than load, exactly as before on an idle machine;
- a hang that sleeps (a deadlock, a wait on a socket) is never runnable, waits for no CPU, and is
  stopped after `timeout`, exactly as before;
- a run slowed by load is stopped only once the time it really ran passes `timeout`.

Only load from outside the command is forgiven. A command that makes its own load (more runnable
threads than CPUs: a patch that starts `yes` twice per CPU) would otherwise wait for CPUs its own
processes hold and count those waits as the machine's (seventeenth red team: a fix spinning 90 s
beside such load was `resolved` under a 60 s limit). So between two samples, with T of the tree's
threads runnable (the larger count of the two samples) on C CPUs, the waits the tree would have on an
idle machine, (T - C) thread-seconds a second, are not forgiven, and what is left is shared among the T
threads: the clock advances by each thread's own share of the wait, not by their sum. On an idle
machine a command's reading is the wall-clock time whatever it starts; a single-threaded one slowed
by outside load is read as before; a many-threaded one is read at or above the time it would take on
an idle machine (never below).

However much waiting is counted, the command is stopped at `CEILING` times `timeout` of wall-clock
time: the count reads threads at samples, and the ceiling bounds what any reading can grant. Where the tree cannot be read (no schedstat in this
kernel, or processes outside the command's tree, such as a container's under its runtime) no wait is
seen and the limit is the plain wall-clock one.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

CEILING = 3.0
"""The most wall-clock time a command may take, as a multiple of its limit, however loaded the machine."""
SAMPLE_S = 1.0
"""How often the process tree's waits are read while the command runs."""
_PROC = Path("/proc")
_CHILDREN = (_PROC / "self" / "task" / str(os.getpid()) / "children").exists()
"""The kernel lists each thread's children (CONFIG_PROC_CHILDREN)."""


def _parent_and_start(stat: str) -> tuple[int, str]:
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[19]


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, as /proc says): with its pid, the process's
    identity, since pids are reused; None when it is gone."""
    try:
        return _parent_and_start(Path(f"/proc/{pid}/stat").read_text())[1]
    except (OSError, IndexError, ValueError):
        return None


def _tree(root: int) -> list[int]:
    """`root` and every process below it: from each thread's list of its children where the kernel
    keeps one (`_children_tree`), else one pass over /proc's parent links (`_scanned_tree`)."""
    return _children_tree(root) if _CHILDREN else _scanned_tree(root)


def _children_tree(root: int) -> list[int]:
    """`root` and its descendants, read down from `root` (/proc/PID/task/TID/children): the processes
    whose parent is in the tree, as a scan of /proc finds them, at a cost that grows with the tree,
    not with the machine (a scan of 170 processes cost ~5 ms, once a second for every command that
    runs long: a warm validation session lives through the whole validation)."""
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        try:
            tids = os.listdir(_PROC / str(pid) / "task")
        except OSError:  # gone
            continue
        for tid in tids:
            try:
                todo.extend(
                    int(child) for child in (_PROC / str(pid) / "task" / tid / "children").read_text().split()
                )
            except (OSError, ValueError):
                continue
    return out


def _scanned_tree(root: int) -> list[int]:
    """`root` and every process below it (one pass over /proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir(_PROC):
        if not entry.name.isdigit():
            continue
        try:
            parent, _ = _parent_and_start(Path(entry.path, "stat").read_text())
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _waits(pid: int) -> dict[tuple[int, str], tuple[int, bool]]:
    """Each thread of `pid` (by id and start time, so that a reused id is another thread) with its
    run_delay in nanoseconds and whether it is runnable now (state R); empty where the process is gone
    or the kernel keeps no schedstat."""
    out = {}
    try:
        tids = os.listdir(_PROC / str(pid) / "task")
    except OSError:
        return {}
    for tid in tids:
        task = _PROC / str(pid) / "task" / tid
        try:
            stat = (task / "stat").read_text()
            _, start = _parent_and_start(stat)
            runnable = stat.rsplit(")", 1)[1].split()[0] == "R"
            out[(int(tid), start)] = (int((task / "schedstat").read_text().split()[1]), runnable)
        except (OSError, IndexError, ValueError):
            continue
    return out


def _cpus(pid: int) -> int:
    """How many CPUs process `pid` may run on (1 where it is gone)."""
    try:
        return max(1, len(os.sched_getaffinity(pid)))
    except OSError:
        return 1


class LoadClock:
    """The limit of one running command: see the module docstring."""

    def __init__(self, pid: int, start: float, timeout: float) -> None:
        self.pid, self.start, self.timeout = pid, start, timeout
        self.seen: dict[tuple[int, str], int] = {}
        self.cpus = _cpus(pid)
        self.forgiven = 0.0  # seconds of outside load, per thread of the tree (see the module docstring)
        self.last = (start, 0, 1)  # (when, total waits in ns, threads runnable) at the last sample
        # No sample in the first second (or half the limit): most commands end before it, and a sample
        # costs ~0.2 ms (a scan of /proc, where the kernel lists no children: a few ms), a share of a
        # 5 ms sandboxed exec. A long-lived thread's waits are counted from its start whenever it is
        # first read; only short-lived early ones go unseen.
        self.next_sample = start + min(SAMPLE_S, timeout / 2)

    def sample(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        runnable = 0
        for pid in _tree(self.pid):
            for key, (delay, running) in _waits(pid).items():
                self.seen[key] = max(delay, self.seen.get(key, 0))
                runnable += running
        when, before, was_runnable = self.last
        total = sum(self.seen.values())
        threads = max(1, runnable, was_runnable)
        own = max(0.0, now - when) * max(0, threads - self.cpus)  # what an idle machine would make it wait
        self.forgiven += max(0.0, (total - before) / 1e9 - own) / threads
        self.last = (max(now, when), total, max(1, runnable))

    def waited(self) -> float:
        """Seconds of the command's run lost to load from outside it, as far as seen."""
        return self.forgiven

    def due(self, now: float) -> bool:
        """Whether the limit is spent at `now` (monotonic), by the waits sampled so far."""
        wall = now - self.start
        if wall < self.timeout:
            return False
        return wall >= CEILING * self.timeout or wall - self.waited() >= self.timeout

    def tick(self, now: float) -> None:
        """Sample the tree when a sample is due; the next one comes when the limit could be spent by then
        (what is left of it, by this reading), at most SAMPLE_S later."""
        if now >= self.next_sample:
            self.sample(now)
            left = self.timeout - (now - self.start - self.waited())
            self.next_sample = now + min(SAMPLE_S, max(0.02, left))

    def wait_s(self, now: float) -> float:
        """How long the supervisor may sleep before the clock needs a sample or a check."""
        return max(0.0, self.next_sample - now)
