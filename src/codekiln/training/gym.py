"""A gym-style environment over one codekiln task, for RL frameworks that drive the loop themselves
(SkyRL-gym, rLLM, verifiers): `reset()` gives the conversation so far, `step(text)` plays one turn.

    env = CodekilnEnv(task, env_record, scaffold="swe", format="qwen3_coder")
    obs = env.reset()                          # {"messages": [...], "tools": [...], "prompt": str}
    obs, reward, done, info = env.step(model_output_text)
    ...
    env.close()

`step` takes the model's raw output text, parses it with the chat format (`ChatFormat.parse`), checks it
against the scaffold's rules and runs each call with the scaffold's tools in a real sandbox of the task's
starting state, exactly as the agent loop does (a malformed turn gets the same error message back). The
episode ends when the agent submits, runs out of turns (`max_turns`) or of format errors. Then the agent's
patch is graded in a FRESH sandbox and the reward is `rewards.compute_reward`'s value (outcome plus the
unfinished penalty); before that, rewards are 0.0. `info` carries the `Reward` and `GradeResult` records
and `masked` (an infrastructure failure: train on nothing, score nothing). `obs["prompt"]` is the
conversation rendered by the chat format with the generation prompt, ready for a token-level policy.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from codekiln.agents import SCAFFOLDS, AgentLimits, Observation, Scaffold, Step, Submitted, Trajectory
from codekiln.agents.loop import final_diff, task_text
from codekiln.core.errors import CodekilnError, FormatError
from codekiln.core.protocols import Sandbox
from codekiln.envs import EnvRecord
from codekiln.formats import get_format
from codekiln.grading import GradeResult, grade_patch, open_task_sandbox
from codekiln.rewards import Reward, RewardConfig, compute_reward
from codekiln.rollouts.episode import read_patch
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord


class CodekilnEnv:
    """One codekiln task as a reset/step environment (see the module docstring)."""

    def __init__(
        self,
        task: TaskRecord,
        env: EnvRecord,
        *,
        scaffold: Scaffold | str = "swe",
        format: str = "qwen3_coder",
        backend: str = DEFAULT_BACKEND,
        limits: AgentLimits | None = None,
        reward_config: RewardConfig | None = None,
    ) -> None:
        self.task, self.env, self.backend = task, env, backend
        self.scaffold = SCAFFOLDS.load(scaffold)() if isinstance(scaffold, str) else scaffold
        self.chat_format = get_format(format)
        self.limits = limits or AgentLimits()
        self.reward_config = reward_config
        self.sandbox: Sandbox | None = None
        self.trajectory: Trajectory | None = None
        self.done = True

    def reset(self) -> dict[str, Any]:
        """Start a new episode in a fresh sandbox; the observation is the conversation so far."""
        self.close()
        self.scaffold.start()
        _, instructions = task_text(self.task)
        traj = Trajectory(
            task_id=self.task.instance_id, scaffold=self.scaffold.name, model="gym",
            format=self.chat_format.name, tools=[t.schema() for t in self.scaffold.tools],
        )  # fmt: skip
        traj.messages = [
            {"role": "system", "content": self.scaffold.system_prompt()},
            {"role": "user", "content": self.scaffold.instance_prompt(instructions)},
        ]
        self.trajectory, self.done = traj, False
        self.sandbox = open_task_sandbox(self.task, self.env, self.backend)
        return self.observation()

    def observation(self) -> dict[str, Any]:
        traj = self._live()
        return {
            "messages": [dict(m) for m in traj.messages],
            "tools": traj.tools,
            "prompt": self.chat_format.render_prompt(traj.messages, traj.tools),
        }

    def _live(self) -> Trajectory:
        if self.trajectory is None:
            raise CodekilnError("the environment has not been reset", hint="call reset() before step()")
        return self.trajectory

    def step(self, action: str) -> tuple[dict[str, Any], float, bool, dict[str, Any]]:
        """Play one assistant turn given as raw model output text."""
        traj = self._live()
        if self.done or self.sandbox is None:
            raise CodekilnError("the episode is over", hint="call reset() to start a new one")
        began = time.monotonic()
        step = Step(index=len(traj.steps), raw=action)
        traj.steps.append(step)
        traj.totals.turns += 1
        try:
            turn = self.chat_format.parse(action, traj.tools)
            step.message = {"tool_calls": [], **turn.to_message()}
            step.calls = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
            step.parse_error = self.scaffold.check(step.calls)
        except FormatError as err:
            step.message = {"role": "assistant", "content": action, "tool_calls": []}
            step.parse_error = f"{err.message}\n{err.hint}" if err.hint else err.message
        traj.messages.append(step.message)
        ended = self._play(traj, step)
        traj.messages.extend(step.feedback)
        step.duration_s = time.monotonic() - began
        if ended is None and self.limits.max_turns is not None and traj.totals.turns >= self.limits.max_turns:
            ended = "max_turns"
        if ended is None:
            return self.observation(), 0.0, False, {"trajectory": traj}
        return self._finish(ended)

    def _play(self, traj: Trajectory, step: Step) -> str | None:
        """Run the step's calls (or feed back its format error); the exit reason if the episode ends."""
        assert self.sandbox is not None
        if step.parse_error is not None:
            traj.totals.format_errors += 1
            step.calls = []
            note = self.scaffold.format_error_prompt(step.parse_error)
            step.feedback = [{"role": "user", "content": note}]
            limit = self.limits.max_format_errors
            return "format_errors" if limit is not None and traj.totals.format_errors > limit else None
        for call in step.calls:
            try:
                obs: Observation = self.scaffold.execute(call, self.sandbox, self.limits.command_timeout_s)
            except Submitted as done:
                traj.exit_message = done.message
                return "submitted"
            except (CodekilnError, OSError) as err:
                traj.error = {"type": type(err).__name__, "message": str(err)}
                return "sandbox_error"
            obs.tool_call_id, obs.tool = call.get("id") or "", obs.tool or call["name"]
            traj.totals.tool_calls += 1
            step.observations.append(obs)
            step.feedback.append(obs.message())
        return None

    def _finish(self, reason: str) -> tuple[dict[str, Any], float, bool, dict[str, Any]]:
        traj = self._live()
        assert self.sandbox is not None
        traj.exit_reason = reason  # type: ignore[assignment]
        grade: GradeResult | None = None
        patch = ""
        try:
            traj.diff = final_diff(self.sandbox)
            if not traj.infra_failure:
                patch, grade = read_patch(self.task, self.sandbox, Path(self.env.snapshot_path))
                grade = grade or grade_patch(self.task, self.env, patch, backend=self.backend)
            reward = compute_reward(traj, grade, self.task, self.reward_config)
        except (CodekilnError, OSError) as err:
            reward = Reward(value=None, masked=True, mask_reason=f"{type(err).__name__}: {err}"[:500])
        self.done = True
        self.close()
        info = {"trajectory": traj, "reward": reward, "grade": grade, "patch": patch, "masked": reward.masked}
        return self.observation(), reward.value or 0.0, True, info

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()
            self.sandbox = None

    def __enter__(self) -> CodekilnEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = ["CodekilnEnv"]
