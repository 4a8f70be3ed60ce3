"""The real mini-swe-agent (its DefaultAgent, LitellmModel and SWE-bench config, unchanged) on a real
synthesized toolz task: its model calls go through the codekiln interception proxy to a codekiln scripted
policy, its commands run in the codekiln sandbox, and the episode is graded, rewarded and stored as a
Rollout. Skipped, with the reason printed, when mini-swe-agent is not installed."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.thirdparty import app
from codekiln.core.errors import ConfigError
from codekiln.envs import load_env
from codekiln.models.scripted import ScriptedModel
from codekiln.rollouts import read_rollouts
from codekiln.rollouts.controls import control_script
from codekiln.rollouts.proxy import InterceptionProxy
from codekiln.rollouts.thirdparty import SCAFFOLD, import_mini, run_mini_swe_agent
from codekiln.tasks.records import TaskRecord

try:
    import_mini()
except ConfigError as err:
    pytest.skip(f"mini-swe-agent is not installed: {err.hint}", allow_module_level=True)

PROBE = "pwd && id -u && echo HOME_IS_$HOME"


def bash(command: str) -> dict[str, object]:
    return {"content": "", "tool_calls": [{"name": "bash", "arguments": {"command": command}}]}


def policy(task: TaskRecord, kind: str) -> ScriptedModel:
    """A probe of where commands run, then the oracle's or the noop's turns in mini's tool vocabulary."""
    turns = control_script(kind, "mini", task.patch if kind == "oracle" else "")
    return ScriptedModel([bash(PROBE), *turns])


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_mini_swe_agent_solves_a_task_through_the_proxy_in_the_sandbox(
    tasks: list[TaskRecord], tmp_path: Path
) -> None:
    task = tasks[0]
    rollout = run_mini_swe_agent(task, load_env(task.environment_id or ""), policy(task, "oracle"), tmp_path)

    # mini-swe-agent ran: its own trajectory file, its own prompts, its exit status.
    mini = json.loads((tmp_path / "episodes" / task.instance_id / "0.mini.traj.json").read_text())
    assert mini["info"]["exit_status"] == "Submitted" and mini["trajectory_format"].startswith(
        "mini-swe-agent"
    )
    assert "<pr_description>" in mini["messages"][1]["content"]
    # Every model call went through the proxy, recorded with the request mini sent and the answer.
    records = [
        json.loads(line) for line in (tmp_path / "episodes" / task.instance_id / "0.proxy.jsonl").open()
    ]
    assistant = [m for m in mini["messages"] if m["role"] == "assistant"]
    assert len(records) == len(assistant) == 3
    assert [m["extra"]["response"]["id"] for m in assistant] == [r["id"] for r in records]
    assert records[0]["request"]["tools"][0]["function"]["name"] == "bash"
    assert all(r["error"] is None and r["codekiln"]["parse_error"] is None for r in records)
    # Its commands ran in the codekiln sandbox: /testbed as the unprivileged sandbox uid.
    probe = mini["messages"][3]["extra"]["raw_output"].split()
    assert probe[:2] == ["/testbed", "10001"] and not Path("/testbed").exists()

    assert rollout.scaffold == SCAFFOLD and rollout.grade is not None
    assert rollout.grade.outcome == "resolved" and rollout.reward.resolved and rollout.reward.value == 1.0
    traj = rollout.trajectory
    assert traj is not None and traj.exit_reason == "submitted" and traj.totals.turns == 3
    assert traj.steps[1].calls[0]["arguments"]["command"].startswith("printf")
    assert traj.steps[0].observations[0].text.count("/testbed") == 1
    assert [r.key for r in read_rollouts(tmp_path)] == [(task.instance_id, 0)]


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_submitting_without_changes_is_unresolved(tasks: list[TaskRecord], tmp_path: Path) -> None:
    task = tasks[0]
    rollout = run_mini_swe_agent(task, load_env(task.environment_id or ""), policy(task, "noop"), tmp_path)
    assert rollout.grade is not None and rollout.grade.outcome == "unresolved"
    assert rollout.reward.value == 0.0 and not rollout.reward.masked and rollout.patch == ""
    assert rollout.trajectory is not None and rollout.trajectory.exit_reason == "submitted"
    assert read_rollouts(tmp_path)[0].reward.resolved is False


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_an_oversized_change_is_refused_unread(tasks: list[TaskRecord], tmp_path: Path) -> None:
    """The seventh red team: this scaffold read and graded a change of any size (an 8 MB file made a
    16 MB rollouts.jsonl line), where codekiln's own refuses one over MAX_CHANGE_BYTES unread. Both now
    end an episode the same way (`final_diff`, `read_patch`)."""
    task = tasks[0]
    write = "python -c \"open('big.txt', 'w').write(('x' * 99 + '\\n') * 80_000)\""  # 8 MB of text
    model = ScriptedModel([bash(write), *control_script("noop", "mini", "")])
    rollout = run_mini_swe_agent(task, load_env(task.environment_id or ""), model, tmp_path)
    assert rollout.grade is not None and (rollout.grade.outcome, rollout.grade.reason) == (
        "rejected",
        "change_too_large",
    )
    assert rollout.reward.value == 0.0 and not rollout.reward.masked and rollout.patch == ""
    assert rollout.trajectory is not None and rollout.trajectory.diff.startswith("(not read: 8,")
    assert (tmp_path / "rollouts.jsonl").stat().st_size < 1_000_000


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_a_backend_failure_is_masked_not_scored(tasks: list[TaskRecord], tmp_path: Path) -> None:
    task = tasks[0]
    rollout = run_mini_swe_agent(
        task, load_env(task.environment_id or ""), ScriptedModel([bash("ls")]), tmp_path
    )
    assert rollout.trajectory is not None and rollout.trajectory.exit_reason == "model_error"
    assert rollout.reward.masked and rollout.reward.value is None and rollout.grade is None
    last = json.loads(
        (tmp_path / "episodes" / task.instance_id / "0.proxy.jsonl").read_text().splitlines()[-1]
    )
    assert last["error"]["type"] == "ModelError" and "ran out of outputs" in last["error"]["message"]


def test_proxy_speaks_openai_and_records_each_exchange(tmp_path: Path) -> None:
    model = ScriptedModel([bash("echo hi"), "just text"])
    with InterceptionProxy(model, tmp_path / "log.jsonl") as proxy:
        with urllib.request.urlopen(f"{proxy.base_url}/models") as resp:
            assert json.load(resp)["data"][0]["id"] == "codekiln"
        answers = []
        for _ in range(2):
            body = {"model": "codekiln", "messages": [{"role": "user", "content": "go"}]}
            request = urllib.request.Request(
                f"{proxy.base_url}/chat/completions",
                json.dumps(body).encode(),
                {"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(request) as resp:
                answers.append(json.load(resp)["choices"][0])
    call = answers[0]["message"]["tool_calls"][0]
    assert answers[0]["finish_reason"] == "tool_calls" and json.loads(call["function"]["arguments"]) == {
        "command": "echo hi"
    }
    assert answers[1]["message"] == {"role": "assistant", "content": "just text"}
    rows = [json.loads(line) for line in (tmp_path / "log.jsonl").open()]
    assert [r["index"] for r in rows] == [0, 1] and rows[1]["codekiln"]["raw"] == "just text"


def test_thirdparty_command_resumes_and_refuses_another_model(tasks_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["mini-swe-agent", "--tasks", str(tasks_dir), "--out", str(tmp_path), "--limit", "1"]
    first = runner.invoke(app, [*args, "--model", "oracle"])
    assert first.exit_code == 0, first.output
    assert first.output.strip().splitlines()[-1] == "resolved: 1/1"
    again = runner.invoke(app, [*args, "--model", "oracle"])
    assert (
        again.exit_code == 0 and "0 new episodes" in again.output and "(1 from earlier runs)" in again.output
    )
    other = runner.invoke(app, [*args, "--model", "noop"])
    assert isinstance(other.exception, ConfigError)
    assert "model was 'oracle', now 'noop'" in other.exception.message
    assert len(read_rollouts(tmp_path)) == 1
