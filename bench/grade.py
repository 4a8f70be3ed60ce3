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
- (b) raw: the same tests (FAIL_TO_PASS + PASS_TO_PASS, as the grader extends it) run as plain `python -m pytest -q -p
  no:cacheprovider` in a sandbox already holding the graded state; wall time of that one exec — the
  cost of running the tests at all, with no grading around it.
Prints per-task medians and the median of the per-task ratios a/b (goal: at most 1.15x), in wall time
and in CPU time (a cgroup-v1 cpuacct group holding this process and everything it starts, sandboxes
included, as in bench/synth.py): on a loaded machine the CPU ratio is the steadier of the two. Both
sides must agree on the verdict (the gold patch passes every test); a disagreement stops the bench.
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
from codekiln.grading.collateral import graded_pass_to_pass
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, synthesize

sys.path.insert(0, str(Path(__file__).parent))
from synth import Clock


def bench_tasks(spec: str, n: int) -> list[TaskRecord]:
    name = spec.split(":", 1)[-1].replace("==", "-")
    out = state_dir("bench-cache") / f"grade-tasks-{name}"
    config = SynthConfig(spec=spec, out=out, max_tasks=n, workers=1, batch_size=16)
    try:
        synthesize(config)
    except ConfigError:
        synthesize(config, redo=True)
    return read_tasks(out / "tasks.jsonl")[:n]


def graded_tests(task: TaskRecord, env: EnvRecord) -> list[str]:
    """The tests the grader runs: the record's, and the hidden files' other clean-passing tests that a
    record made before synthesis added them lacks (`grading.collateral`)."""
    return [*task.FAIL_TO_PASS, *graded_pass_to_pass(task, env)]


def raw_run(task: TaskRecord, env: EnvRecord, clock: Clock | None = None) -> tuple[float, float | None]:
    """Wall and CPU seconds of one plain pytest run of the task's tests in a sandbox holding the graded
    state (CPU None without a cgroup clock)."""
    with env_sandbox(env) as sb:
        for rel, text in graded_files(task, task.patch, Path(env.snapshot_path)).items():
            if text is not None:
                sb.write_file(rel, text)
        argv = ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *graded_tests(task, env)]
        cpu0 = clock.cpu() if clock else None
        start = time.monotonic()
        res = sb.exec(argv, timeout=env.test.timeout_s, env=env.test.env)
        took = time.monotonic() - start
        cpu1 = clock.cpu() if clock else None
        if res.exit_code != 0:
            raise SystemExit(f"raw pytest failed on {task.instance_id}'s graded state:\n{res.output[-2000:]}")
    return took, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)


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
    clock = Clock()
    rows = []
    try:
        for task in tasks:
            graded, raw, graded_cpu, raw_cpu = [], [], [], []
            for _ in range(args.rounds):
                result, cpu, _ = clock.measure(grade_patch, task, env, task.patch)
                if result.outcome != "resolved":
                    raise SystemExit(
                        f"the grader did not resolve {task.instance_id}'s gold patch: {result.detail}"
                    )
                graded.append(result.duration_s)
                wall, raw_cpu_s = raw_run(task, env, clock)
                raw.append(wall)
                if cpu is not None and raw_cpu_s is not None:
                    graded_cpu.append(cpu)
                    raw_cpu.append(raw_cpu_s)
            row: dict[str, object] = {
                "task": task.instance_id,
                "tests": len(graded_tests(task, env)),
                "grade_s": statistics.median(graded),
                "raw_s": statistics.median(raw),
            }
            row["ratio"] = row["grade_s"] / row["raw_s"]  # type: ignore[operator]
            cpu_note = ""
            if graded_cpu:
                row["grade_cpu_s"], row["raw_cpu_s"] = (
                    statistics.median(graded_cpu),
                    statistics.median(raw_cpu),
                )
                row["cpu_ratio"] = row["grade_cpu_s"] / row["raw_cpu_s"]  # type: ignore[operator]
                cpu_note = f"  cpu {row['grade_cpu_s']:.3f}/{row['raw_cpu_s']:.3f} s {row['cpu_ratio']:.2f}x"
            rows.append(row)
            print(f"{task.instance_id:60s} {row['tests']:4d} tests  grade {row['grade_s']:.3f} s  "
                  f"raw {row['raw_s']:.3f} s  {row['ratio']:.2f}x{cpu_note}", flush=True)  # fmt: skip
    finally:
        clock.close()
    ratio = statistics.median(r["ratio"] for r in rows)  # type: ignore[misc]
    print(f"\nmedian grade/raw over {len(rows)} tasks: wall {ratio:.2f}x", end="")
    cpu_ratio = (
        statistics.median(r["cpu_ratio"] for r in rows) if all("cpu_ratio" in r for r in rows) else None
    )  # type: ignore[misc]
    print(f", CPU {cpu_ratio:.2f}x" if cpu_ratio else " (no cgroup clock: no CPU figure)", "(goal <= 1.15x)")
    if args.json:
        args.json.write_text(
            json.dumps({"rows": rows, "median_ratio": ratio, "median_cpu_ratio": cpu_ratio}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
