"""What the task-tree cache's bound costs (`sandbox.treecache`): a cached `task_tree` call (now with its
lease: open, flock, utime), and `evict`'s scan of a cache of N trees that fits its budget (what every
new tree's build pays on top of the build), on the recorded toolz tasks' snapshot.

    CODEKILN_HOME=$PWD/.codekiln/test-home PYTHONPATH=src .venv/bin/python bench/treecache.py -n 200

The trees are built under a temporary `$CODEKILN_HOME/tasktrees` of their own (the same snapshot, N
starts that each add one file), then deleted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "rollouts"))

from rollout_support import toolz_tasks  # noqa: E402

from codekiln.envs import load_env  # noqa: E402
from codekiln.grading.start import agent_start  # noqa: E402
from codekiln.sandbox import SANDBOX_UID, StartTree  # noqa: E402
from codekiln.sandbox.tasktree import task_tree  # noqa: E402
from codekiln.sandbox.treecache import evict, usage  # noqa: E402
from codekiln.tasks.export.datasets import read_tasks  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="trees in the cache")
    parser.add_argument("--repeat", type=int, default=200, help="timed calls of each kind")
    args = parser.parse_args()
    task = read_tasks(toolz_tasks() / "tasks.jsonl")[0]
    snap = Path(load_env(task.environment_id or "").snapshot_path)
    base = agent_start(task, snap)
    owner = (SANDBOX_UID, SANDBOX_UID)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["CODEKILN_HOME"] = tmp
        start = time.perf_counter()
        for i in range(args.n):
            task_tree(snap, StartTree({**base.files, f"bench_{i}.py": b"x = 1\n"}), owner).lease.release()
        build = (time.perf_counter() - start) / args.n
        cached, first = [], StartTree({**base.files, "bench_0.py": b"x = 1\n"})
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            task_tree(snap, first, owner).lease.release()
            cached.append(time.perf_counter() - t0)
        scans = []
        for _ in range(max(1, args.repeat // 10)):
            t0 = time.perf_counter()
            evict(Path(tmp) / "tasktrees", 2**62)
            scans.append(time.perf_counter() - t0)
        held = usage()
        print(
            f"{held.trees} trees, {held.bytes / 2**20:.1f} MiB ({held.bytes / held.trees / 2**20:.2f} MiB each)"
        )
        print(f"build (mean of {args.n}, eviction scan included): {build * 1e3:.1f} ms")
        print(f"cached task_tree + lease (median of {args.repeat}): {statistics.median(cached) * 1e3:.3f} ms")
        print(f"evict scan of {held.trees} trees, nothing to delete (median of {len(scans)}): "
              f"{statistics.median(scans) * 1e3:.1f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
