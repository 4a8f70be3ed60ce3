"""Multi-step trajectories built from task data (codekiln.training.trajectories) on real toolz tasks:
played through the real agent loop and chat formats in a bwrap sandbox, graded by the real grader in a
fresh one, filtered like SFT rollouts; a plan whose edit does not fix the bug is graded unresolved and
dropped, and the export reads the rows like rollouts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import load, toolz_tasks

from codekiln.core.diffs import make_diff, parse_diff
from codekiln.core.errors import ConfigError
from codekiln.envs import EnvRecord, load_env
from codekiln.formats.base import message_calls
from codekiln.tasks.records import TaskRecord
from codekiln.training import export_sft
from codekiln.training.trajectories import (
    Built,
    build_trajectories,
    build_trajectory,
    hunk_edits,
    plan_turns,
    replay_report,
)

ARITY = "toolz.2fbed4f0.reorder_statements__c0916dcbab"  # its statement gives a reproducing snippet
VALID = "toolz.2fbed4f0.reorder_statements__d2a1358590"  # no snippet: the checkout's tests are the check


@pytest.fixture(scope="module")
def tasks() -> dict[str, TaskRecord]:
    return {t.instance_id: t for t in load(toolz_tasks())}


@pytest.fixture(scope="module")
def env(tasks: dict[str, TaskRecord]) -> EnvRecord:
    return load_env(next(iter(tasks.values())).environment_id or "")


@pytest.fixture(scope="module")
def built(tasks: dict[str, TaskRecord], env: EnvRecord) -> list[Built]:
    chosen = [tasks[ARITY], tasks[VALID]]
    return build_trajectories(chosen, env, scaffolds=["swe", "mini"], formats=["qwen3_coder", "hermes"])


def tools_used(b: Built) -> list[str]:
    assert b.trajectory is not None
    return [c.name for m in b.trajectory.messages if m["role"] == "assistant" for c in message_calls(m)]


@pytest.mark.root
def test_built_trajectories_resolve_their_tasks_when_replayed_through_the_grader(built: list[Built]) -> None:
    assert [(b.scaffold, b.format) for b in built] == [
        ("swe", "qwen3_coder"),
        ("mini", "hermes"),
        ("swe", "hermes"),
        ("mini", "qwen3_coder"),
    ]
    for b in built:
        assert b.trajectory is not None and b.trajectory.exit_reason == "submitted", b.drop
        assert b.resolved and b.kept, (b.task_id, b.scaffold, b.drop)
        assert len(b.trajectory.steps) >= 6  # search, view, check, edit, check again, submit
    swe = built[0]
    assert tools_used(swe) == ["bash", "str_replace_editor", "bash", "str_replace_editor", "bash", "submit"]
    assert set(tools_used(built[1])) == {"bash"}
    observed = [m["content"] for m in swe.trajectory.messages if m["role"] == "tool"]  # type: ignore[union-attr]
    assert "def check_arity" in observed[0]  # the search found the function in the real checkout
    assert "exit=1" in observed[2] and "exit=0" in observed[4]  # the snippet fails, then passes
    report = replay_report(built)
    assert report == {
        "built": 4,
        "resolved": 4,
        "resolved_rate": 1.0,
        "kept": 4,
        "dropped": {},
        "mean_steps": report["mean_steps"],
    }


@pytest.mark.root
def test_an_edit_that_does_not_fix_the_bug_is_graded_unresolved_and_dropped(
    tasks: dict[str, TaskRecord], env: EnvRecord, built: list[Built]
) -> None:
    task = tasks[ARITY]
    edit = hunk_edits(task.patch)[0]
    # a patch on the same lines that only adds a comment: the bug stays
    wrong = make_diff(edit.path, edit.old, "# looked at this\n" + edit.old, first_line=edit.line)
    b = build_trajectory(task.model_copy(update={"patch": wrong}), env, scaffold="swe", format="glm46")
    assert b.trajectory is not None and b.trajectory.exit_reason == "submitted"
    assert b.grade is not None and not b.resolved and b.drop == "unresolved"


@pytest.mark.root
def test_the_rows_export_as_sft_data(built: list[Built], tmp_path: Path) -> None:
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text("".join(json.dumps(b.row()) + "\n" for b in built))
    report = export_sft(rollouts, tmp_path / "sft", formats="hermes,glm46,xml_cline", k=2, parquet=False)
    assert report["kept"] == 4 and report["rows"] == 8


def test_a_plan_needs_each_hunk_once_in_the_workspace() -> None:
    patch = make_diff("pkg/m.py", "a = 1\nb = 2\n", "a = 1\nb = 3\n")
    task = TaskRecord(
        instance_id="t", repo="pkg", base_commit="0", patch=patch, problem_statement="b is 2", FAIL_TO_PASS=[]
    )
    assert [(e.old, e.new) for e in hunk_edits(patch)] == [("a = 1\nb = 2\n", "a = 1\nb = 3\n")]
    turns = plan_turns(task, {"pkg/m.py": "a = 1\nb = 2\n"}, "terminus")
    assert turns[-1]["tool_calls"][0]["arguments"]["task_complete"] is True
    with pytest.raises(ConfigError, match="not in the workspace exactly once"):
        plan_turns(task, {"pkg/m.py": "a = 1\nb = 2\na = 1\nb = 2\n"}, "swe")
    created = make_diff("pkg/new.py", None, "x = 1\n")
    assert parse_diff(created)[0].old_path is None
    with pytest.raises(ConfigError, match="creates, deletes or renames"):
        hunk_edits(created)
