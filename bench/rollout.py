"""Agent harness benchmark: per-step overhead beside mini-swe-agent, then rollout throughput by concurrency.

    .venv/bin/python bench/rollout.py                       # 30 steps x 3 episodes per variant, levels 1,2,4,8
    .venv/bin/python bench/rollout.py --quick               # 15 steps x 2 episodes
    .venv/bin/python bench/rollout.py --steps 50 --levels 1,4 --json out.json

Part 1, harness overhead per agent step. The same scripted actions (cheap shell commands: `true`,
`echo x`) are played on the same real task (toolz, synthesized once into CODEKILN_HOME/bench-cache) by:
- codekiln's `Agent` with a `ScriptedModel` in the `mini` and `swe` scaffolds, in the task's bwrap
  sandbox (`open_task_sandbox`), with and without the rollout engine's per-step save (partial JSONL);
- mini-swe-agent 2.4.6's `DefaultAgent` with its `DeterministicModel`, in (a) its own `LocalEnvironment`
  (host shell, no sandbox: its native default) and (b) codekiln's `SandboxEnvironment` on the same kind of
  bwrap sandbox, with and without its per-step trajectory save (`output_path`).
A step's wall time is the time between consecutive step boundaries (so it includes the loop's limit
checks and callbacks); the command's own time (the sandbox's `exec`, or mini's `env.execute`) and the
model's own time (codekiln: the backend's raw completion, `_complete`; rendering the prompt and parsing
the reply with the chat format are codekiln's work and stay in the overhead; mini: its model's `query`)
are measured inside that interval by timing wrappers and subtracted: overhead = wall - exec - model. Variants are interleaved episode by episode so machine load hits all
alike. Target: codekiln's p50 overhead below mini-swe-agent's (same sandbox) and under 10 ms.

Part 2, episodes per minute at concurrency 1, 2, 4, 8: `run_rollouts` with the `oracle` policy (applies
the gold patch, submits) on the real tasks; an episode includes opening the sandbox, the agent turns AND
grading the patch in a fresh sandbox (running the task's tests), which dominates its time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from codekiln.agents import Agent, AgentLimits, Step, Trajectory
from codekiln.agents.scaffolds import SENTINEL
from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.core.protocols import Sandbox
from codekiln.core.records import append_jsonl
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import open_task_sandbox
from codekiln.models.scripted import ScriptedModel
from codekiln.rollouts.engine import RolloutConfig, read_rollouts, run_rollouts
from codekiln.rollouts.thirdparty import SandboxEnvironment, import_mini, mini_config
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, synthesize

TOOLZ = "pypi:toolz==1.2.0"
N_TASKS = 3
COMMANDS = ["true", "echo x"]
TARGET_MS = 10.0
Sample = tuple[float, float, float]  # (wall, exec, model) seconds of one step


def bench_tasks() -> tuple[Path, list[TaskRecord]]:
    """Real toolz tasks, synthesized once into the bench cache (resumed in seconds afterwards)."""
    out = state_dir("bench-cache") / "rollout-tasks-toolz"
    config = SynthConfig(spec=TOOLZ, out=out, max_tasks=N_TASKS, workers=1, batch_size=8)
    try:
        synthesize(config)
    except ConfigError:  # made by another synthesis configuration: start over
        synthesize(config, redo=True)
    tasks = read_tasks(out / "tasks.jsonl")
    if not tasks:
        sys.exit(f"synthesis produced no tasks in {out}")
    return out, tasks


class Meter:
    """Accumulates exec and model time inside the current step; `cut()` closes the step at a boundary."""

    def __init__(self) -> None:
        self.exec_s = self.model_s = 0.0
        self.last: float | None = None
        self.samples: list[Sample] = []

    def cut(self) -> None:
        now = time.perf_counter()
        if self.last is not None:
            self.samples.append((now - self.last, self.exec_s, self.model_s))
        self.last, self.exec_s, self.model_s = now, 0.0, 0.0


class TimedSandbox:
    """Delegates to a real sandbox, adding each `exec`'s wall time to the meter."""

    def __init__(self, sandbox: Sandbox, meter: Meter) -> None:
        self._sandbox, self._meter = sandbox, meter

    def exec(self, *args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return self._sandbox.exec(*args, **kwargs)
        finally:
            self._meter.exec_s += time.perf_counter() - t

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sandbox, name)


def timed_model(model: ScriptedModel, meter: Meter) -> ScriptedModel:
    """The model with only its own work, producing the raw output (`_complete`), added to the meter.
    Rendering the prompt and parsing the output with the chat format are codekiln's work: they stay in
    the measured overhead, as mini-swe-agent's own templating and parsing do on its side."""
    complete = model._complete

    def _complete(*args: Any, **kwargs: Any) -> Any:
        t = time.perf_counter()
        try:
            return complete(*args, **kwargs)
        finally:
            meter.model_s += time.perf_counter() - t

    model._complete = _complete  # type: ignore[method-assign]
    return model


def actions(steps: int) -> list[str]:
    return [COMMANDS[i % len(COMMANDS)] for i in range(steps)]


def codekiln_episode(
    scaffold: str, task: TaskRecord, env: EnvRecord, steps: int, save: Path | None
) -> list[Sample]:
    """One codekiln episode of `steps` scripted bash calls then the scaffold's submission."""
    meter = Meter()
    turns: list[str | dict[str, Any]] = [
        {"content": "", "tool_calls": [{"name": "bash", "arguments": {"command": c}}]} for c in actions(steps)
    ]
    end = {"name": "submit", "arguments": {}} if scaffold == "swe" else {
        "name": "bash", "arguments": {"command": f"echo {SENTINEL}"}}  # fmt: skip
    turns.append({"content": "", "tool_calls": [end]})
    model = timed_model(ScriptedModel(turns), meter)
    written = [0]

    def on_step(traj: Trajectory, step: Step | None) -> None:
        if save is not None:  # what the rollout engine does after every step
            rows = [{"type": "step", "step": s.model_dump(mode="json")} for s in traj.steps[written[0] :]]
            append_jsonl(save, rows)
            written[0] = len(traj.steps)
        if step is not None:
            meter.cut()

    agent = Agent(scaffold, AgentLimits(max_turns=steps + 5))
    with open_task_sandbox(task, env) as sandbox:
        meter.cut()
        traj = agent.run(task, TimedSandbox(sandbox, meter), model, on_step=on_step)  # type: ignore[arg-type]
    if traj.exit_reason != "submitted" or traj.totals.tool_calls < steps:
        sys.exit(f"codekiln {scaffold} episode ended {traj.exit_reason}: {traj.exit_message} {traj.error}")
    return meter.samples[1:]  # the first interval holds the episode's setup


def mini_episode(kind: str, task: TaskRecord, env: EnvRecord, steps: int, save: Path | None) -> list[Sample]:
    """One mini-swe-agent episode: its DefaultAgent replaying the same commands in `kind` ("local" or
    "sandbox"), its SWE-bench config's templates, cost_limit 0."""
    mini = import_mini()
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models.test_models import DeterministicModel, make_output

    meter = Meter()
    cfg = mini_config("swebench.yaml", steps + 5, None)
    outputs = [make_output(f"run {c}", [{"command": c}]) for c in [*actions(steps), f"echo {SENTINEL}"]]
    obs_template = cfg["model"].get("observation_template")

    class Model(DeterministicModel):  # type: ignore[misc]
        def query(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            t = time.perf_counter()
            try:
                return super().query(*args, **kwargs)  # type: ignore[no-any-return]
            finally:
                meter.model_s += time.perf_counter() - t

    class Local(LocalEnvironment):  # type: ignore[misc]
        def execute(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            t = time.perf_counter()
            try:
                return super().execute(*args, **kwargs)  # type: ignore[no-any-return]
            finally:
                meter.exec_s += time.perf_counter() - t

    class Timed(mini.agents.default.DefaultAgent):  # type: ignore[misc,name-defined]
        def step(self) -> list[dict[str, Any]]:
            meter.cut()
            return super().step()  # type: ignore[no-any-return]

    model = Model(outputs=outputs, **({"observation_template": obs_template} if obs_template else {}))
    agent_cfg = {**cfg["agent"], "output_path": save}
    env_vars = {k: str(v) for k, v in (cfg["environment"].get("env") or {}).items() if k != "BASH_ENV"}
    if kind == "local":
        agent = Timed(model, Local(cwd=env.snapshot_path, env=env_vars, timeout=60), **agent_cfg)
        agent.run(task.problem_statement)
    else:
        with open_task_sandbox(task, env) as sandbox:
            environment = SandboxEnvironment(TimedSandbox(sandbox, meter), **cfg["environment"])  # type: ignore[arg-type]
            agent = Timed(model, environment, **agent_cfg)
            agent.run(task.problem_statement)
    if agent.messages[-1].get("extra", {}).get("exit_status") != "Submitted":
        sys.exit(f"mini-swe-agent ({kind}) did not submit: {agent.messages[-1]}")
    return meter.samples[1:]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def load_note() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def direct_exec(task: TaskRecord, env: EnvRecord, n: int) -> dict[str, float]:
    """p50 ms of `sandbox.exec(cmd)` called directly, for reference beside the in-episode exec times."""
    out = {}
    with open_task_sandbox(task, env) as sandbox:
        for cmd in COMMANDS:
            times = []
            for _ in range(n):
                t = time.perf_counter()
                sandbox.exec(cmd)
                times.append(time.perf_counter() - t)
            out[cmd] = statistics.median(times) * 1000
    return out


def overhead(args: argparse.Namespace, task: TaskRecord, env: EnvRecord, tmp: Path) -> dict[str, Any]:
    variants: dict[str, Callable[[Path], list[Sample]]] = {
        "codekiln mini scaffold (bwrap)": lambda p: codekiln_episode("mini", task, env, args.steps, None),
        "codekiln swe scaffold (bwrap)": lambda p: codekiln_episode("swe", task, env, args.steps, None),
        "codekiln swe + per-step save": lambda p: codekiln_episode("swe", task, env, args.steps, p),
        "mini-swe-agent LocalEnvironment (host)": lambda p: mini_episode(
            "local", task, env, args.steps, None
        ),
        "mini-swe-agent SandboxEnvironment (bwrap)": lambda p: mini_episode(
            "sandbox", task, env, args.steps, None
        ),
        "mini-swe-agent sandbox + per-step save": lambda p: mini_episode("sandbox", task, env, args.steps, p),
    }
    samples: dict[str, list[Sample]] = {name: [] for name in variants}
    for run in variants.values():  # warm-up episode each (imports, first sandbox), not counted
        run(tmp / "warm.jsonl")
    for rep in range(args.reps):  # interleaved so load hits every variant alike
        for i, (name, run) in enumerate(variants.items()):
            path = tmp / f"save-{rep}-{i}.json"
            samples[name].extend(run(path))
    rows: dict[str, Any] = {}
    print(f"\nPer-step harness overhead, {args.steps} steps x {args.reps} episodes per variant "
          f"(task {task.instance_id}); ms")  # fmt: skip
    head = f"{'variant':44} {'steps':>5} {'wall p50':>8} {'exec p50':>8} {'model p50':>9}"
    print(f"{head} {'ovh p50':>8} {'ovh p90':>8} {'ovh+model p50':>13}")
    for name, data in samples.items():
        wall = [w * 1000 for w, _, _ in data]
        exe = [e * 1000 for _, e, _ in data]
        mod = [m * 1000 for _, _, m in data]
        ovh = [(w - e - m) * 1000 for w, e, m in data]
        ovm = [(w - e) * 1000 for w, e, _ in data]
        row = {
            "steps": len(data), "wall_p50": pct(wall, 0.5), "exec_p50": pct(exe, 0.5),
            "model_p50": pct(mod, 0.5), "overhead_p50": pct(ovh, 0.5), "overhead_p90": pct(ovh, 0.9),
            "overhead_with_model_p50": pct(ovm, 0.5), "overhead_with_model_p90": pct(ovm, 0.9),
        }  # fmt: skip
        rows[name] = row
        print(
            f"{name:44} {row['steps']:>5} {row['wall_p50']:>8.2f} {row['exec_p50']:>8.2f} "
            f"{row['model_p50']:>9.3f} {row['overhead_p50']:>8.2f} {row['overhead_p90']:>8.2f} "
            f"{row['overhead_with_model_p50']:>13.2f}"
        )
    pairs = [
        ("codekiln mini scaffold (bwrap)", "mini-swe-agent SandboxEnvironment (bwrap)"),
        ("codekiln swe scaffold (bwrap)", "mini-swe-agent SandboxEnvironment (bwrap)"),
        ("codekiln swe scaffold (bwrap)", "mini-swe-agent LocalEnvironment (host)"),
        ("codekiln swe + per-step save", "mini-swe-agent sandbox + per-step save"),
    ]
    print("\nRatios codekiln / mini-swe-agent (overhead p50, excluding the command and the model call):")
    for ck, ms in pairs:
        a, b = rows[ck]["overhead_p50"], rows[ms]["overhead_p50"]
        print(f"  {ck} / {ms}: {a:.2f} / {b:.2f} ms = {a / b:.2f}x")
    best = max(rows[n]["overhead_p50"] for n in rows if n.startswith("codekiln") and "save" not in n)
    rival = rows["mini-swe-agent SandboxEnvironment (bwrap)"]["overhead_p50"]
    verdict = "MET" if best < TARGET_MS and best < rival else "NOT MET"
    print(f"Target (codekiln p50 overhead < mini-swe-agent's and < {TARGET_MS:g} ms): {verdict} "
          f"(codekiln worst scaffold {best:.2f} ms vs {rival:.2f} ms)")  # fmt: skip
    return rows


def throughput(args: argparse.Namespace, tasks_dir: Path, n_tasks: int, tmp: Path) -> list[dict[str, Any]]:
    n = math.ceil(args.min_episodes / n_tasks)
    print(f"\nRollout throughput: oracle policy, swe scaffold, {n_tasks} tasks x {n} samples = "
          f"{n_tasks * n} episodes per level; an episode = sandbox + agent turns + grading in a fresh "
          "sandbox (the task's tests run)")  # fmt: skip
    print(f"{'workers':>7} {'episodes':>8} {'wall s':>7} {'episodes/min':>12} {'speedup':>7} "
          f"{'resolved':>8} {'grade s p50':>11}  load (1 min)")  # fmt: skip
    out, base = [], None
    for level in args.levels:
        config = RolloutConfig(
            tasks=tasks_dir, out=tmp / f"rollouts-c{level}", model="oracle", scaffold="swe", n=n,
            workers=level, max_turns=10,
        )  # fmt: skip
        t = time.perf_counter()
        stats = run_rollouts(config, redo=True)
        wall = time.perf_counter() - t
        rollouts = read_rollouts(config.out)
        per_min = stats.done / wall * 60
        base = base or per_min
        grade = statistics.median(r.grade_s for r in rollouts) if rollouts else 0.0
        row = {"workers": level, "episodes": stats.done, "wall_s": wall, "episodes_per_min": per_min,
               "speedup": per_min / base, "resolved": stats.resolved, "graded": stats.graded,
               "masked": stats.masked, "grade_s_p50": grade, "load1": os.getloadavg()[0]}  # fmt: skip
        out.append(row)
        print(f"{level:>7} {stats.done:>8} {wall:>7.1f} {per_min:>12.1f} {row['speedup']:>6.2f}x "
              f"{stats.resolved:>4}/{stats.graded:<3} {grade:>11.2f}  {row['load1']:.2f}")  # fmt: skip
        if stats.errors:
            print("   errors:", "; ".join(stats.errors[:3]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=30, help="scripted bash steps per episode (part 1)")
    parser.add_argument("--reps", type=int, default=3, help="measured episodes per variant (part 1)")
    parser.add_argument("--levels", default="1,2,4,8", help="comma-separated worker counts (part 2)")
    parser.add_argument("--min-episodes", type=int, default=8, help="episodes at least per level (part 2)")
    parser.add_argument("--quick", action="store_true", help="15 steps x 2 episodes per variant")
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    args.levels = [int(x) for x in args.levels.split(",") if x.strip()]
    if args.quick:
        args.steps, args.reps = min(args.steps, 15), min(args.reps, 2)
    print(f"Start: {load_note()}; python {sys.version.split()[0]}")
    t0 = time.perf_counter()
    tasks_dir, tasks = bench_tasks()
    task = tasks[0]
    if not task.environment_id:
        sys.exit(f"task {task.instance_id} names no environment")
    env = load_env(task.environment_id)
    print(f"Tasks: {len(tasks)} from {TOOLZ} in {tasks_dir} (ready in {time.perf_counter() - t0:.1f}s)")
    tmp = Path(tempfile.mkdtemp(prefix="codekiln-bench-rollout-"))
    try:
        direct = direct_exec(task, env, 30)
        print("Direct sandbox.exec p50 (bwrap), same run: "
              + ", ".join(f"{c!r} {ms:.2f} ms" for c, ms in direct.items()))  # fmt: skip
        steps = overhead(args, task, env, tmp)
        print(f"After part 1: {load_note()}")
        levels = throughput(args, tasks_dir, len(tasks), tmp)
        print(f"End: {load_note()}; total {time.perf_counter() - t0:.0f}s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        results = {"steps": args.steps, "reps": args.reps, "direct_exec_ms": direct, "overhead": steps,
                   "throughput": levels}  # fmt: skip
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
