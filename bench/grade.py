"""Grading benchmark: the hardened grader, everything included, against the physical limit.

    .venv/bin/python bench/grade.py                        # toolz, 6 tasks, 5 rounds
    .venv/bin/python bench/grade.py --spec pypi:markupsafe==3.0.4 --tasks 4 --rounds 3
    .venv/bin/python bench/grade.py --json out.json

For each task (synthesized once into CODEKILN_HOME/bench-cache, resumed in seconds afterwards), in the
same run and interleaved round by round so machine load hits both alike:
- (a) `grade_patch(task, env, task.patch)`: the default path every reward takes — a fresh sandbox,
  workspace preparation (bug in, hidden tests and git metadata out), the patch applied with git, what it
  changed read from the workspace and judged (rules, restores, shadowing, static scan), canaries
  planted, the guarded pytest run, the cross-checks and the verdict; wall time of the whole call.
- (b) raw: the same tests (FAIL_TO_PASS + PASS_TO_PASS) run as plain `python -m pytest -q -p
  no:cacheprovider` in a sandbox already holding the graded state; wall time of that one exec — the
  cost of running the tests at all, with no grading around it.
Prints per-task medians and the median of the per-task ratios a/b (goal: at most 1.15x). Both sides
must agree on the verdict (the gold patch passes every test); a disagreement stops the bench.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.envs import EnvRecord, env_sandbox, load_env
from codekiln.grading import grade_patch, graded_files
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, synthesize


def bench_tasks(spec: str, n: int) -> list[TaskRecord]:
    name = spec.split(":", 1)[-1].replace("==", "-")
    out = state_dir("bench-cache") / f"grade-tasks-{name}"
    config = SynthConfig(spec=spec, out=out, max_tasks=n, workers=1, batch_size=16)
    try:
        synthesize(config)
    except ConfigError:
        synthesize(config, redo=True)
    return read_tasks(out / "tasks.jsonl")[:n]


def raw_run(task: TaskRecord, env: EnvRecord) -> float:
    """Seconds of one plain pytest run of the task's tests in a sandbox holding the graded state."""
    with env_sandbox(env) as sb:
        for rel, text in graded_files(task, task.patch, Path(env.snapshot_path)).items():
            if text is not None:
                sb.write_file(rel, text)
        argv = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *task.tests]
        start = time.monotonic()
        res = sb.exec(argv, timeout=env.test.timeout_s, env=env.test.env)
        took = time.monotonic() - start
        if res.exit_code != 0:
            raise SystemExit(f"raw pytest failed on {task.instance_id}'s graded state:\n{res.output[-2000:]}")
    return took


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", default="pypi:toolz==1.2.0", help="the library to synthesize tasks from")
    parser.add_argument("--tasks", type=int, default=6, help="how many tasks to grade")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds per task and side")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    tasks = bench_tasks(args.spec, args.tasks)
    env = load_env(tasks[0].environment_id or "")
    grade_patch(tasks[0], env, tasks[0].patch)  # warm caches (page cache, pyc of codekiln itself)
    raw_run(tasks[0], env)
    rows = []
    for task in tasks:
        graded, raw = [], []
        for _ in range(args.rounds):
            result = grade_patch(task, env, task.patch)
            if result.outcome != "resolved":
                raise SystemExit(
                    f"the grader did not resolve {task.instance_id}'s gold patch: {result.detail}"
                )
            graded.append(result.duration_s)
            raw.append(raw_run(task, env))
        row = {
            "task": task.instance_id,
            "tests": len(task.tests),
            "grade_s": statistics.median(graded),
            "raw_s": statistics.median(raw),
        }
        row["ratio"] = row["grade_s"] / row["raw_s"]
        rows.append(row)
        print(f"{task.instance_id:60s} {row['tests']:4d} tests  grade {row['grade_s']:.3f} s  "
              f"raw {row['raw_s']:.3f} s  {row['ratio']:.2f}x", flush=True)  # fmt: skip
    ratio = statistics.median(r["ratio"] for r in rows)
    print(f"\nmedian grade/raw over {len(rows)} tasks: {ratio:.2f}x (goal <= 1.15x)")
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "median_ratio": ratio}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
