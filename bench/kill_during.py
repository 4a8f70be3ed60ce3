"""Benchmark: how often `codekiln.testing.ray_cluster.kill_during` sees a short unit of a warm Ray worker
running, against the watcher it replaced (a walk of all of /proc every 20 ms).

    .venv/bin/python bench/kill_during.py                 # 20 units each of 10, 30 and 100 ms
    .venv/bin/python bench/kill_during.py --units 40 --ms 30

A one-node `LocalRayCluster` (one CPU); one worker is warmed, then each unit (a `time.sleep`, named
`codekiln:probe`) runs alone while a watcher polls: `kill_during` itself for the new side (with
`kill="worker"`: a unit it sees is killed, and Ray runs it again), the old loop for the other. A unit
counts as seen when the watcher found it running. The Ray tests that kill a worker or a node mid-run
(tests/tasks/test_synth_ray.py, tests/rollouts/test_rollout_ray.py, tests/tasks/test_mine_e2e.py)
need their unit seen; a warm worker's unit is tens of milliseconds on a fast machine.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import ray

from codekiln.testing.ray_cluster import LocalRayCluster, kill_during

NAME = "codekiln:probe"


def unit(seconds: float) -> int:
    time.sleep(seconds)
    return 1


def old_watcher_saw(cluster: LocalRayCluster, run: threading.Event) -> bool:
    """The replaced loop: every 20 ms, every node's processes from a walk of /proc."""
    while not run.is_set():
        if cluster.worker_pids(NAME):
            return True
        time.sleep(0.02)
    return False


def count(cluster: LocalRayCluster, units: int, seconds: float) -> tuple[int, int]:
    remote = ray.remote(unit).options(name=NAME, num_cpus=1, max_retries=3)
    ray.get(remote.remote(0.5))  # a warm worker
    old = new = 0
    for _ in range(units):
        done, result = threading.Event(), list[bool]()
        watcher = threading.Thread(target=lambda d=done, r=result: r.append(old_watcher_saw(cluster, d)))
        watcher.start()
        time.sleep(0.3)  # polling before the unit starts, as in a run
        ray.get(remote.remote(seconds))
        time.sleep(0.05)
        done.set()
        watcher.join()
        old += result[0]
    for _ in range(units):
        with kill_during(cluster, NAME) as killed:
            time.sleep(0.3)
            ray.get(remote.remote(seconds))  # a killed try runs again
            time.sleep(0.05)
        new += len(killed)
    return old, new


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=20)
    parser.add_argument("--ms", type=float, nargs="+", default=[10, 30, 100])
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    with LocalRayCluster(Path(tempfile.mkdtemp()) / "ray") as cluster:
        ray.init(address=cluster.address, logging_level="ERROR")
        try:
            for ms in args.ms:
                old, new = count(cluster, args.units, ms / 1000)
                print(
                    f"units of {ms:g} ms: seen running by the old watcher {old}/{args.units}, by kill_during {new}/{args.units}"
                )
        finally:
            ray.shutdown()


if __name__ == "__main__":
    main()
