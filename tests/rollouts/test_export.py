"""Exporters on real rollouts (the oracle and a malformed-turn policy on a synthesized toolz task): the
mini-swe-agent trajectory file and ATIF v1.4, each checked against what its format requires."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codekiln.cli.rollout import app
from codekiln.rollouts import Rollout, RolloutConfig, read_rollouts, run_rollouts, to_atif, to_mini

pytestmark = pytest.mark.root  # rollouts on real tasks: environments and grading in bwrap sandboxes

AGENT_ONLY = ("model_name", "reasoning_effort", "reasoning_content", "tool_calls", "metrics")


def check_atif(doc: dict[str, Any]) -> None:
    """The ATIF v1.4 rules (Harbor RFC 0001): required fields and types, step ids 1..n, agent-only
    fields on agent steps only, tool-call ids unique, results naming calls of their own step."""
    assert isinstance(doc["schema_version"], str) and doc["schema_version"].startswith("ATIF-v1.")
    assert isinstance(doc["session_id"], str) and doc["session_id"]
    agent = doc["agent"]
    assert isinstance(agent["name"], str) and isinstance(agent["version"], str)
    assert [s["step_id"] for s in doc["steps"]] == list(range(1, len(doc["steps"]) + 1))
    for step in doc["steps"]:
        assert step["source"] in ("system", "user", "agent") and isinstance(step["message"], str)
        if step["source"] != "agent":
            assert not any(k in step for k in AGENT_ONLY)
        calls = step.get("tool_calls", [])
        ids = [c["tool_call_id"] for c in calls]
        assert len(ids) == len(set(ids)) and all(isinstance(i, str) and i for i in ids)
        for c in calls:
            assert isinstance(c["function_name"], str) and isinstance(c["arguments"], dict)
        for result in step.get("observation", {"results": []})["results"]:
            assert result.get("source_call_id") is None or result["source_call_id"] in ids
            assert isinstance(result.get("content", ""), str)
        metrics = step.get("metrics", {})
        for key in ("prompt_tokens", "completion_tokens"):
            assert isinstance(metrics.get(key, 0), int)
        if "completion_token_ids" in metrics and "logprobs" in metrics:
            assert len(metrics["completion_token_ids"]) == len(metrics["logprobs"])
    for key in ("total_prompt_tokens", "total_completion_tokens", "total_steps"):
        assert isinstance(doc["final_metrics"][key], int)
    json.dumps(doc)


def check_mini(doc: dict[str, Any]) -> None:
    """mini-swe-agent 2.4.6's saved trajectory (test_mini_format compares it with mini's own files): info
    (exit_status, submission, model_stats, mini_version, config), messages ending with the `exit` message,
    trajectory_format mini-swe-agent-1.1."""
    assert doc["trajectory_format"] == "mini-swe-agent-1.1"
    info = doc["info"]
    assert isinstance(info["exit_status"], str) and isinstance(info["submission"], str)
    assert isinstance(info["model_stats"]["instance_cost"], float)
    assert isinstance(info["model_stats"]["api_calls"], int) and isinstance(info["mini_version"], str)
    assert {"agent", "model", "environment"} <= set(info["config"])
    for msg in doc["messages"]:
        assert msg["role"] in ("system", "user", "assistant", "tool", "exit")
        assert msg["content"] is None or isinstance(msg["content"], str)
    assert doc["messages"][-1]["role"] == "exit"
    assert doc["messages"][-1]["extra"]["exit_status"] == info["exit_status"]
    assert doc["messages"][-1]["extra"]["submission"] == info["submission"]
    json.dumps(doc)


@pytest.fixture(scope="module")
def rollouts(tasks_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Rollout]:
    root = tmp_path_factory.mktemp("export")
    base = {"tasks": tasks_dir, "limit": 1, "scaffold": "swe"}
    run_rollouts(RolloutConfig.model_validate({**base, "out": root / "oracle", "model": "oracle"}))
    script = root / "script.json"
    look = {"content": "Looking.", "tool_calls": [{"name": "bash", "arguments": {"command": "ls toolz"}}]}
    script.write_text(json.dumps(["no tool call at all", look]))
    run_rollouts(
        RolloutConfig.model_validate(
            {**base, "out": root / "messy", "model": f"scripted:{script}", "max_turns": 2}
        )
    )
    return {"oracle": read_rollouts(root / "oracle")[0], "messy": read_rollouts(root / "messy")[0]}


def test_oracle_rollout_exports_to_both_formats(rollouts: dict[str, Rollout]) -> None:
    r = rollouts["oracle"]
    atif, mini = to_atif(r), to_mini(r)
    check_atif(atif)
    check_mini(mini)
    assert [s["source"] for s in atif["steps"]] == ["system", "user", "agent", "agent"]
    apply_step, submit_step = atif["steps"][2:]
    assert apply_step["tool_calls"][0]["function_name"] == "bash"
    assert "base64 -d" in apply_step["tool_calls"][0]["arguments"]["command"]
    assert (
        apply_step["observation"]["results"][0]["source_call_id"]
        == apply_step["tool_calls"][0]["tool_call_id"]
    )
    assert submit_step["tool_calls"][0]["function_name"] == "submit" and "observation" not in submit_step
    assert atif["extra"]["reward"]["value"] == 1.0 and atif["extra"]["patch"] == r.patch
    assert mini["info"]["exit_status"] == "Submitted" and mini["info"]["submission"] == r.patch
    assert [m["role"] for m in mini["messages"]] == [
        "system",
        "user",
        "assistant",
        "tool",
        "assistant",
        "exit",
    ]


def test_format_errors_and_limits_survive_export(rollouts: dict[str, Rollout]) -> None:
    r = rollouts["messy"]
    atif, mini = to_atif(r), to_mini(r)
    check_atif(atif)
    check_mini(mini)
    bad, ok = atif["steps"][2:]
    assert bad["extra"]["parse_error"] and "tool_calls" not in bad
    assert bad["observation"]["results"][0]["source_call_id"] is None  # the error note, a user turn
    assert ok["extra"]["parse_error"] is None and ok["message"] == "Looking."
    assert mini["info"]["exit_status"] == "LimitsExceeded"
    assert mini["messages"][2]["extra"]["interrupt_type"] == "FormatError"  # mini adds no assistant turn
    assert atif["extra"]["reward"]["value"] == -0.5


def test_token_ids_and_logprobs_become_atif_metrics(rollouts: dict[str, Rollout]) -> None:
    r = rollouts["oracle"].model_copy(deep=True)
    assert r.trajectory is not None
    step = r.trajectory.steps[0]
    step.prompt_ids, step.completion_ids, step.logprobs = [1, 2, 3], [4, 5], [-0.1, -0.2]
    metrics = to_atif(r)["steps"][2]["metrics"]
    check_atif(to_atif(r))
    assert metrics["prompt_token_ids"] == [1, 2, 3] and metrics["completion_token_ids"] == [4, 5]
    assert metrics["logprobs"] == [-0.1, -0.2]


def test_export_command_writes_one_file_per_rollout(tasks_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    ran = runner.invoke(
        app,
        ["--tasks", str(tasks_dir), "--out", str(tmp_path), "--model", "noop", "--n", "2", "--limit", "1"],
    )
    assert ran.exit_code == 0, ran.output
    for to, suffix, check in (("atif", ".atif.json", check_atif), ("mini", ".traj.json", check_mini)):
        res = runner.invoke(app, ["export", str(tmp_path), "--to", to, "--out", str(tmp_path / to)])
        assert res.exit_code == 0, res.output
        files = sorted((tmp_path / to).glob(f"*{suffix}"))
        assert len(files) == 2
        for path in files:
            check(json.loads(path.read_text()))
    bad = runner.invoke(app, ["export", str(tmp_path), "--to", "sharegpt", "--out", str(tmp_path / "x")])
    assert bad.exit_code != 0
