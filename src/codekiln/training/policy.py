"""The policy being trained, as a codekiln `Model`, and one RL episode with it: play, grade, reward.

    backend = make_model("transformers", format="hermes", temperature=1.0)  # the torch model to train
    policy = PolicyModel(backend)                      # codekiln Model; ids never re-tokenized
    episode = play_episode(task, env, policy, Agent("mini", AgentLimits(max_turns=2)))
    episode.reward.value, episode.sample.completion_ids, episode.sample.env_mask

`PolicyModel.chat` keeps the conversation as token ids: the first call renders the prompt with the chat
format's `render_tokens`; each later call appends the ids the model sampled last turn exactly as sampled,
then only the new segments (the rest of the assistant's framing, tool results, the next generation
prompt), each rendered and tokenized on its own. So turn k's ids are an exact prefix of turn k+1's and
what training sees is exactly what the model saw and sampled. A conversation that does not extend the
previous one starts a new episode. Generation runs the backend's `generate` (a `TokenModel`, e.g. the
transformers backend whose `torch_model` the trainer updates in place).

`play_episode` is the rollout engine's episode without its files: a sandbox in the task's starting state,
the agent loop, the agent's patch graded in a FRESH sandbox, `rewards.compute_reward`. Infrastructure
failures (sandbox, grader) give a masked reward, never a 0.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.agents import Agent, Trajectory
from codekiln.core.errors import CodekilnError, ModelError
from codekiln.envs import EnvRecord
from codekiln.formats import Segment
from codekiln.grading import GradeResult, grade_patch, open_task_sandbox
from codekiln.models.base import ModelResponse, parse_message, stop_strings
from codekiln.rewards import Reward, RewardConfig, compute_reward
from codekiln.rollouts.episode import read_patch
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord
from codekiln.training.grpo import Sample, multiturn_sample


class PolicyModel:
    """A `TokenModel` backend (with `chat_format`, `tokenizer`, `generate`) as a multi-turn token policy."""

    def __init__(
        self, backend: Any, *, max_tokens: int | None = None, temperature: float = 1.0, seed: int = 0
    ):
        self.backend = backend
        self.chat_format = backend.chat_format
        self.format: str | None = self.chat_format.name
        self.name = f"policy:{getattr(backend, 'name', 'model')}"
        self.max_tokens = max_tokens if max_tokens is not None else getattr(backend, "max_tokens", 512)
        self.temperature, self.seed = temperature, seed
        self.calls = 0
        self._messages: list[dict[str, Any]] = []
        self._segments: list[Segment] = []
        self._ids: list[int] = []

    def _segments_of(
        self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
    ) -> list[Segment]:
        return self.chat_format.segments(messages, tools, add_generation_prompt=True)

    def prompt_ids(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> list[int]:
        """The ids of `messages` + generation prompt, continuing the previous call's ids when they extend it."""
        segments = self._segments_of(messages, tools)
        # Markup with special tokens, content as text: a tool's output cannot forge a turn (formats.content).
        seg_ids = self.chat_format.segment_ids(
            messages, tools, self.backend.tokenizer, add_generation_prompt=True
        )
        n_prev = len(self._messages)
        extends = (
            n_prev > 0
            and len(messages) > n_prev
            and messages[:n_prev] == self._messages
            and messages[n_prev].get("role") == "assistant"
        )
        if not extends:
            return [i for piece in seg_ids for i in piece]
        # The previous call's segments end with its generation prompt; the assistant's own segment (which
        # render would re-tokenize) is replaced by the ids it sampled, already at the end of self._ids.
        n = len(self._segments) + 1
        if segments[: n - 1] != self._segments or len(segments) < n or not segments[n - 1].trainable:
            raise ModelError(
                "the conversation does not render as an extension of the previous turn",
                hint="the chat format must keep the exact prefix property (codekiln.formats)",
            )
        return list(self._ids) + [i for piece in seg_ids[n:] for i in piece]

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> ModelResponse:
        ids = self.prompt_ids(messages, tools)
        start = time.perf_counter()
        self.calls += 1
        result = self.backend.generate(
            ids,
            max_tokens=self.max_tokens if max_tokens is None else max_tokens,
            temperature=self.temperature if temperature is None else temperature,
            seed=(self.seed if seed is None else seed) + self.calls,
            stop=stop_strings(self.chat_format),
        )
        sampled = list(result.completion_ids or [])
        self._messages = [dict(m) for m in messages]
        self._segments = self._segments_of(messages, tools)
        self._ids = ids + sampled
        message, error = parse_message(self.chat_format, result.text, tools)
        return ModelResponse(
            text=result.text,
            message=message,
            parse_error=error,
            usage=result.usage,
            latency_s=time.perf_counter() - start,
            finish_reason=result.finish_reason,
            model=self.name,
            format=self.format,
            prompt_ids=ids,
            completion_ids=sampled,
            logprobs=result.logprobs,
        )


@dataclass
class PlayedEpisode:
    """One RL episode: its trajectory (None if it could not start), grade, reward and training sequence."""

    task: TaskRecord
    trajectory: Trajectory | None
    grade: GradeResult | None
    reward: Reward
    sample: Sample
    patch: str = ""
    duration_s: float = 0.0


def play_episode(
    task: TaskRecord,
    env: EnvRecord,
    policy: PolicyModel,
    agent: Agent,
    *,
    reward_config: RewardConfig | None = None,
    backend: str = DEFAULT_BACKEND,
) -> PlayedEpisode:
    """Play `task` with `policy`, grade the agent's patch in a fresh sandbox, and score it."""
    start = time.monotonic()
    traj: Trajectory | None = None
    grade: GradeResult | None = None
    patch = ""
    try:
        with open_task_sandbox(task, env, backend) as sandbox:
            traj = agent.run(task, sandbox, policy)
            if not traj.infra_failure:
                patch, grade = read_patch(task, sandbox, Path(env.snapshot_path))
        if not traj.infra_failure and grade is None:
            grade = grade_patch(task, env, patch, backend=backend)
        reward = compute_reward(traj, grade, task, reward_config)
    except (CodekilnError, OSError) as err:
        message = err.message if isinstance(err, CodekilnError) else str(err)
        reward = Reward(value=None, masked=True, mask_reason=f"{type(err).__name__}: {message}"[:500])
    try:
        sample = multiturn_sample(traj, reward) if traj is not None else Sample([], [], [], [])
    except CodekilnError as err:
        reward = Reward(value=None, masked=True, mask_reason=f"tokens: {err.message}"[:500])
        sample = Sample([], [], [], [])
    return PlayedEpisode(task, traj, grade, reward, sample, patch, time.monotonic() - start)


__all__ = ["PlayedEpisode", "PolicyModel", "play_episode"]
