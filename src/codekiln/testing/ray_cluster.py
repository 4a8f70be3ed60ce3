"""A real Ray cluster on this machine, for tests and benches: a head and more nodes, each a
`ray start` process tree of its own that can be killed alone (by pid), and all torn down by pid.

    with LocalRayCluster(tmp_path / "ray") as cluster:     # the head: `ray start --head` on loopback
        node = cluster.add_node()                           # a second node: `ray start --address`
        ...RayExecutor(address=cluster.address)...
        os.kill(cluster.raylet_pid(node), signal.SIGKILL)   # the node dies mid-run

    cluster = LocalRayCluster(root).start_in_background()  # head + second node, while other work goes on
    cluster.ready()                                         # waits for them (raises what went wrong)
    with kill_during(cluster, "codekiln:rollouts") as killed:   # kills the worker of the first unit seen
        run()

Each node is started in a session of its own (its processes share one process group: the raylet and
the workers it spawns), on free loopback ports, with its own `--temp-dir`, so it never touches another
Ray on the machine. Teardown kills those process groups; `ray stop --force` is never used because it
kills every Ray process on the machine, including other users'. Settings this offline machine needs:
`RAY_AUTH_MODE=disabled` (no token file in $HOME), no usage stats, and quick health checks so the head
notices a dead node within seconds instead of half a minute.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import codekiln

RAY_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "1000",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "3",
}

RESCAN_S, POLL_S = 0.25, 0.002
"""`kill_during` walks /proc for the nodes' processes every RESCAN_S (~10-25 ms a walk here) and reads
only their titles every POLL_S in between. Walking /proc on every poll made a poll take ~45 ms, and a
unit of an already warm worker (a batch of one candidate: tens of milliseconds on a fast machine) could
start and end between two polls: its node was never seen running one. A new worker's first unit is
seen at the next walk (it takes far longer: the worker imports codekiln and opens its sandbox)."""


NODE_PORTS = 6
"""Ports each node listens on besides the head's own two (GCS, dashboard)."""


def free_ports(n: int) -> list[int]:
    """`n` different loopback ports nothing listens on now. All are bound at once before any is let go:
    a port asked for and closed one at a time is free again for the next ask, and the kernel gave the
    same one twice in 5 of 3,000 sets of 8 asks here (a node then fails to start, or two of its
    servers fight over one port)."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(n):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _ray_cli() -> str:
    found = Path(sys.executable).with_name("ray")
    return str(found) if found.exists() else shutil.which("ray") or "ray"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return raw.decode(errors="replace").split("\0")


def group_pids(pgid: int) -> list[int]:
    """The live processes of a process group."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid and not _zombie(int(entry.name)):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def node_pids(pgid: int) -> list[int]:
    """A node's live processes: its process group, and their descendants (Ray starts each worker in
    a process group of its own)."""
    found = set(group_pids(pgid))
    live = [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit()]
    grew = True
    while grew:
        more = {pid for pid in live if pid not in found and _ppid(pid) in found and not _zombie(pid)}
        found |= more
        grew = bool(more)
    return sorted(found)


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


@dataclass
class RayNode:
    name: str
    pgid: int
    node_manager_port: int


@dataclass
class LocalRayCluster:
    """A head node (and `add_node()` more) on 127.0.0.1; `cpus` and `memory_mb` per node."""

    root: Path
    cpus: int = 1
    memory_mb: int = 5000
    nodes: list[RayNode] = field(default_factory=list)
    port: int = 0
    _starting: threading.Thread | None = field(default=None, repr=False)
    _failed: list[BaseException] = field(default_factory=list, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The nodes' environment: this one, the Ray settings, and this process's codekiln first on the
        path (workers must import the code the driver pickles units of)."""
        source = str(Path(codekiln.__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (source, os.environ.get("PYTHONPATH", "")) if p)
        return {**os.environ, **RAY_ENV, "PYTHONPATH": path}

    def _start(self, name: str, args: list[str], ports: list[int]) -> RayNode:
        """Start a node with `args` on `ports` (NODE_PORTS of them, from one `free_ports` call)."""
        manager_port, objects, agent, agent_grpc, metrics, runtime_env = ports
        argv = [
            _ray_cli(), "start", *args, "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus),
            "--memory", str(self.memory_mb * 2**20), "--disable-usage-stats",
            "--node-manager-port", str(manager_port), "--object-manager-port", str(objects),
            "--dashboard-agent-listen-port", str(agent), "--dashboard-agent-grpc-port", str(agent_grpc),
            "--metrics-export-port", str(metrics), "--runtime-env-agent-port", str(runtime_env),
        ]  # fmt: skip
        log = (self.root / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            argv, env=self.env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        node = RayNode(name, proc.pid, manager_port)
        self.nodes.append(node)
        if proc.wait(timeout=120) != 0:
            raise RuntimeError(
                f"ray start for {name} failed: {(self.root / f'{name}.log').read_text()[-2000:]}"
            )
        return node

    def start(self) -> LocalRayCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.port, dashboard, *ports = free_ports(NODE_PORTS + 2)
        self._start(
            "head",
            ["--head", "--port", str(self.port), "--temp-dir", str(self.root / "tmp"),
             "--include-dashboard=false", "--dashboard-port", str(dashboard)],
            ports,
        )  # fmt: skip
        return self

    def start_in_background(self, nodes: int = 2) -> LocalRayCluster:
        """Start the head and `nodes - 1` more in a thread; `ready()` waits for them."""

        def up() -> None:
            try:
                self.start()
                for _ in range(nodes - 1):
                    self.add_node()
            except BaseException as err:  # raised by ready(), in the test that waits for the cluster
                self._failed.append(err)

        self._starting = threading.Thread(target=up, daemon=True)
        self._starting.start()
        return self

    def ready(self) -> LocalRayCluster:
        """The cluster once `start_in_background` is done; raises what made it fail."""
        if self._starting is not None:
            self._starting.join()
        if self._failed:
            raise self._failed[0]
        return self

    def add_node(self) -> RayNode:
        return self._start(
            f"node{len(self.nodes)}",
            ["--address", self.address, "--temp-dir", str(self.root / "tmp")],
            free_ports(NODE_PORTS),
        )

    def raylet_pid(self, node: RayNode) -> int:
        for pid in node_pids(node.pgid):
            argv = _cmdline(pid)
            if argv and argv[0].endswith("/raylet"):
                return pid
        raise LookupError(f"no raylet process is left for {node.name}")

    def worker_pids(self, task_name: str, node: RayNode | None = None) -> list[int]:
        """Worker processes (of `node`, or of any node) now running a task named `task_name` (a busy
        worker's title is `ray::NAME`; an idle one's `ray::IDLE`)."""
        return [
            pid
            for n in self.nodes
            if node is None or n is node
            for pid in node_pids(n.pgid)
            if (argv := _cmdline(pid)) and argv[0].startswith(f"ray::{task_name}")
        ]

    def stop(self) -> None:
        """Kill every process of every node (its group and their descendants, by pid), waiting until
        they are gone (a start still going on in the background is waited for first)."""
        if self._starting is not None:
            self._starting.join()
        for node in reversed(self.nodes):
            for sig in (signal.SIGTERM, signal.SIGKILL):
                pids = node_pids(node.pgid)
                for pid in pids:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        continue
                deadline = time.monotonic() + (1 if sig == signal.SIGTERM else 5)
                while node_pids(node.pgid) and time.monotonic() < deadline:
                    time.sleep(0.1)
                if not node_pids(node.pgid):
                    break
        self.nodes.clear()

    def __enter__(self) -> LocalRayCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


@contextmanager
def kill_during(
    cluster: LocalRayCluster, task_name: str, kill: str = "worker", node: RayNode | None = None
) -> Iterator[list[int]]:
    """While the block runs, kill once, as soon as a unit named `task_name` runs (on `node`, or
    anywhere): the worker process running it (`kill="worker"`) or `node`'s raylet (`kill="raylet"`,
    default: the second node's). Yields the pids killed (empty if no unit was seen running)."""
    killed: list[int] = []
    done = threading.Event()

    def watch() -> None:
        known: list[int] = []
        rescan = 0.0
        while not done.is_set():
            if time.monotonic() >= rescan:
                known = [pid for n in cluster.nodes if node is None or n is node for pid in node_pids(n.pgid)]
                rescan = time.monotonic() + RESCAN_S
            busy = [
                pid for pid in known if (argv := _cmdline(pid)) and argv[0].startswith(f"ray::{task_name}")
            ]
            if busy:
                pid = busy[0] if kill == "worker" else cluster.raylet_pid(node or cluster.nodes[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(POLL_S)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        yield killed
    finally:
        done.set()
        watcher.join()
