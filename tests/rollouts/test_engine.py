"""The rollout engine on real synthesized toolz tasks, real bwrap sandboxes and the real grader: the
oracle resolves every task in every scaffold, the noop none; episodes are saved step by step; a run
killed mid-way resumes without duplicates; unfinished, malformed and infrastructure-failed episodes get
the penalties and masks the rewards promise."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.rollout import app
from codekiln.core.errors import ConfigError
from codekiln.core.records import iter_jsonl
from codekiln.rollouts import RolloutConfig, read_rollouts, run_rollouts, sample_seed
from codekiln.rollouts.engine import EPISODES, ROLLOUTS
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # rollouts on real tasks: environments and grading in bwrap sandboxes

ROOT = Path(__file__).resolve().parents[2]


def config(tasks_dir: Path, out: Path, **kw: object) -> RolloutConfig:
    return RolloutConfig.model_validate({"tasks": tasks_dir, "out": out, "workers": 2, **kw})


@pytest.mark.parametrize("scaffold", ["swe", "mini", "terminus"])
def test_oracle_resolves_every_task(
    scaffold: str, tasks_dir: Path, tasks: list[TaskRecord], tmp_path: Path
) -> None:
    stats = run_rollouts(config(tasks_dir, tmp_path, model="oracle", scaffold=scaffold))
    assert (stats.resolved, stats.graded, stats.masked, stats.errors) == (len(tasks), len(tasks), 0, [])
    assert stats.summary_line() == f"resolved: {len(tasks)}/{len(tasks)}"
    rollouts = read_rollouts(tmp_path)
    assert sorted(r.instance_id for r in rollouts) == sorted(t.instance_id for t in tasks)
    for r in rollouts:
        assert r.trajectory is not None and r.trajectory.exit_reason == "submitted"
        assert r.trajectory.scaffold == scaffold and r.trajectory.totals.format_errors == 0
        assert r.grade is not None and r.grade.outcome == "resolved"
        assert r.reward.value == 1.0 and r.reward.graded == 1.0 and r.reward.finished
        assert r.patch and r.seed == sample_seed(0, r.instance_id, 0)
    assert not list((tmp_path / EPISODES).rglob("*.partial.jsonl"))  # removed once written


def test_noop_resolves_nothing(tasks_dir: Path, tasks: list[TaskRecord], tmp_path: Path) -> None:
    stats = run_rollouts(config(tasks_dir, tmp_path, model="noop", scaffold="swe"))
    assert (stats.resolved, stats.graded) == (0, len(tasks))
    for r in read_rollouts(tmp_path):
        assert r.trajectory is not None and r.trajectory.exit_reason == "submitted"
        assert r.patch == "" and r.grade is not None and r.grade.outcome == "unresolved"
        assert r.reward.value == 0.0 and not r.reward.masked and r.reward.f2p_passed == 0


def test_cli_limit_then_full_resumes_and_prints_resolved(
    tasks_dir: Path, tasks: list[TaskRecord], tmp_path: Path
) -> None:
    runner = CliRunner()
    args = ["--tasks", str(tasks_dir), "--out", str(tmp_path), "--model", "oracle", "--scaffold", "mini"]
    first = runner.invoke(app, [*args, "--n", "2", "--limit", "1"])
    assert first.exit_code == 0, first.output
    assert first.output.strip().splitlines()[-1] == "resolved: 2/2"
    full = runner.invoke(app, [*args, "--n", "2", "--workers", "2"])
    assert full.exit_code == 0, full.output
    assert "2 from earlier runs" in full.output
    assert full.output.strip().splitlines()[-1] == f"resolved: {2 * len(tasks)}/{2 * len(tasks)}"
    keys = [(row["instance_id"], row["sample"]) for row in iter_jsonl(tmp_path / ROLLOUTS)]
    assert len(keys) == len(set(keys)) == 2 * len(tasks)
    other = runner.invoke(app, [*args[:-1], "swe"])
    assert other.exit_code != 0 and isinstance(other.exception, ConfigError)


def test_killed_run_resumes_without_duplicates(
    tasks_dir: Path, tasks: list[TaskRecord], tmp_path: Path
) -> None:
    argv = [sys.executable, "-m", "codekiln.cli.rollout", "--tasks", str(tasks_dir), "--out", str(tmp_path)]
    argv += ["--model", "oracle", "--scaffold", "swe", "--n", "2", "--workers", "1"]
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if len(list(iter_jsonl(tmp_path / ROLLOUTS))) >= 1:
                break
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = len(list(iter_jsonl(tmp_path / ROLLOUTS)))
    assert 1 <= before < 2 * len(tasks), "the run should have been killed part-way"
    stats = run_rollouts(config(tasks_dir, tmp_path, model="oracle", scaffold="swe", n=2))
    assert stats.resumed == before and stats.done == 2 * len(tasks)
    keys = [(row["instance_id"], row["sample"]) for row in iter_jsonl(tmp_path / ROLLOUTS)]
    assert len(keys) == len(set(keys)) == 2 * len(tasks)
    assert stats.summary_line() == f"resolved: {2 * len(tasks)}/{2 * len(tasks)}"


def _script(path: Path, outputs: list[object]) -> str:
    path.write_text(json.dumps(outputs))
    return f"scripted:{path}"


def test_unfinished_and_malformed_turns_are_penalised(tasks_dir: Path, tmp_path: Path) -> None:
    """A policy that writes no tool call once, then looks around until the turn limit: -0.5 and a
    format penalty on exactly the bad turn; every step was saved while the episode ran."""
    look = {"tool_calls": [{"name": "bash", "arguments": {"command": "ls"}}]}
    spec = _script(tmp_path / "script.json", ["I think the bug is in toolz.", look, look])
    cfg = config(tasks_dir, tmp_path / "out", model=spec, scaffold="swe", max_turns=3, limit=1)
    stats = run_rollouts(cfg)
    assert (stats.resolved, stats.graded, stats.masked) == (0, 1, 0)
    (r,) = read_rollouts(tmp_path / "out")
    assert r.trajectory is not None and r.trajectory.exit_reason == "max_turns"
    assert r.reward.value == -0.5 and not r.reward.finished and r.reward.unfinished_penalty == -0.5
    (pen,) = r.reward.format_penalties
    bad = r.trajectory.steps[0]
    assert pen.step == 0 and pen.char_span == (0, len(bad.raw)) and pen.penalty == -1.0
    assert bad.parse_error and r.trajectory.steps[1].parse_error is None


def test_partial_file_holds_the_steps_of_a_running_episode(tasks_dir: Path, tmp_path: Path) -> None:
    """An episode that dies (here: the model backend fails) leaves a masked rollout; the steps it took
    were appended to its partial file one by one while it ran."""
    look = {"tool_calls": [{"name": "bash", "arguments": {"command": "echo hello"}}]}
    spec = _script(tmp_path / "script.json", [look, look])  # the third call finds the script exhausted
    cfg = config(tasks_dir, tmp_path / "out", model=spec, scaffold="swe", max_turns=10, limit=1, n=1)
    seen: list[int] = []
    partials: list[list[dict[str, object]]] = []

    def watch(stats: object) -> None:
        files = list((tmp_path / "out" / EPISODES).rglob("*.partial.jsonl"))
        if files:
            partials.append(list(iter_jsonl(files[0])))
        seen.append(getattr(stats, "steps", 0))

    stats = run_rollouts(cfg, on_progress=watch)
    assert (stats.graded, stats.masked, stats.resolved) == (0, 1, 0)
    assert stats.summary_line() == "resolved: 0/0"
    (r,) = read_rollouts(tmp_path / "out")
    assert r.trajectory is not None and r.trajectory.exit_reason == "model_error"
    assert r.reward.masked and r.reward.value is None and r.grade is None
    assert "model_error" in r.reward.mask_reason
    steps_seen = [sum(1 for row in rows if row.get("type") == "step") for rows in partials]
    assert steps_seen[:2] == [1, 2] and partials[0][0]["type"] == "start"


def test_a_task_changed_under_the_same_id_does_not_keep_its_old_rollouts(
    tasks_dir: Path, tasks: list[TaskRecord], tmp_path: Path
) -> None:
    out = tmp_path / "runs"
    run_rollouts(config(tasks_dir, out, model="noop", scaffold="swe", limit=1))
    changed_dir = tmp_path / "changed"
    changed_dir.mkdir()
    first = tasks[0].model_copy(update={"FAIL_TO_PASS": [*tasks[0].FAIL_TO_PASS[:1], "tests/test_new.py::t"]})
    (changed_dir / "tasks.jsonl").write_text(first.model_dump_json() + "\n")
    with pytest.raises(ConfigError, match=f"task {first.instance_id} as it was in another task set"):
        run_rollouts(config(changed_dir, out, model="noop", scaffold="swe", limit=1))
    # the unchanged task set still resumes: nothing is run again
    stats = run_rollouts(config(tasks_dir, out, model="noop", scaffold="swe", limit=1))
    assert stats.resumed == stats.done == 1
