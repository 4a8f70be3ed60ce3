"""The rollout engine: tasks x N samples (GRPO groups) of agent episodes, graded and rewarded, resumable.

    summary = run_rollouts(RolloutConfig(tasks=Path("out/toolz"), out=Path("runs/r1"), model="oracle", n=4))
    summary.resolved, summary.graded, summary.masked        # `codekiln rollout` prints "resolved: X/Y"

For each (task, sample), on one of `workers` threads (each holding one sandbox at a time):
1. a sandbox of the task's environment in the agent's starting state (`grading.open_task_sandbox`:
   bug applied, hidden tests removed);
2. an `Agent` episode with the model (`models.make_model(spec)`, one instance per worker thread, seeded
   per sample; or the `oracle` / `noop` control policy built for the task). Every step is appended to
   `episodes/<instance_id>/<sample>.partial.jsonl` as it happens;
3. the agent's change (`workspace_patch`) graded by `grading.grade_patch` in a FRESH sandbox, never
   the one the agent used;
4. the reward (`rewards.compute_reward`), then one `Rollout` line appended (fsynced) to `rollouts.jsonl`
   and the partial file removed.

Resuming: rerun the same command after any interruption (Ctrl-C, `kill -9`, a crash); the directory is a
`core.stage` directory (locked while a run writes to it; a torn last line is dropped with a warning and
its episode run again). Pairs already in `rollouts.jsonl` are skipped; an episode that was interrupted has no line there and restarts from
scratch (its partial file is overwritten), so no pair is ever written twice. `n` and `limit` may be
raised between runs; the model, scaffold, format, turn limit, temperature and seed may not
(`manifest.json`), unless `redo` starts the directory over. Infrastructure failures (sandbox, model
server, grader) are recorded as masked rollouts, never scored 0; a served model is probed before the
first episode, and a run whose every episode so far failed for one such cause stops (see `infra`).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from codekiln.agents import SCAFFOLDS, Agent, AgentLimits, Step, Trajectory
from codekiln.core.diffs import make_diff, parse_diff
from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.core.executor import LocalExecutor
from codekiln.core.protocols import Model, Sandbox
from codekiln.core.records import append_jsonl
from codekiln.core.stage import Stage, StageManifest, open_stage
from codekiln.envs import EnvRecord, load_env
from codekiln.formats import get_format
from codekiln.grading import grade_patch, graded_files, open_task_sandbox
from codekiln.models import DEFAULT_FORMAT, make_model
from codekiln.rewards import Reward, RewardConfig, compute_reward
from codekiln.rollouts.controls import control_model, is_control
from codekiln.rollouts.infra import infra_stop_cause, probe_model
from codekiln.rollouts.outdir import (
    EPISODES,
    LAYOUT,
    MANIFEST,
    ROLLOUTS,
    episode_path,
    finished_pairs,
    read_rollouts,
    stop_held,
    task_digest,
    write_rollouts,
)
from codekiln.rollouts.records import Rollout
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.export.datasets import load_tasks
from codekiln.tasks.records import TaskRecord


class RolloutConfig(BaseModel):
    """One rollout run."""

    tasks: Path = Field(description="a tasks.jsonl / .parquet file, or a synth output directory")
    out: Path = Field(description="output directory (rollouts.jsonl, episodes/, manifest.json)")
    model: str = Field(default="embedded", description="a models.make_model spec, or oracle / noop")
    model_options: dict[str, Any] = Field(default_factory=dict, description="extra backend options")
    scaffold: str = Field(default="swe", description="agent scaffold: swe, mini or terminus")
    format: str | None = Field(default=None, description="chat format (default: the backend's own)")
    n: int = Field(default=1, ge=1, description="samples per task (one GRPO group)")
    workers: int = Field(default=1, ge=1, description="episodes run at once (sandbox slots)")
    max_turns: int = Field(default=50, ge=1, description="model calls per episode")
    wall_time_s: float | None = Field(default=None, description="wall-clock limit of one episode")
    temperature: float = Field(default=1.0, ge=0.0, description="sampling temperature")
    seed: int = Field(default=0, description="base seed; each (task, sample) derives its own")
    limit: int | None = Field(default=None, ge=1, description="use only the first LIMIT tasks")
    backend: str = Field(default=DEFAULT_BACKEND, description="sandbox backend")
    reward: RewardConfig = Field(default_factory=RewardConfig, description="how episodes are scored")


class Manifest(StageManifest):
    """What an output directory holds rollouts of; a rerun must match it to resume (`tasks` may change)."""

    informational = frozenset({"tasks"})

    model: str
    model_options: dict[str, Any]
    scaffold: str
    format: str | None
    max_turns: int
    temperature: float
    seed: int
    reward: RewardConfig
    tasks: str = ""


@dataclass
class RolloutStats:
    """Live counters of a run, handed to the progress callback (thread-safe updates)."""

    total: int = 0
    done: int = 0
    resumed: int = 0
    resolved: int = 0
    graded: int = 0
    masked: int = 0
    errors: list[str] = field(default_factory=list)
    infra_cause: str = ""  # set when every episode of this (short) run was masked for this one reason
    steps: int = 0
    running: int = 0
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def steps_per_s(self) -> float:
        return self.steps / max(time.monotonic() - self.started, 1e-6)

    def add(self, reward: Reward) -> None:
        with self.lock:
            self.done += 1
            self.masked += int(reward.masked)
            self.graded += int(not reward.masked)
            self.resolved += int(reward.resolved and not reward.masked)

    def summary_line(self) -> str:
        return f"resolved: {self.resolved}/{self.graded}"


ProgressFn = Callable[[RolloutStats], None]


def _quiet(stats: RolloutStats) -> None:
    return None


def sample_seed(base: int, instance_id: str, sample: int) -> int:
    """The seed of one (task, sample): stable across runs and machines."""
    digest = hashlib.sha256(f"{base}:{instance_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


def agent_patch(task: TaskRecord, sandbox: Sandbox, snapshot_dir: Path) -> str:
    """The agent's change since its starting workspace, as a patch `grade_patch` takes.

    Like `grading.workspace_patch`, but it also covers files the setup changed that the agent put
    back as they are in the snapshot (an undone bug): `sandbox.diff()` no longer lists those."""
    start: dict[str, str | None] = dict(graded_files(task, "", snapshot_dir))
    for rel in task.hidden_tests:
        start[rel] = None
    changed = {p for fp in parse_diff(sandbox.diff()) for p in (fp.old_path, fp.new_path) if p}
    out = []
    for rel in sorted(changed | set(start)):
        before = start[rel] if rel in start else _snapshot_text(snapshot_dir / rel)
        try:
            after: str | None = sandbox.read_file(rel).decode("utf-8")
        except (CodekilnError, OSError, ValueError):
            after = None
        out.append(make_diff(rel, before, after))
    return "".join(out)


def _snapshot_text(path: Path) -> str | None:
    """A snapshot file's text; None when absent or not UTF-8 (a logo, a zip): like an `after` that cannot
    be read, a change to it is one a text patch cannot carry, left out rather than losing the episode."""
    try:
        return path.read_text(encoding="utf-8") if path.is_file() else None
    except ValueError:
        return None


class Policy:
    """Gives each episode its model: a control policy per task, else one backend instance per thread."""

    def __init__(self, config: RolloutConfig) -> None:
        self.config = config
        self.local = threading.local()

    def model_for(self, task: TaskRecord, seed: int) -> Model:
        c = self.config
        if is_control(c.model):
            return control_model(c.model.strip(), task, scaffold=c.scaffold, format=c.format)
        model = getattr(self.local, "model", None)
        if model is None:
            options = {"temperature": c.temperature, **c.model_options}
            if c.format is not None:
                options["format"] = c.format
            model = self.local.model = make_model(c.model, **options)
        if hasattr(model, "seed"):
            model.seed = seed
        return model


def _masked(
    task: TaskRecord, sample: int, seed: int, config: RolloutConfig, err: CodekilnError, start: float
) -> Rollout:
    reward = Reward(value=None, masked=True, mask_reason=f"{type(err).__name__}: {err.message}"[:500])
    return Rollout(
        instance_id=task.instance_id, task_digest=task_digest(task), sample=sample, seed=seed, model=config.model,
        scaffold=config.scaffold, format=config.format, reward=reward, error=err.to_record(),
        duration_s=time.monotonic() - start,
    )  # fmt: skip


class Engine:
    """Runs the episodes of one `RolloutConfig` (see the module docstring)."""

    def __init__(self, config: RolloutConfig, stats: RolloutStats, on_progress: ProgressFn) -> None:
        self.config, self.stats, self.on_progress = config, stats, on_progress
        self.policy = Policy(config)
        self.envs: dict[str, EnvRecord] = {}

    def env_for(self, task: TaskRecord) -> EnvRecord:
        key = task.environment_id or ""
        if key not in self.envs:
            if not key:
                raise ConfigError(
                    f"task {task.instance_id} names no environment", hint="use tasks made by codekiln synth"
                )
            self.envs[key] = load_env(key)
        return self.envs[key]

    def episode(self, item: tuple[TaskRecord, int]) -> Rollout:
        task, sample = item
        c, start = self.config, time.monotonic()
        seed = sample_seed(c.seed, task.instance_id, sample)
        partial = episode_path(c.out, task.instance_id, sample)
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)  # an interrupted earlier attempt restarts from scratch
        header = {"type": "start", "instance_id": task.instance_id, "sample": sample, "seed": seed}
        append_jsonl(partial, [header])

        written = [0]

        def on_step(traj: Trajectory, step: Step | None) -> None:
            # The step that ends an episode (a submit, a limit) is only seen here with step None.
            rows: list[dict[str, Any]] = [
                {"type": "step", "step": s.model_dump(mode="json")} for s in traj.steps[written[0] :]
            ]
            if step is None:
                rows.append({"type": "end", "exit_reason": traj.exit_reason})
            append_jsonl(partial, rows)
            with self.stats.lock:
                self.stats.steps += len(traj.steps) - written[0]
            written[0] = len(traj.steps)
            self.on_progress(self.stats)

        env = self.env_for(task)
        model = self.policy.model_for(task, seed)
        agent = Agent(c.scaffold, AgentLimits(max_turns=c.max_turns, wall_time_s=c.wall_time_s))
        with self.stats.lock:
            self.stats.running += 1
        try:
            try:
                with open_task_sandbox(task, env, c.backend) as sandbox:
                    traj = agent.run(task, sandbox, model, on_step=on_step)
                    patch = "" if traj.infra_failure else agent_patch(task, sandbox, Path(env.snapshot_path))
            except CodekilnError as err:
                return _masked(task, sample, seed, c, err, start)
            except OSError as err:
                return _masked(
                    task, sample, seed, c, CodekilnError(str(err), hint="check the sandbox"), start
                )
            grade, grade_s = None, 0.0
            if not traj.infra_failure:
                graded_at = time.monotonic()
                grade = grade_patch(task, env, patch, backend=c.backend)
                grade_s = time.monotonic() - graded_at
            reward = compute_reward(traj, grade, task, c.reward)
            return Rollout(
                instance_id=task.instance_id, task_digest=task_digest(task), sample=sample, seed=seed, model=c.model,
                scaffold=c.scaffold, format=traj.format or c.format, trajectory=traj, patch=patch,
                grade=grade, reward=reward, duration_s=time.monotonic() - start, grade_s=grade_s,
            )  # fmt: skip
        finally:
            with self.stats.lock:
                self.stats.running -= 1


def _check(config: RolloutConfig) -> None:
    """Fail fast on a bad scaffold or format, before any sandbox starts."""
    SCAFFOLDS.load(config.scaffold)
    get_format(config.format or DEFAULT_FORMAT)


def run_rollouts(
    config: RolloutConfig, *, redo: bool = False, on_progress: ProgressFn = _quiet
) -> RolloutStats:
    """Run (or resume) every (task, sample) of `config`; see the module docstring."""
    _check(config)
    with open_stage(Path(config.out), LAYOUT, redo=redo) as stage:
        return _run(stage, config, on_progress)


def _run(stage: Stage, config: RolloutConfig, on_progress: ProgressFn) -> RolloutStats:
    out = stage.out
    tasks = load_tasks(config.tasks)[: config.limit]
    stage.match(
        Manifest(
            model=config.model, model_options=config.model_options, scaffold=config.scaffold,
            format=config.format, max_turns=config.max_turns, temperature=config.temperature,
            seed=config.seed, reward=config.reward, tasks=str(config.tasks),
        )
    )  # fmt: skip
    done = finished_pairs(out, tasks)
    plan = [(t, s) for t in tasks for s in range(config.n)]
    stats = RolloutStats(total=len(plan))
    for task, sample in plan:
        if (task.instance_id, sample) in done:
            stats.add(done[(task.instance_id, sample)])
    stats.resumed = stats.done
    pending = [(t, s) for t, s in plan if (t.instance_id, s) not in done]
    engine = Engine(config, stats, on_progress)
    if pending and not is_control(config.model):  # a server that is down stops the run here
        probe_model(engine.policy.model_for(pending[0][0], config.seed), config.model)
    for task, _ in pending:
        engine.env_for(task)  # a missing environment stops the run before any episode
    on_progress(stats)
    # Masked rollouts are held back while every episode of this run so far is masked: if they share
    # one cause the run stops (they are not written, so the rerun after the fix redoes them).
    held: list[Rollout] | None = []
    for outcome in LocalExecutor(config.workers).map(engine.episode, pending, desc="rollouts"):
        task, sample = outcome.item
        if outcome.value is None:
            error = outcome.error or {}
            stats.errors.append(f"{task.instance_id}#{sample}: {error.get('type')}: {error.get('message')}")
            on_progress(stats)
            continue
        stats.add(outcome.value.reward)
        on_progress(stats)
        if held is not None and outcome.value.reward.masked:
            held.append(outcome.value)
            cause = infra_stop_cause(held)
            if cause is not None:
                stop_held(out, held, cause)
            continue
        write_rollouts(stage, [*(held or []), outcome.value])
        held = None
    stats.infra_cause = infra_stop_cause(held or [], ended=True) or ""
    write_rollouts(stage, held or [])
    return stats


__all__ = [
    "EPISODES",
    "MANIFEST",
    "ROLLOUTS",
    "Engine",
    "Manifest",
    "Policy",
    "RolloutConfig",
    "RolloutStats",
    "agent_patch",
    "episode_path",
    "finished_pairs",
    "read_rollouts",
    "run_rollouts",
    "sample_seed",
]
