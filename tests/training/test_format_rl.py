"""Format-following GRPO (`training.format_rl`): the easy-tier prompts, the graded reward on real chat
formats' parses, the per-step row, and one real GRPO step of the embedded 135M model through TRL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codekiln.core.records import iter_jsonl
from codekiln.formats import get_format
from codekiln.models import ModelResponse
from codekiln.models.base import parse_message
from codekiln.models.eval import check_arguments
from codekiln.training.format_rl import (
    DEMOS,
    call_opener,
    easy_prompts,
    format_reward,
    opener_share,
    split_prompts,
    step_row,
)
from codekiln.training.grpo import group_advantages


def respond(fmt: str, text: str, tools: list[dict]) -> ModelResponse:
    message, error = parse_message(get_format(fmt), text, tools)
    return ModelResponse(text=text, message=message, parse_error=error)


def test_every_demonstration_is_a_valid_call_of_its_tool() -> None:
    from codekiln.models.eval import load_prompts

    tools = {p.tools[0]["function"]["name"]: p.tools[0] for p in load_prompts()}
    tools |= {t["function"]["name"]: t for p in load_prompts() for t in p.tools}
    assert set(DEMOS) == set(tools)
    for name, (_, arguments, _) in DEMOS.items():
        assert check_arguments(arguments, tools[name]["function"]["parameters"]) is None, name


def test_easy_tier_prompts_demonstrate_their_one_tool_and_split_disjointly() -> None:
    prompts = easy_prompts()
    assert len(prompts) == 27
    for p in prompts:
        roles = [m["role"] for m in p.messages]
        assert roles == ["system", "user", "assistant", "tool", "user"] and len(p.tools) == 1
        assert p.messages[2]["tool_calls"][0]["function"]["name"] == p.tools[0]["function"]["name"]
    train, held = split_prompts(prompts)
    assert (len(train), len(held)) == (20, 7)
    assert not {p.id for p in train} & {p.id for p in held}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('[{"name": "bash", "arguments": {"command": "ls -a"}}]', 1.0),
        ('[{"name": "bash", "arguments": {"cmd": "ls -a"}}]', 0.5),  # unknown argument
        (
            '[{"name": "shell", "arguments": {"command": "ls"}}]',
            0.2,
        ),  # rejected, no offered tool: opener only
        ('[{"name": "bash", "arguments": {"command": "ls"', 0.25),  # cut off: the parser rejects it
        ("[{}]", round(0.2 * 2 / 11, 4)),  # rejected and no call opened: what the first run's policy gamed
        ("The files are listed below.", 0.0),
    ],
)
def test_reward_grades_the_xlam_parse(text: str, expected: float) -> None:
    prompt = next(p for p in easy_prompts() if p.id == "bash-list")
    opener = call_opener(prompt, "xlam_qwen")
    assert opener == '[{"name": "'
    assert format_reward(respond("xlam_qwen", text, prompt.tools), prompt.tools, opener) == expected


def test_opener_credit_is_partial_and_below_any_parsed_attempt() -> None:
    prompt = next(p for p in easy_prompts() if p.id == "bash-list")
    opener = call_opener(prompt, "hermes")
    assert opener == '<tool_call>\n{"name": "'
    assert opener_share("sure: <tool", opener) == 5 / len(opener)
    reward = format_reward(respond("hermes", "sure: <tool", prompt.tools), prompt.tools, opener)
    assert 0.0 < reward < 0.25
    assert format_reward(respond("hermes", "sure: <tool", prompt.tools), prompt.tools) == 0.0


def test_step_row_uses_the_trainers_advantages() -> None:
    rewards = [1.0, 0.0, 0.5, 0.5, 0.25, 0.0, 0.0, 0.25]
    groups = ["a"] * 4 + ["b"] * 4
    row = step_row(3, groups, rewards, 12.0, 1.5)
    adv = group_advantages(rewards, groups)
    assert row.baselines == [0.5, 0.125] and row.prompts == ["a", "b"]
    assert (row.adv_min, row.adv_max) == (min(adv), max(adv)) and row.adv_std > 0
    assert row.mean_reward == pytest.approx(sum(rewards) / 8) and row.valid_rate == 1 / 8
    assert step_row(1, ["a", "a"], [0.0, 0.0], 4.0, 1.0).zero_signal_groups == 1


@pytest.mark.torch
def test_one_real_grpo_step_writes_its_row_and_held_out_scores(tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="install the train extra: pip install 'codekiln[train]'")
    from codekiln.training.format_rl import FormatGRPOConfig, run_format_grpo

    out = tmp_path / "run"
    config = FormatGRPOConfig(out=out, format="xlam_qwen", steps=1, group_size=2, max_tokens=6,
                              heldout_samples=1, heldout_limit=1, threads=1)  # fmt: skip
    seen = []
    result = run_format_grpo(config, on_step=seen.append)
    assert result.steps == 1 and len(seen) == 1
    rows = list(iter_jsonl(out / "steps.jsonl"))
    assert len(rows) == 1 and rows[0]["step"] == 1 and len(rows[0]["rewards"]) == 2
    assert rows[0]["prompts"][0] in {p.id for p in split_prompts(easy_prompts())[0]}
    assert all(0.0 <= r <= 1.0 for r in rows[0]["rewards"]) and 1 <= rows[0]["completion_tokens"] <= 6
    held = list(iter_jsonl(out / "heldout.jsonl"))
    assert [(r["phase"], r["sample"]) for r in held] == [("before", 0), ("after", 0)]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["heldout_prompts"] == 1
    with pytest.raises(Exception, match="already holds a run"):
        run_format_grpo(config)
