"""Shared pieces of the RL tests: real toolz tasks (the rollout tests' synthesized set, cached in the test
CODEKILN_HOME), a terse scaffold that keeps prompts short enough for CPU training, and a scripted
token-level backend (a stand-in for the model, not for codekiln code) that "samples" given outputs as
token ids, so multi-turn token assembly can be checked exactly and fast."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from codekiln.agents import SENTINEL, MiniScaffold
from codekiln.formats import Tokenizer, ToolCall, get_format
from codekiln.formats.tokenizers import ByteTokenizer
from codekiln.models.base import GenerateResult, Usage, cut_at_stop, stop_strings
from codekiln.tasks.records import TaskRecord

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "rollouts"))
from rollout_support import load
from rollout_support import toolz_tasks as recorded_toolz


def toolz_tasks() -> tuple[Path, list[TaskRecord]]:
    out = recorded_toolz()
    return out, load(out)


class TerseScaffold(MiniScaffold):
    """The mini scaffold with a one-line system prompt (~4x fewer prompt tokens for a 135M model on CPU)."""

    system_template = (
        f"Fix the bug in /testbed with one bash call per reply; run `echo {SENTINEL}` when done."
    )

    def instance_prompt(self, task: str) -> str:
        return task


TERSE = "grpo_support:TerseScaffold"


class ScriptedTokens:
    """A token-level backend replaying assistant turns: each is written out in the chat format and
    encoded (optionally one id per character, to prove ids are kept as sampled, not re-tokenized)."""

    name = "scripted-tokens"

    def __init__(
        self,
        turns: list[Any],
        *,
        format: str = "hermes",
        tokenizer: Tokenizer | None = None,
        per_char: frozenset[int] = frozenset(),
    ) -> None:
        self.chat_format = get_format(format)
        self.tokenizer = tokenizer or ByteTokenizer()
        self.turns, self.per_char, self.index = list(turns), per_char, 0
        self.max_tokens = 512
        self.prompts: list[list[int]] = []

    def generate(self, prompt_ids: list[int], **kwargs: Any) -> GenerateResult:
        turn = self.turns[self.index]
        if isinstance(turn, dict):
            calls = [
                ToolCall(c["name"], c["arguments"], f"call_{self.index}_{i}")
                for i, c in enumerate(turn["calls"])
            ]
            text = self.chat_format.render_assistant(
                {
                    "role": "assistant",
                    "content": turn.get("content", ""),
                    "tool_calls": [c.to_openai() for c in calls],
                }
            )
        else:
            text = turn + self.chat_format.end_of_turn([])
        if self.index in self.per_char:
            ids = [i for ch in text for i in self.tokenizer.encode(ch)]
        else:
            ids = self.tokenizer.encode(text)
        self.index += 1
        self.prompts.append(list(prompt_ids))
        return GenerateResult(
            text=cut_at_stop(text, stop_strings(self.chat_format)),
            finish_reason="stop",
            prompt_ids=list(prompt_ids),
            completion_ids=ids,
            logprobs=[-0.5] * len(ids),
            usage=Usage(prompt_tokens=len(prompt_ids), completion_tokens=len(ids)),
        )


def bash(command: str) -> dict[str, Any]:
    return {"calls": [{"name": "bash", "arguments": {"command": command}}]}
