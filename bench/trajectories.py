"""Benchmark: build multi-step trajectories from cached tasks and replay them through the real grader.

    .venv/bin/python bench/trajectories.py                          # every cached task x swe/mini/terminus
    .venv/bin/python bench/trajectories.py --tasks out/toolz --formats hermes,glm46 --out traj.jsonl

For each task (a synth output directory's tasks.jsonl; default: the test cache's toolz and markupsafe
tasks under $CODEKILN_HOME/test-cache) and each scaffold, `codekiln.training.trajectories` plans the
turns from the task data, plays them through the agent loop in the next format of `--formats`, grades the
agent's patch in a fresh sandbox, and applies the SFT filters. Prints the resolved and kept rates; the
rows (rollouts-shaped, `codekiln export sft` reads them) go to `--out`.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.envs import load_env
from codekiln.tasks.export.datasets import read_tasks
from codekiln.training.trajectories import SCAFFOLDS, Built, build_trajectories, replay_report

CACHED = ["recorded-toolz", "rollout-tasks-toolz", "reports-tasks-toolz", "audit-tasks-markupsafe"]
FORMATS = "hermes,qwen3_coder,glm46,llama4_pythonic,xml_cline,openai_json"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tasks", nargs="*", help="synth output directories (default: the test cache's)")
    ap.add_argument("--scaffolds", default=",".join(SCAFFOLDS))
    ap.add_argument("--formats", default=FORMATS, help="taken in turn per task and scaffold")
    ap.add_argument("--out", default=".codekiln/trajectories.jsonl")
    args = ap.parse_args(argv)
    dirs = [Path(d) for d in args.tasks] if args.tasks else [state_dir("test-cache") / d for d in CACHED]
    tasks, seen = [], set()
    for d in dirs:
        for task in read_tasks(d / "tasks.jsonl"):
            if task.instance_id not in seen:
                seen.add(task.instance_id)
                tasks.append(task)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("")
    start = time.perf_counter()

    def save(b: Built) -> None:
        with out.open("a") as fh:
            fh.write(json.dumps(b.row()) + "\n")
        steps = len(b.trajectory.steps) if b.trajectory else 0
        print(
            f"[{time.perf_counter() - start:5.0f}s] {b.task_id} {b.scaffold}/{b.format}: "
            f"{steps} steps, resolved={b.resolved}, drop={b.drop}",
            file=sys.stderr,
        )

    built = []
    by_env: dict[str, list] = {}
    for task in tasks:
        by_env.setdefault(task.environment_id or "", []).append(task)
    for env_id, group in by_env.items():
        built += build_trajectories(
            group,
            load_env(env_id),
            scaffolds=args.scaffolds.split(","),
            formats=args.formats.split(","),
            on_built=save,
        )
    report = replay_report(built)
    print(json.dumps(report, indent=2))
    print(
        f"{len(tasks)} tasks x {len(args.scaffolds.split(','))} scaffolds in {time.perf_counter() - start:.0f}s; rows in {out}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
