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
clock's reading is the wall-clock time less those waits over the command's process tree (every thread
of every descendant) that load from outside the tree caused, as far as counters show (below), so:

- a busy loop (a hang that spins) is stopped after `timeout` of the time it had a CPU or could not be
  given one for reasons other than load, exactly as before on an idle machine;
- a hang that sleeps (a deadlock, a wait on a socket) is never runnable, waits for no CPU, and is
  stopped after `timeout`, exactly as before;
- a run slowed by load is stopped only once the time it really ran passes `timeout`.

Only load from outside the command is forgiven, and only as far as it is seen: the rule reads
cumulative counters, never the state of a thread at a sample, so that no timing of the command's own
work relative to the samples changes what it is forgiven. Between two samples, dt apart, with the
command's threads (every thread of every process of its tree, each at the last value seen) having run
R and waited W thread-seconds, on C CPUs (the root's affinity), and the processes outside the tree
having run O CPU-seconds (the utime and stime of every other process of the machine, dead threads
included, and the cutime and cstime of the children each reaped, less where those stood at the last
pass, from a pass over /proc at each sample; a process born since the last pass counts whole):

- the waits an idle machine would make: at least R + W - C dt (the tree asked for R + W thread-seconds
  of CPU on C CPUs in dt), are never forgiven (seventeenth red team: a patch that starts `yes` twice
  per CPU waits for CPUs its own processes hold);
- the rest is forgiven only up to O: each second an outside process ran on a CPU kept at most one of the
  command's threads waiting for one second (O is read in clock ticks, so what a short interval does
  not use carries over to the next, up to one sample's worth: C x SAMPLE_S). A command alone on its machine is forgiven nothing,
  whatever its processes do (eighteenth red team, part A: 100 children waking on the same whole second
  to burn 2 ms each waited five thread-seconds a second for each other, runnable at few samples);
- what is left is shared among the threads that asked for a CPU: divided by the tree's mean demand,
  max(1, (R + W) / dt), and at most the largest wait of any one thread in the interval (a burst of many
  threads is slowed by at most what its most delayed thread waited).

So a command's own processes cannot make waits the clock forgives: forgiveness needs CPU time that
processes outside its tree ran, and a command in a pid namespace (bwrap) cannot put a process outside
its tree. On an idle machine a command's reading is its wall-clock time whatever it starts; a
single-threaded one slowed by outside load is read as before (its wait, which the outside processes'
CPU time covers); a many-threaded one is read at or above the time it would take on an idle machine.
Outside processes on CPUs the command may not use count too (the per-process counters name no CPU):
on a machine with CPUs pinned to other work the clock can forgive load that did not compete, up to
the command's own waits. A process that is born and dies between two samples is unseen: outside,
its CPU time is not counted (less is forgiven); in the tree, its waits are not counted (less is
forgiven) and its CPU time is not outside either. The pass over /proc costs ~2 ms per 130 processes,
once a second, for a command that runs longer than a quarter second.

However much waiting is counted, the command is stopped at `CEILING` times `timeout` of wall-clock
time: the ceiling bounds what any reading can grant (a command that spins a side thread on a machine
busy with other work is forgiven that thread's waits: the clock cannot tell which thread the command
waits on). Where the tree cannot be read (no schedstat in this
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
_TICK = os.sysconf("SC_CLK_TCK")
_CHILDREN = (_PROC / "self" / "task" / str(os.getpid()) / "children").exists()
"""The kernel lists each thread's children (CONFIG_PROC_CHILDREN)."""


def _read(path: str) -> str:
    """The text of a /proc file, read with plain system calls: a pass over /proc reads one small file
    per process, and `Path.read_text`'s path and text-stream objects cost twice the kernel's own work
    (~3.4 ms against ~1.1 for 130 processes' stat files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = chunk = os.read(fd, 4096)
        while len(chunk) == 4096:  # /proc's stat and schedstat files fit in one read; a longer one goes on
            chunk = os.read(fd, 4096)
            data += chunk
    finally:
        os.close(fd)
    return data.decode()


def _parent_and_start(stat: str) -> tuple[int, str]:
    fields = stat.rsplit(")", 1)[1].split()
    return int(fields[1]), fields[19]


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, as /proc says): with its pid, the process's
    identity, since pids are reused; None when it is gone."""
    try:
        return _parent_and_start(_read(f"/proc/{pid}/stat"))[1]
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
            parent, _ = _parent_and_start(_read(f"{entry.path}/stat"))
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def _threads(pid: int) -> dict[tuple[int, str], tuple[int, int]]:
    """Each thread of `pid` (by id and start time, so that a reused id is another thread) with the time it
    ran and the time it waited for a CPU (run_delay), in nanoseconds; empty where the process is gone
    or the kernel keeps no schedstat."""
    out = {}
    try:
        tids = os.listdir(_PROC / str(pid) / "task")
    except OSError:
        return {}
    for tid in tids:
        task = f"/proc/{pid}/task/{tid}/"
        try:
            _, start = _parent_and_start(_read(task + "stat"))
            ran, delay = _read(task + "schedstat").split()[:2]
            out[(int(tid), start)] = (int(ran), int(delay))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _machine() -> dict[int, tuple[int, str, int, int]]:
    """Every process of the machine by pid: its parent, its start, the CPU time it ran (utime + stime:
    every thread's, dead threads included) and the CPU time of the children it reaped (cutime +
    cstime), in clock ticks (one pass over /proc)."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            f = _read(f"/proc/{name}/stat").rsplit(")", 1)[1].split()
            out[int(name)] = (int(f[1]), f[19], int(f[11]) + int(f[12]), int(f[13]) + int(f[14]))
        except (OSError, IndexError, ValueError):
            continue
    return out


def _below(root: int, machine: dict[int, tuple[int, str, int, int]]) -> set[int]:
    """`root` and its descendants, by the parent links of `machine`."""
    children: dict[int, list[int]] = {}
    for pid, (parent, *_) in machine.items():
        children.setdefault(parent, []).append(pid)
    out, todo = set(), [root]
    while todo:
        pid = todo.pop()
        out.add(pid)
        todo.extend(children.get(pid, ()))
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
        self.seen: dict[tuple[int, str], int] = {}  # each thread's wait (ns), the largest seen
        self.ran: dict[tuple[int, str], int] = {}  # each thread's run (ns), the largest seen
        # every process of the machine at the last pass: its parent, its CPU ticks and its reaped children's
        self.others: dict[tuple[int, str], tuple[int, int, int]] | None = None
        self.cpus = _cpus(pid)
        self.forgiven = 0.0  # seconds of outside load, per thread of the tree (see the module docstring)
        self.credit = 0.0  # outside CPU seconds seen and not yet weighed against waits (see `sample`)
        self.last = start
        # No sample in the first quarter second (or quarter of the limit): most commands end before it,
        # and a sample costs a pass over /proc, a share of a 5 ms sandboxed exec. The first sample only
        # sets where every process stands (the waits before it, a quarter second at most, are not
        # forgiven: there is no count of what ran outside to weigh them against).
        self.next_sample = start + min(SAMPLE_S, timeout) / 4

    def _outside(self, tree: set[int], machine: dict[int, tuple[int, str, int, int]]) -> float:
        """CPU seconds the processes outside `tree` ran since the last pass (none at the first: it sets
        where each one stands): what each ran, and what the children it reaped since ran, less where
        those stood at the last pass (counted then). A process that was in the tree counts from where
        it stood there, and the tree's processes reaped outside count only past where they stood."""
        before = self.others or {}
        gone: dict[int, int] = {}  # by parent: where its children that are gone stood
        for key, (parent, own, reaped) in before.items():
            if key[0] not in machine or machine[key[0]][1] != key[1]:
                gone[parent] = gone.get(parent, 0) + own + reaped
        ticks, now = 0, {}
        for pid, (parent, start, own, reaped) in machine.items():
            key = (pid, start)
            now[key] = (parent, own, reaped)
            if self.others is not None and pid not in tree:
                _, was_own, was_reaped = before.get(key, (parent, 0, 0))
                ticks += max(0, own - was_own) + max(0, reaped - was_reaped - gone.get(pid, 0))
        self.others = now
        return ticks / _TICK

    def sample(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        first = self.others is None
        machine = _machine()
        tree = _below(self.pid, machine)
        outside = self._outside(tree, machine)
        ran = waited = most = 0
        for pid in tree:
            for key, (run, delay) in _threads(pid).items():
                more_run = max(0, run - self.ran.get(key, 0))
                more_wait = max(0, delay - self.seen.get(key, 0))
                self.ran[key], self.seen[key] = (
                    self.ran.get(key, 0) + more_run,
                    self.seen.get(key, 0) + more_wait,
                )
                ran, waited, most = ran + more_run, waited + more_wait, max(most, more_wait)
        dt, self.last = max(0.0, now - self.last), max(now, self.last)
        if first or dt <= 0:
            return  # no pass over /proc before this one: nothing outside to weigh the waits against
        run_s, wait_s = ran / 1e9, waited / 1e9
        own = max(0.0, run_s + wait_s - self.cpus * dt)  # what an idle machine would make it wait
        demand = max(1.0, (run_s + wait_s) / dt)
        # Outside CPU time is counted in clock ticks: over short intervals most read 0 while the waits
        # (ns) go on. What an interval does not use carries over, up to one full sample's worth.
        self.credit = min(self.credit + outside, self.cpus * SAMPLE_S)
        used = max(0.0, min(wait_s - own, self.credit))
        self.credit -= used
        self.forgiven += min(used / demand, most / 1e9)

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
