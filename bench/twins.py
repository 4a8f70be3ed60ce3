"""The twin check's cost (`grading.twin_check`): a resolved grade with it off, with the task's kept twin
still to be worked out (the gold's twin run, once per task), and with it cached.

    .venv/bin/python bench/twins.py                         # toolz, 4 tasks, 2 rounds
    .venv/bin/python bench/twins.py --tasks 2 --rounds 3

The gold patch of each task (synthesized once into CODEKILN_HOME/bench-cache, as `bench/grade.py`
does) is graded three ways per round, interleaved so load hits all alike: `off` (`GradePolicy(twins=
False)`), `cold` (the task's cached twin deleted first: the gold's twin run, then the candidate's two)
and `warm` (two extra graded runs: the twin's and the real rerun, in a drawn order). Prints wall-time
medians per task and whether the task keeps a twin (a task without one costs nothing extra: no run is
made).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.envs import load_env
from codekiln.grading import GradePolicy, grade_patch
from codekiln.grading.twin_check import _key, kept_twin
from codekiln.grading.twins import twin_files

sys.path.insert(0, str(Path(__file__).parent))
from grade import bench_tasks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--spec", default="pypi:toolz==1.2.0", help="the library to synthesize tasks from")
    parser.add_argument("--tasks", type=int, default=4, help="how many tasks to grade")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per task")
    args = parser.parse_args()
    for task in bench_tasks(args.spec, args.tasks):
        env = load_env(task.environment_id or "")
        snapshot = Path(env.snapshot_path)
        files = twin_files(snapshot, list(task.FAIL_TO_PASS), task.instance_id)
        cache = state_dir("twins") / f"{_key(task, snapshot, files)}.json"
        times: dict[str, list[float]] = {"off": [], "cold": [], "warm": []}
        for _ in range(args.rounds):
            cache.unlink(missing_ok=True)
            for side, policy in (("off", GradePolicy(twins=False)), ("cold", None), ("warm", None)):
                start = time.monotonic()
                grade = grade_patch(task, env, task.patch, policy=policy)
                times[side].append(time.monotonic() - start)
                if grade.outcome != "resolved":
                    print(f"{task.instance_id}: the gold is {grade.outcome} ({side}): {grade.detail}")
                    return 1
        kept = kept_twin(task, snapshot, grade_patch) if files else None  # cached by now: no run
        medians = {side: statistics.median(v) for side, v in times.items()}
        print(
            f"{task.instance_id}: twin files {len(files)}, kept ids {len(kept[1]) if kept else 0}; "
            + ", ".join(f"{side} {m:.2f} s" for side, m in medians.items())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
