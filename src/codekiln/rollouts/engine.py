"""The rollout engine: tasks x N samples (GRPO groups) of agent episodes, graded and rewarded, resumable.

    summary = run_rollouts(RolloutConfig(tasks=Path("out/toolz"), out=Path("runs/r1"), model="oracle", n=4))
    summary.resolved, summary.graded, summary.masked        # `codekiln rollout` prints "resolved: X/Y"

This module is the driver; each (task, sample) is one unit of work (`rollouts.episode.EpisodeUnit`) on
the configured executor (`config.executor`: `workers` threads here, each holding one sandbox at a time,
or tasks on a Ray cluster). A unit runs:
1. a sandbox of the task's environment in the agent's starting state (`grading.open_task_sandbox`:
   bug applied, hidden tests removed);
2. an `Agent` episode with the model (`models.make_model(spec)`, one instance per worker process,
   seeded per sample; or the `oracle` / `noop` control policy built for the task);
3. the agent's change (`agent_patch`) graded by `grading.grade_patch` in a FRESH sandbox, never
   the one the agent used;
4. the reward (`rewards.compute_reward`), returned as a plain `Rollout`.
The driver alone writes: one `Rollout` line appended (fsynced) to `rollouts.jsonl` as each unit
returns. With the local executor every step is also appended to
`episodes/<instance_id>/<sample>.partial.jsonl` as it happens (removed once the rollout is written);
on Ray, steps stay in the worker until the episode ends.

Resuming: rerun the same command after any interruption (Ctrl-C, `kill -9`, a crash); the directory is a
`core.stage` directory (locked while a run writes to it; a torn last line is dropped with a warning and
its episode run again). Pairs already in `rollouts.jsonl` are skipped; an episode that was interrupted has no line there and restarts from
scratch (its partial file is overwritten), so no pair is ever written twice. `n` and `limit` may be
raised between runs; the model, scaffold, format, turn limit, temperature and seed may not
(`manifest.json`), unless `redo` starts the directory over; the executor may change. Infrastructure
failures (sandbox, model server, grader) are recorded as masked rollouts, never scored 0; a served
model is probed before the first episode, and a run whose every episode so far failed for one such
cause stops (see `infra`). On Ray, a unit whose worker or node died is retried by Ray (it wrote
nothing); one whose every try was lost is counted in `errors` and left for the rerun.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from codekiln.agents import SCAFFOLDS, Step, Trajectory
from codekiln.core.errors import ConfigError
from codekiln.core.executor import borrowed
from codekiln.core.records import append_jsonl
from codekiln.core.stage import Stage, StageManifest, open_stage
from codekiln.envs import EnvRecord, load_env
from codekiln.formats import get_format
from codekiln.models import DEFAULT_FORMAT
from codekiln.rewards import Reward, RewardConfig
from codekiln.rollouts.config import RolloutConfig, sample_seed
from codekiln.rollouts.controls import is_control
from codekiln.rollouts.episode import EpisodeUnit, agent_patch
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
    write_rollouts,
)
from codekiln.rollouts.records import Rollout
from codekiln.sandbox import SANDBOXES
from codekiln.tasks.export.datasets import load_tasks
from codekiln.tasks.records import TaskRecord


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
    per_node: Counter[str] = field(default_factory=Counter)
    """Episodes finished this run, per node that ran them ("local" for the local executor, "lost"
    for a unit whose every try was lost on Ray)."""
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


@dataclass
class LiveEpisodes:
    """The local driver's view of running episodes: each one's steps are appended to its partial file
    and counted as they happen (units on this machine only: a Ray worker's steps come with its rollout)."""

    out: Path
    stats: RolloutStats
    on_progress: ProgressFn

    def run(self, unit: EpisodeUnit, item: tuple[TaskRecord, int]) -> Rollout:
        task, sample = item
        seed = sample_seed(unit.config.seed, task.instance_id, sample)
        partial = episode_path(self.out, task.instance_id, sample)
        partial.parent.mkdir(parents=True, exist_ok=True)
        partial.unlink(missing_ok=True)  # an interrupted earlier attempt restarts from scratch
        append_jsonl(
            partial, [{"type": "start", "instance_id": task.instance_id, "sample": sample, "seed": seed}]
        )
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

        return unit.run(item, on_step=on_step)


def _check(config: RolloutConfig) -> None:
    """Fail fast on a bad scaffold, format or sandbox backend, before any sandbox starts (an unknown
    backend used to mask every episode, the run's directory then holding only failures)."""
    SCAFFOLDS.load(config.scaffold)
    get_format(config.format or DEFAULT_FORMAT)
    SANDBOXES.load(config.backend)
    if is_control(config.model) and config.model_options:
        raise ConfigError(
            f"the {config.model} control takes no --option (got {', '.join(config.model_options)})",
            hint="--option is for model backends (codekiln model list); drop it for oracle and noop",
        )


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
    unit = EpisodeUnit(config, envs={})
    try:
        if pending and not is_control(config.model):  # a server that is down stops the run here
            with borrowed(unit.key, unit.make_model) as model:
                probe_model(model, config.model)
        for task, _ in pending:  # a missing environment stops the run before any episode
            key = task.environment_id or ""
            if key not in unit.envs:
                unit.envs[key] = _env(key, task)
        on_progress(stats)
        _drive(stage, unit, pending, stats, on_progress)
    finally:
        unit.release()
    return stats


def _env(key: str, task: TaskRecord) -> EnvRecord:
    """A task's environment (ConfigError when it names none or it was never built)."""
    if not key:
        raise ConfigError(
            f"task {task.instance_id} names no environment", hint="use tasks made by codekiln synth"
        )
    return load_env(key)


def _drive(
    stage: Stage,
    unit: EpisodeUnit,
    pending: list[tuple[TaskRecord, int]],
    stats: RolloutStats,
    on_progress: ProgressFn,
) -> None:
    """Run the pending episodes on the configured executor and write each rollout as it returns."""
    config = unit.config
    local = config.executor.kind == "local"
    fn: Callable[[tuple[TaskRecord, int]], Rollout] = (
        partial(LiveEpisodes(stage.out, stats, on_progress).run, unit) if local else unit
    )
    outcomes = config.executor.make(config.workers).map(
        fn, pending, desc="rollouts", resources=unit.resources()
    )
    # Masked rollouts are held back while every episode of this run so far is masked: if they share
    # one cause the run stops (they are not written, so the rerun after the fix redoes them).
    held: list[Rollout] | None = []
    for outcome in outcomes:
        task, sample = outcome.item
        stats.per_node[outcome.node] += 1
        if outcome.value is None:
            error = outcome.error or {}
            stats.errors.append(f"{task.instance_id}#{sample}: {error.get('type')}: {error.get('message')}")
            on_progress(stats)
            continue
        if not local and outcome.value.trajectory is not None:
            stats.steps += len(outcome.value.trajectory.steps)
        stats.add(outcome.value.reward)
        on_progress(stats)
        if held is not None and outcome.value.reward.masked:
            held.append(outcome.value)
            cause = infra_stop_cause(held)
            if cause is not None:
                stop_held(stage.out, held, cause)
            continue
        write_rollouts(stage, [*(held or []), outcome.value])
        held = None
    stats.infra_cause = infra_stop_cause(held or [], ended=True) or ""
    write_rollouts(stage, held or [])


__all__ = [
    "EPISODES",
    "MANIFEST",
    "ROLLOUTS",
    "EpisodeUnit",
    "LiveEpisodes",
    "Manifest",
    "RolloutConfig",
    "RolloutStats",
    "agent_patch",
    "episode_path",
    "finished_pairs",
    "read_rollouts",
    "run_rollouts",
    "sample_seed",
]
