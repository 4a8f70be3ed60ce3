"""The one agent loop every scaffold shares: ask the model, run its calls, feed back what happened.

    agent = Agent("swe", AgentLimits(max_turns=30, wall_time_s=600))
    traj = agent.run(task, sandbox, model, on_step=lambda traj, step: save(traj))

Each step: `model.chat(messages, tools)`. Output that breaks the chat format (the backend's `parse_error`)
or the scaffold's rules (`Scaffold.check`, e.g. two calls in `mini`) is fed back to the model as an error
and counts toward `max_format_errors`; otherwise each call runs through the scaffold and its observation
goes back as an OpenAI `tool` message. The model backend renders and parses its chat format, so the loop
never sees one. Everything that ends an episode is an exception carrying data, caught in one place and
recorded as `Trajectory.exit_reason`: submitted, max_turns, max_tokens, wall_time, format_errors,
model_error, sandbox_error. `on_step(traj, step)` runs after each step that does not end the episode and
once more (step None) when the exit reason and final diff are set, so a caller can save as it goes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from codekiln.agents.records import ExitReason, Observation, Step, StepUsage, Trajectory
from codekiln.agents.scaffolds import SCAFFOLDS, Scaffold
from codekiln.agents.tools import Submitted
from codekiln.core import interrupt, protocols
from codekiln.core.errors import ContextTooLongError, ModelError, SandboxError
from codekiln.core.protocols import Model, Sandbox
from codekiln.sandbox import MAX_CHANGE_BYTES, change_bytes, settle

OnStep = Callable[[Trajectory, Step | None], None]


class AgentLimits(BaseModel):
    """When an episode must stop (None: no limit of that kind)."""

    max_turns: int | None = 50
    """Model calls per episode."""
    command_timeout_s: float = 120.0
    """Wall-clock limit of one shell command (capped further by what is left of wall_time_s)."""
    max_tokens: int | None = None
    """Total tokens (prompt + completion, summed over all model calls) per episode."""
    wall_time_s: float | None = None
    """Wall-clock time of the whole episode, model calls and commands together."""
    max_format_errors: int | None = 5
    """Format errors (malformed output or a broken scaffold rule) tolerated; one more ends the episode."""


class EpisodeEnd(Exception):
    """Ends the episode with `reason`; `message` and `error` go to the trajectory."""

    def __init__(self, reason: ExitReason, message: str = "", error: dict[str, Any] | None = None) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: ExitReason = reason
        self.message = message
        self.error = error


def task_text(task: Any) -> tuple[str, str]:
    """(task id, instructions) from a string or a task record (`instance_id`, `problem_statement`)."""
    if isinstance(task, str):
        return "", task
    return str(getattr(task, "instance_id", "")), str(getattr(task, "problem_statement", ""))


def sandbox_failure(err: Exception) -> SandboxError:
    """`err` as a SandboxError (an OSError escaping a tool is the sandbox's failure, not the model's)."""
    if isinstance(err, SandboxError):
        return err
    return SandboxError(
        f"sandbox operation failed: {err}",
        hint="check the sandbox backend: `codekiln env test SPEC` runs the suite in a fresh one",
    )


def final_diff(sandbox: Sandbox) -> str:
    """The diff an episode left, for its record: read once nothing the agent started runs any more
    (`sandbox.settle`), and only when the change weighs at most MAX_CHANGE_BYTES (else a line saying
    so). Every scaffold's episode ends with it (the mini-swe-agent one read any size)."""
    settle(sandbox)
    size = change_bytes(sandbox)
    return sandbox.diff() if size <= MAX_CHANGE_BYTES else f"(not read: {size:,} bytes changed)\n"


class Agent(protocols.Agent):
    """A scaffold (or its registered name) plus limits; `run` plays one episode (the core `Agent`)."""

    def __init__(self, scaffold: Scaffold | str = "swe", limits: AgentLimits | None = None, **options: Any):
        self.scaffold = SCAFFOLDS.load(scaffold)(**options) if isinstance(scaffold, str) else scaffold
        self.limits = limits or AgentLimits()

    def run(self, task: Any, sandbox: Sandbox, model: Model, *, on_step: OnStep | None = None) -> Trajectory:
        scaffold, limits = self.scaffold, self.limits
        task_id, instructions = task_text(task)
        scaffold.start(task)
        tools = [t.schema() for t in scaffold.tools]
        traj = Trajectory(
            task_id=task_id,
            scaffold=scaffold.name,
            model=getattr(model, "name", ""),
            format=getattr(model, "format", None),
            tools=tools,
        )
        traj.messages = [
            {"role": "system", "content": scaffold.system_prompt()},
            {"role": "user", "content": scaffold.instance_prompt(instructions)},
        ]
        start = time.monotonic()
        deadline = start + limits.wall_time_s if limits.wall_time_s is not None else None
        try:
            while True:
                self._check_limits(traj, deadline)
                step = self._step(traj, sandbox, model, deadline)
                if on_step:
                    on_step(traj, step)
        except EpisodeEnd as end:
            traj.exit_reason, traj.exit_message, traj.error = end.reason, end.message, end.error
        traj.totals.duration_s = time.monotonic() - start
        try:
            traj.diff = final_diff(sandbox)
        except (SandboxError, OSError) as err:
            traj.error = traj.error or sandbox_failure(err).to_record()
        if on_step:
            on_step(traj, None)
        return traj

    def _check_limits(self, traj: Trajectory, deadline: float | None) -> None:
        limits, totals = self.limits, traj.totals
        if interrupt.requested():  # Ctrl-C: the driver writes nothing more; end before the next model call
            raise EpisodeEnd("sandbox_error", "interrupted (Ctrl-C): the episode was abandoned")
        if limits.max_turns is not None and totals.turns >= limits.max_turns:
            raise EpisodeEnd("max_turns", f"reached the limit of {limits.max_turns} turns")
        if limits.max_tokens is not None and totals.total_tokens >= limits.max_tokens:
            raise EpisodeEnd("max_tokens", f"used {totals.total_tokens} tokens of {limits.max_tokens}")
        if deadline is not None and time.monotonic() >= deadline:
            raise EpisodeEnd("wall_time", f"ran past the wall-time limit of {limits.wall_time_s:g}s")

    def _step(self, traj: Trajectory, sandbox: Sandbox, model: Model, deadline: float | None) -> Step:
        began = time.monotonic()
        try:
            resp = model.chat(traj.messages, traj.tools)
        except ContextTooLongError as err:
            raise EpisodeEnd("max_tokens", err.message, err.to_record()) from err
        except ModelError as err:
            raise EpisodeEnd("model_error", err.message, err.to_record()) from err
        usage = StepUsage(
            prompt_tokens=resp.usage.prompt_tokens, completion_tokens=resp.usage.completion_tokens
        )
        step = Step(
            index=len(traj.steps),
            raw=resp.text,
            message=resp.message,
            parse_error=resp.parse_error,
            calls=[] if resp.parse_error else resp.tool_calls,
            usage=usage,
            finish_reason=resp.finish_reason,
            model_latency_s=resp.latency_s,
            prompt_ids=resp.prompt_ids,
            completion_ids=resp.completion_ids,
            logprobs=resp.logprobs,
        )
        traj.steps.append(step)
        traj.messages.append(resp.message)
        totals = traj.totals
        totals.turns += 1
        totals.prompt_tokens += usage.prompt_tokens
        totals.completion_tokens += usage.completion_tokens
        try:
            if step.parse_error is None:
                step.parse_error = self.scaffold.check(step.calls)
            if step.parse_error is not None:
                self._reject(traj, step)
            else:
                self._execute(traj, step, sandbox, deadline)
        finally:
            traj.messages.extend(step.feedback)
            step.duration_s = time.monotonic() - began
        return step

    def _reject(self, traj: Trajectory, step: Step) -> None:
        """Feed a format error back: as the answer to each call when there were calls, else as a user turn."""
        traj.totals.format_errors += 1
        note = self.scaffold.format_error_prompt(step.parse_error or "")
        calls = step.message.get("tool_calls") or []
        if calls:
            step.feedback = [
                Observation(
                    text=note, ok=False, tool=c["function"]["name"], tool_call_id=c.get("id", "")
                ).message()
                for c in calls
            ]
        else:
            step.feedback = [{"role": "user", "content": note}]
        limit = self.limits.max_format_errors
        if limit is not None and traj.totals.format_errors > limit:
            raise EpisodeEnd("format_errors", f"{traj.totals.format_errors} format errors (limit {limit})")

    def _execute(self, traj: Trajectory, step: Step, sandbox: Sandbox, deadline: float | None) -> None:
        for call in step.calls:
            timeout = self.limits.command_timeout_s
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EpisodeEnd(
                        "wall_time", f"ran past the wall-time limit of {self.limits.wall_time_s:g}s"
                    )
                timeout = min(timeout, left)
            try:
                obs = self.scaffold.execute(call, sandbox, timeout)
            except Submitted as done:
                raise EpisodeEnd("submitted", done.message) from done
            except (SandboxError, OSError) as err:  # tools answer the model's own mistakes themselves
                failure = sandbox_failure(err)
                raise EpisodeEnd("sandbox_error", failure.message, failure.to_record()) from err
            obs.tool_call_id = call.get("id") or ""
            obs.tool = obs.tool or call["name"]
            traj.totals.tool_calls += 1
            step.observations.append(obs)
            step.feedback.append(obs.message())
