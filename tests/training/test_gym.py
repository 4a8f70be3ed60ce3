"""The gym-style adapter driven with raw action texts on a real toolz task: real sandbox, real grader."""

from __future__ import annotations

from typing import Any

import pytest
from grpo_support import toolz_tasks

from codekiln.agents import AgentLimits
from codekiln.core.errors import CodekilnError
from codekiln.envs import EnvRecord, load_env
from codekiln.formats import ToolCall, get_format
from codekiln.rollouts.controls import control_script
from codekiln.tasks.records import TaskRecord
from codekiln.training.gym import CodekilnEnv

pytestmark = pytest.mark.root  # episodes on a real task in bwrap sandboxes


@pytest.fixture(scope="module")
def task_env() -> tuple[TaskRecord, EnvRecord]:
    _, tasks = toolz_tasks()
    return tasks[0], load_env(tasks[0].environment_id or "")


def texts(turns: list[dict[str, Any]], fmt: str) -> list[str]:
    """Assistant turns written out as a model would emit them in `fmt`."""
    out = []
    for turn in turns:
        calls = [ToolCall(c["name"], c["arguments"]).to_openai() for c in turn["tool_calls"]]
        out.append(
            get_format(fmt).render_assistant({"role": "assistant", "content": "", "tool_calls": calls})
        )
    return out


@pytest.mark.parametrize(("scaffold", "fmt"), [("swe", "qwen3_coder"), ("mini", "hermes")])
def test_oracle_actions_resolve(task_env: tuple[TaskRecord, EnvRecord], scaffold: str, fmt: str) -> None:
    task, env = task_env
    actions = texts(control_script("oracle", scaffold, task.patch), fmt)
    with CodekilnEnv(task, env, scaffold=scaffold, format=fmt) as gym:
        obs = gym.reset()
        assert [m["role"] for m in obs["messages"]] == ["system", "user"]
        assert obs["prompt"] == get_format(fmt).render_prompt(obs["messages"], obs["tools"])
        obs, reward, done, info = gym.step(actions[0])
        assert (reward, done) == (0.0, False)
        assert obs["messages"][-1]["role"] == "tool" and "functoolz.py" in obs["messages"][-1]["content"]
        obs, reward, done, info = gym.step(actions[1])
    assert done and reward == 1.0
    assert info["reward"].resolved and info["grade"].outcome == "resolved" and not info["masked"]
    assert info["trajectory"].exit_reason == "submitted"


def test_noop_scores_zero_and_format_errors_come_back(task_env: tuple[TaskRecord, EnvRecord]) -> None:
    task, env = task_env
    gym = CodekilnEnv(task, env, scaffold="swe", format="qwen3_coder")
    gym.reset()
    obs, reward, done, info = gym.step("<tool_call>\n<function=bash>\n<parameter=command>\nls\n")
    assert (reward, done) == (0.0, False)
    assert obs["messages"][-1]["role"] == "user" and "could not be used" in obs["messages"][-1]["content"]
    (submit,) = texts(control_script("noop", "swe"), "qwen3_coder")
    obs, reward, done, info = gym.step(submit)
    assert done and reward == 0.0 and info["grade"].outcome == "unresolved"
    assert len(info["reward"].format_penalties) == 1
    with pytest.raises(CodekilnError, match="over"):
        gym.step(submit)


def test_turn_limit_gives_the_unfinished_penalty(task_env: tuple[TaskRecord, EnvRecord]) -> None:
    task, env = task_env
    with CodekilnEnv(task, env, scaffold="mini", format="hermes", limits=AgentLimits(max_turns=1)) as gym:
        gym.reset()
        (look,) = texts([{"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}], "hermes")
        _, reward, done, info = gym.step(look)
    assert done and reward == -0.5 and info["trajectory"].exit_reason == "max_turns"


def test_an_oversized_change_is_refused_unread(task_env: tuple[TaskRecord, EnvRecord]) -> None:
    """The seventh red team: the gym (and `policy.play_episode`, GRPO's) read and graded a change of any
    size, where `codekiln rollout` refuses one over MAX_CHANGE_BYTES unread. They now end an episode
    as it does (`final_diff`, `read_patch`)."""
    task, env = task_env
    write = "python -c \"open('big.txt', 'w').write(('x' * 99 + '\\n') * 80_000)\""  # 8 MB of text
    turns = [
        {"tool_calls": [{"name": "bash", "arguments": {"command": write}}]},
        *control_script("noop", "swe"),
    ]
    with CodekilnEnv(task, env, scaffold="swe", format="qwen3_coder") as gym:
        gym.reset()
        for action in texts(turns, "qwen3_coder"):
            _, reward, done, info = gym.step(action)
    assert done and reward == 0.0 and not info["masked"] and info["patch"] == ""
    assert (info["grade"].outcome, info["grade"].reason) == ("rejected", "change_too_large")
    assert info["trajectory"].diff.startswith("(not read: 8,")
