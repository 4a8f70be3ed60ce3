"""mini-swe-agent trajectories exported from codekiln rollouts (real episodes on a synthesized toolz task,
scripted policies) compared with the files the real mini-swe-agent 2.4.6 writes when it replays the same
turns on the same task (`mini_replay`): the same structure key for key, the same observations for bash
calls, the same exit; non-bash tools rendered as bash commands with the same effect on the repository,
or refused. Skipped, with the reason printed, when mini-swe-agent is not installed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codekiln.core.diffs import parse_diff
from codekiln.core.errors import ConfigError
from codekiln.envs import load_env
from codekiln.grading import graded_files
from codekiln.rollouts import Rollout, RolloutConfig, export_rollouts, read_rollouts, run_rollouts, to_mini
from codekiln.rollouts.controls import apply_command
from codekiln.rollouts.mini_format import MINI_FORMAT, render_editor
from codekiln.rollouts.thirdparty import import_mini
from codekiln.tasks.records import TaskRecord

try:
    import_mini()
except ConfigError as err:
    pytest.skip(f"mini-swe-agent is not installed: {err.hint}", allow_module_level=True)

from mini_replay import replay

SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"content": f"Calling {name}.", "tool_calls": [{"name": name, "arguments": arguments}]}


def fix_by_str_replace(patch: str) -> list[dict[str, Any]]:
    """The gold patch as str_replace_editor calls, one per hunk (old: context and removed lines)."""
    calls = []
    for fp in parse_diff(patch):
        for hunk in fp.hunks:
            old = "".join(line.text + "\n" for line in hunk.lines if line.tag in (" ", "-"))
            new = "".join(line.text + "\n" for line in hunk.lines if line.tag in (" ", "+"))
            calls.append(
                call("str_replace_editor", command="str_replace", path=fp.new_path, old_str=old, new_str=new)
            )
    return calls


def run(tasks_dir: Path, out: Path, scaffold: str, script: list[Any]) -> Rollout:
    path = out.with_suffix(".json")
    path.write_text(json.dumps(script))
    config = {"tasks": tasks_dir, "limit": 1, "scaffold": scaffold, "out": out, "model": f"scripted:{path}"}
    run_rollouts(RolloutConfig.model_validate(config))
    return read_rollouts(out)[0]


@pytest.fixture(scope="module")
def episodes(
    tasks_dir: Path, tasks: list[TaskRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Rollout]:
    root, task = tmp_path_factory.mktemp("mini-format"), tasks[0]
    mini = [call("bash", command="ls toolz | head -3"), call("bash", command="cat nope.txt"),
            call("bash", command=apply_command(task.patch)), call("bash", command=f"echo {SENTINEL}")]  # fmt: skip
    swe = [
        call("str_replace_editor", command="view", path="toolz/functoolz.py", view_range=[1, 5]),
        call("str_replace_editor", command="view", path="toolz/sandbox"),
        call(
            "str_replace_editor",
            command="create",
            path="notes/plan.txt",
            file_text="fix it\nno newline at end",
        ),
        call(
            "str_replace_editor", command="insert", path="notes/plan.txt", insert_line=2, new_str="then test"
        ),
        *fix_by_str_replace(task.patch),
        call("bash", command="git status --short"),
        call("submit"),
    ]
    undo = [call("str_replace_editor", command="undo_edit", path="README.rst"), call("submit")]
    return {
        "mini": run(tasks_dir, root / "mini", "mini", mini),
        "swe": run(tasks_dir, root / "swe", "swe", swe),
        "undo": run(tasks_dir, root / "undo", "swe", undo),
    }


def assert_same_structure(ours: dict[str, Any], theirs: dict[str, Any], *, compare_text: set[str]) -> None:
    """Key for key as mini writes it; the text of tool messages whose call ids are in `compare_text`."""
    assert ours["trajectory_format"] == theirs["trajectory_format"] == MINI_FORMAT
    assert list(ours) == list(theirs)
    info, their_info = ours["info"], theirs["info"]
    assert [k for k in info if k != "codekiln"] == list(their_info)
    assert list(info["model_stats"]) == list(their_info["model_stats"])
    assert info["model_stats"]["api_calls"] == their_info["model_stats"]["api_calls"]
    assert list(info["config"]) == list(their_info["config"])
    assert list(info["config"]["agent"]) == list(their_info["config"]["agent"])
    assert info["exit_status"] == their_info["exit_status"]
    assert [m["role"] for m in ours["messages"]] == [m["role"] for m in theirs["messages"]]
    for mine, real in zip(ours["messages"], theirs["messages"], strict=True):
        assert list(mine) == list(real), (mine, real)
        assert list(mine.get("extra", {})) == list(real.get("extra", {})), (mine, real)
        if mine["role"] == "tool":
            assert mine["tool_call_id"] == real["tool_call_id"]
            assert mine["extra"]["returncode"] == real["extra"]["returncode"], (mine, real)
            assert isinstance(mine["extra"]["timestamp"], float)
            if mine["tool_call_id"] in compare_text:
                assert mine["content"] == real["content"]
                assert mine["extra"]["raw_output"] == real["extra"]["raw_output"]
        if mine["role"] in ("system", "user"):
            assert mine["content"] == real["content"]


def test_bash_episode_matches_what_mini_writes(
    episodes: dict[str, Rollout], tasks: list[TaskRecord], tmp_path: Path
) -> None:
    rollout, task = episodes["mini"], tasks[0]
    assert rollout.reward.resolved
    ours = to_mini(rollout)
    theirs = replay(ours, task, load_env(task.environment_id or ""), tmp_path / "mini.traj.json")
    bash_ids = {m["tool_call_id"] for m in ours["messages"] if m["role"] == "tool"}
    assert len(bash_ids) == 3
    assert_same_structure(ours, theirs, compare_text=bash_ids)
    assert ours["messages"][-1] == {
        "role": "exit",
        "content": "",
        "extra": {"exit_status": "Submitted", "submission": ""},
    }
    assert theirs["messages"][-1] == ours["messages"][-1]
    failed = [m for m in ours["messages"] if m["role"] == "tool" and m["extra"]["returncode"] != 0]
    assert [m["extra"]["raw_output"] for m in failed] == ["cat: nope.txt: No such file or directory\n"]


def test_editor_and_submit_become_bash_with_the_same_effect(
    episodes: dict[str, Rollout], tasks: list[TaskRecord], tmp_path: Path
) -> None:
    rollout, task = episodes["swe"], tasks[0]
    assert rollout.reward.resolved and "notes/plan.txt" in rollout.patch
    ours = to_mini(rollout)
    calls = [c for m in ours["messages"] if m["role"] == "assistant" for c in m["tool_calls"]]
    assert {c["function"]["name"] for c in calls} == {"bash"}
    rendered = [
        r for m in ours["messages"] if m["role"] == "assistant" for r in m["extra"].get("rendered_from", [])
    ]
    assert [r["name"] for r in rendered].count("str_replace_editor") == len(calls) - 2
    assert json.loads(calls[-1]["function"]["arguments"])["command"].startswith(f"echo {SENTINEL} && ")
    theirs = replay(ours, task, load_env(task.environment_id or ""), tmp_path / "swe.traj.json")
    bash_ids = {c["id"] for c in calls} - {r["tool_call_id"] for r in rendered}
    assert_same_structure(ours, theirs, compare_text=bash_ids)
    # mini ran the rendered commands: the repository ends as codekiln's editor left it.
    submitted = theirs["info"]["submission"]
    assert ours["info"]["submission"] == rollout.patch
    snapshot = Path(load_env(task.environment_id or "").snapshot_path)
    assert graded_files(task, submitted, snapshot) == graded_files(task, rollout.patch, snapshot)
    statuses = [m["extra"]["returncode"] for m in theirs["messages"] if m["role"] == "tool"]
    assert statuses == [0] * len(statuses)


def test_tools_without_a_bash_form_are_refused(episodes: dict[str, Rollout], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="undo_edit") as refused:
        to_mini(episodes["undo"])
    assert "--to atif" in str(refused.value.hint) and episodes["undo"].instance_id in refused.value.message
    with pytest.raises(ConfigError, match="undo_edit"):
        export_rollouts([episodes["mini"], episodes["undo"]], "mini", tmp_path / "out")
    assert not (tmp_path / "out").exists()  # refused before anything was written
    with pytest.raises(ConfigError, match="'execute_commands'"):
        render = episodes["undo"].model_copy(deep=True)
        assert render.trajectory is not None
        render.trajectory.steps[0].message["tool_calls"][0]["function"]["name"] = "execute_commands"
        to_mini(render)


def test_format_errors_and_limits_are_written_as_mini_writes_them(episodes: dict[str, Rollout]) -> None:
    """mini's LitellmModel turns a reply without a tool call into one user message (its FormatError,
    with the cost and the response added) and no assistant turn; running out of steps ends with
    LimitsExceeded."""
    from minisweagent.exceptions import FormatError
    from minisweagent.models.utils.actions_toolcall import parse_toolcall_actions

    try:
        parse_toolcall_actions([], format_error_template="{{error}}")
    except FormatError as err:
        theirs = err.messages[0]
    theirs["extra"].update({"cost": 0.0, "response": {}})  # what LitellmModel.query adds
    rollout = episodes["mini"].model_copy(deep=True)
    assert rollout.trajectory is not None
    step = rollout.trajectory.steps[1]
    step.parse_error, step.observations, step.calls = "no tool call", [], []
    step.feedback = [{"role": "user", "content": "Your last reply could not be used"}]
    rollout.trajectory.exit_reason, rollout.trajectory.exit_message = "max_turns", "reached the limit"
    doc = to_mini(rollout)
    error = next(m for m in doc["messages"] if m["role"] == "user" and "extra" in m)
    assert list(error) == list(theirs) and list(error["extra"]) == list(theirs["extra"])
    assert error["extra"]["response"]["choices"][0]["message"]["role"] == "assistant"
    assert [m["role"] for m in doc["messages"]].count("assistant") == 3
    assert doc["messages"][-1] == {"role": "exit", "content": "LimitsExceeded",
                                   "extra": {"exit_status": "LimitsExceeded", "submission": ""}}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "before", "after"),
    [
        ({"command": "str_replace", "old_str": "b = 2\n", "new_str": "b = 'x'\r\n"}, "a = 1\nb = 2\n", "a = 1\nb = 'x'\r\n"),
        ({"command": "insert", "insert_line": 0, "new_str": "top"}, "a\nb", "top\na\nb"),
        ({"command": "insert", "insert_line": 2, "new_str": "end\n"}, "a\nb", "a\nb\nend\n"),
        ({"command": "insert", "insert_line": 1, "new_str": "mid"}, "a\r\nb\n", "a\r\nmid\nb\n"),
    ],
)  # fmt: skip
def test_rendered_edits_match_the_editor_byte_for_byte(
    tmp_path: Path, args: dict[str, Any], before: str, after: str
) -> None:
    import subprocess

    target = tmp_path / "f.py"
    target.write_bytes(before.encode())
    command = render_editor({**args, "path": str(target)})
    subprocess.run(["bash", "-c", command], check=True, cwd=tmp_path)
    assert target.read_bytes().decode() == after


def test_a_rendered_edit_of_a_latin1_module_keeps_its_encoding(tmp_path: Path) -> None:
    """As the editor does (tests/agents/test_tools.py): read by the file's declaration, written back in it."""
    import subprocess

    target = tmp_path / "latin.py"
    before = '# -*- coding: latin-1 -*-\nx = "café"\n'
    target.write_bytes(before.encode("latin-1"))
    command = render_editor(
        {"command": "str_replace", "old_str": "café", "new_str": "thé", "path": str(target)}
    )
    subprocess.run(["bash", "-c", command], check=True, cwd=tmp_path)
    assert target.read_bytes() == before.replace("café", "thé").encode("latin-1")
