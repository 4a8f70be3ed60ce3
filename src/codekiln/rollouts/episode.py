"""One rollout episode as a unit of work any executor runs (`core.executor`): the worker side of
`rollouts.engine`, which is the driver.

    unit = EpisodeUnit(config, envs)                         # picklable: sent to Ray workers whole
    for outcome in executor.map(unit, [(task, 0), ...], resources=unit.resources()):
        rollout = outcome.value                              # a plain Rollout record: the driver writes it

A unit runs one (task, sample): a sandbox of the task's environment in the agent's starting state, the
agent episode with the model, the agent's change graded in a fresh sandbox, the reward. It writes
nothing and touches no shared state of the driver, so a unit Ray retries after its worker died is
never written twice (the driver alone appends to the resumable `rollouts.jsonl`). Failures of the
sandbox, the model or the grader become a masked `Rollout` (infrastructure, never scored 0).

Models are made where the episode runs, from the run's spec: one instance per process and spec, lent
to one episode at a time (`core.executor.borrowed`): an HTTP backend is a URL every node reaches, the
embedded model loads in the worker, a `scripted:PATH` script is read there. Control policies
(`oracle`, `noop`) are built per episode from its task.

Memory: each sandboxed process is limited to the sandbox's memory (`Limits().memory_mb`), which is also
what the unit reserves on a Ray node: a command that needs more fails inside its sandbox (the agent
sees the error; a grading run that dies of it is that episode's grade), never the worker.
"""

from __future__ import annotations

import hashlib
import json
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from codekiln.agents import Agent, AgentLimits, Step, Trajectory
from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.core.executor import borrowed, release
from codekiln.core.protocols import Limits, Model, Resources, Sandbox
from codekiln.envs import EnvRecord
from codekiln.grading import GradeResult, grade_patch, open_task_sandbox, workspace_patch
from codekiln.models import make_model
from codekiln.rewards import Reward, compute_reward
from codekiln.rollouts.config import RolloutConfig, sample_seed
from codekiln.rollouts.controls import control_model, is_control
from codekiln.rollouts.outdir import task_digest
from codekiln.rollouts.records import Rollout
from codekiln.sandbox import MAX_CHANGE_BYTES, change_bytes
from codekiln.tasks.records import TaskRecord

agent_patch = workspace_patch
"""The agent's change since its starting workspace, as a patch `grade_patch` takes (what
`grading.workspace_patch` reads back: every changed file, and those the setup changed that the agent
put back as they are in the snapshot, an undone bug)."""


def read_patch(task: TaskRecord, sandbox: Sandbox, snapshot: Path) -> tuple[str, GradeResult | None]:
    """The agent's patch (`agent_patch`), or, when its change weighs over MAX_CHANGE_BYTES, "" and the
    grade that refuses it unread (`rejected`, `change_too_large`: scored 0, never masked). Every
    scaffold's episode reads its change through here (the mini-swe-agent one read and graded any size)."""
    size = change_bytes(sandbox)
    if size <= MAX_CHANGE_BYTES:
        return agent_patch(task, sandbox, snapshot), None
    return "", GradeResult(
        instance_id=task.instance_id, outcome="rejected", reason="change_too_large",
        detail=f"a patch of the agent's change would weigh about {size:,} bytes; the most read is {MAX_CHANGE_BYTES:,}",
    )  # fmt: skip


StepFn = Callable[[Trajectory, Step | None], None]
"""Called as an episode goes (`Agent.run`'s `on_step`): the local driver saves steps with it."""


def masked_rollout(
    task: TaskRecord, sample: int, seed: int, config: RolloutConfig, err: CodekilnError, start: float
) -> Rollout:
    """The rollout of an episode that infrastructure stopped (sandbox, model, grader): masked, not scored."""
    reward = Reward(value=None, masked=True, mask_reason=f"{type(err).__name__}: {err.message}"[:500])
    return Rollout(
        instance_id=task.instance_id, task_digest=task_digest(task), sample=sample, seed=seed, model=config.model,
        scaffold=config.scaffold, format=config.format, reward=reward, error=err.to_record(),
        duration_s=time.monotonic() - start,
    )  # fmt: skip


def _present(env: EnvRecord) -> None:
    """Raise ConfigError unless this machine sees the environment (a Ray node without the shared home)."""
    for path in (env.snapshot_path, env.venv):
        if not Path(path).is_dir():
            raise ConfigError(
                f"the environment of {env.name} is not at {path} on {socket.gethostname()}",
                hint="every node must see the driver's CODEKILN_HOME at the same path (a shared mount)",
            )


@dataclass
class EpisodeUnit:
    """Runs one (task, sample) of a run: `unit((task, sample)) -> Rollout` (see the module docstring).
    `envs` maps each task's environment id to its record (resolved once, by the driver)."""

    config: RolloutConfig
    envs: dict[str, EnvRecord]

    @property
    def key(self) -> str:
        """Names this process's model instances of the run's model spec and options."""
        c = self.config
        spec = json.dumps([c.model, c.model_options, c.format, c.temperature], sort_keys=True, default=str)
        return "rollout-model:" + hashlib.sha256(spec.encode()).hexdigest()[:16]

    def resources(self) -> Resources:
        """One CPU (an episode runs one command at a time) and the sandbox's memory limit."""
        return Resources(cpus=1.0, memory_mb=Limits().memory_mb)

    def make_model(self) -> Model:
        """A new instance of the run's model (not a control policy), sampling at its temperature."""
        c = self.config
        options = {"temperature": c.temperature, **c.model_options}
        if c.format is not None:
            options["format"] = c.format
        model: Model = make_model(c.model, **options)
        return model

    @contextmanager
    def model_for(self, task: TaskRecord, seed: int) -> Iterator[Model]:
        """The episode's model: a control policy of its task, or this process's instance, seeded."""
        c = self.config
        if is_control(c.model):
            yield control_model(c.model.strip(), task, scaffold=c.scaffold, format=c.format)
            return
        with borrowed(self.key, self.make_model) as model:
            if hasattr(model, "seed"):
                model.seed = seed
            yield model

    def release(self) -> None:
        """Close this process's model instances of the run (the driver, after a run)."""
        release(self.key)

    def __call__(self, item: tuple[TaskRecord, int]) -> Rollout:
        return self.run(item)

    def run(self, item: tuple[TaskRecord, int], on_step: StepFn | None = None) -> Rollout:
        """The episode of `item`; `on_step` sees its steps as they happen (the local driver saves them)."""
        task, sample = item
        c, start = self.config, time.monotonic()
        seed = sample_seed(c.seed, task.instance_id, sample)
        agent = Agent(c.scaffold, AgentLimits(max_turns=c.max_turns, wall_time_s=c.wall_time_s))
        try:
            env = self.envs[task.environment_id or ""]
            _present(env)
            with self.model_for(task, seed) as model, open_task_sandbox(task, env, c.backend) as sandbox:
                traj = agent.run(task, sandbox, model, on_step=on_step)
                patch, grade = (
                    ("", None) if traj.infra_failure else read_patch(task, sandbox, Path(env.snapshot_path))
                )
        except CodekilnError as err:
            return masked_rollout(task, sample, seed, c, err, start)
        except OSError as err:
            return masked_rollout(
                task, sample, seed, c, CodekilnError(str(err), hint="check the sandbox"), start
            )
        grade_s = 0.0
        if grade is None and not traj.infra_failure:
            graded_at = time.monotonic()
            grade = grade_patch(task, env, patch, backend=c.backend)
            grade_s = time.monotonic() - graded_at
        reward = compute_reward(traj, grade, task, c.reward)
        return Rollout(
            instance_id=task.instance_id, task_digest=task_digest(task), sample=sample, seed=seed, model=c.model,
            scaffold=c.scaffold, format=traj.format or c.format, trajectory=traj, patch=patch,
            grade=grade, reward=reward, duration_s=time.monotonic() - start, grade_s=grade_s,
        )  # fmt: skip


__all__ = ["EpisodeUnit", "StepFn", "agent_patch", "masked_rollout", "read_patch"]
