"""`codekiln eval` on real toolz tasks: predictions graded in fresh sandboxes by the rollouts' grader, each
error class reached by a real patch, pass@k from repeated samples, resuming, and rollout directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.eval import app
from codekiln.core.diffs import make_diff
from codekiln.core.stage import TornTailWarning
from codekiln.envs import load_env
from codekiln.reports.eval import (
    RESULTS,
    SUMMARY,
    EvalResult,
    EvalSummary,
    evaluate_predictions,
    evaluate_rollouts,
    read_predictions,
    read_results,
)
from codekiln.tasks.records import TaskRecord


def appended(task: TaskRecord, rel: str, extra: str) -> str:
    """A patch (against the agent's workspace) that appends `extra` to a file the bug does not touch."""
    before = (Path(load_env(task.environment_id or "").snapshot_path) / rel).read_text()
    assert rel not in task.bug_patch
    return make_diff(rel, before, before + extra)


def reported_task(tasks: list[TaskRecord]) -> TaskRecord:
    """A task whose failing tests are reported (failed, not uncollectable) in its buggy state."""
    for task in tasks:
        assert task.validation is not None
        if all(task.validation.after.get(t) == "failed" for t in task.FAIL_TO_PASS):
            return task
    pytest.fail("no synthesized task has reported FAIL_TO_PASS tests in its buggy state")


def write_preds(path: Path, rows: list[tuple[str, str, str | None]]) -> Path:
    path.write_text(
        "".join(
            json.dumps({"instance_id": i, "model_name_or_path": m, "model_patch": p}) + "\n"
            for i, m, p in rows
        )
    )
    return path


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_predictions_graded_with_each_outcome_and_reason(
    tasks_dir: Path, tasks: list[TaskRecord], tmp_path: Path
) -> None:
    task = reported_task(tasks)
    other = next(t for t in tasks if t.instance_id != task.instance_id)
    breaks_import = appended(task, "toolz/__init__.py", "raise ImportError('broken by the test')\n")
    preds = write_preds(
        tmp_path / "preds.jsonl",
        [
            (task.instance_id, "gold", task.patch),
            (task.instance_id, "empty", ""),
            (
                task.instance_id,
                "garbage",
                "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n",
            ),
            (task.instance_id, "breaker", breaks_import),
            (other.instance_id, "twice", other.patch),
            (other.instance_id, "twice", None),
            ("toolz.unknown__0", "gold", ""),
        ],
    )
    seen: list[EvalResult] = []
    summary = evaluate_predictions(
        tasks_dir, preds, tmp_path / "eval", workers=2, on_result=lambda r, done, total: seen.append(r)
    )
    assert len(seen) == 6
    got = {(r.model, r.sample): r for r in read_results(tmp_path / "eval")}
    gold, empty, garbage, breaker = got["gold", 0], got["empty", 0], got["garbage", 0], got["breaker", 0]
    assert gold.resolved and gold.status == "resolved" and gold.error_class is None
    assert set(gold.FAIL_TO_PASS) == set(task.FAIL_TO_PASS) and set(gold.FAIL_TO_PASS.values()) == {"passed"}
    assert not empty.resolved and empty.empty_patch and empty.error_class is None and empty.status == "failed"
    assert "failed" in empty.FAIL_TO_PASS.values()
    assert garbage.outcome == "patch_failed" and garbage.error_class == "patch_failed"
    assert "nope.py" in garbage.reason
    assert breaker.error_class == "collection_error" and not breaker.resolved and not breaker.masked
    assert "collection errors" in breaker.reason
    assert got["twice", 0].resolved and not got["twice", 1].resolved and got["twice", 1].empty_patch

    assert summary.unknown_instances == ["toolz.unknown__0"]
    assert (summary.overall.graded, summary.overall.resolved, summary.overall.masked) == (6, 2, 0)
    assert summary.error_classes == {"patch_failed": 1, "collection_error": 1}
    assert summary.breakdowns["model"]["twice"].pass_at_k == {
        "1": pytest.approx(0.5),
        "2": pytest.approx(1.0),
    }
    assert summary.breakdowns["model"]["gold"].rate == 1.0
    assert set(summary.breakdowns["mutator"]) == set(task.mutators) | set(other.mutators)
    assert "scaffold" not in summary.breakdowns  # predictions carry no scaffold
    assert EvalSummary.model_validate_json((tmp_path / "eval" / SUMMARY).read_text()) == summary

    # Resuming grades nothing again; a new prediction is graded alone.
    again: list[EvalResult] = []
    evaluate_predictions(tasks_dir, preds, tmp_path / "eval", on_result=lambda r, d, t: again.append(r))
    assert again == []
    with preds.open("a") as fh:
        fh.write(
            json.dumps({"instance_id": other.instance_id, "model_name_or_path": "twice", "model_patch": ""})
            + "\n"
        )
    summary = evaluate_predictions(
        tasks_dir, preds, tmp_path / "eval", on_result=lambda r, d, t: again.append(r)
    )
    assert [(r.model, r.sample) for r in again] == [("twice", 2)]
    assert summary.breakdowns["model"]["twice"].pass_at_k["3"] == 1.0
    assert len(read_results(tmp_path / "eval")) == 7


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_a_hanging_patch_is_a_timeout_with_its_reason(
    tasks_dir: Path, tasks: list[TaskRecord], tmp_path: Path
) -> None:
    task = tasks[0]
    hang = appended(task, "toolz/__init__.py", "import time\ntime.sleep(600)\n")
    preds = write_preds(tmp_path / "p.jsonl", [(task.instance_id, "sleepy", hang)])
    summary = evaluate_predictions(tasks_dir, preds, tmp_path / "eval", timeout=8)
    (result,) = read_results(tmp_path / "eval")
    assert result.outcome == "timeout" and result.error_class == "timeout" and result.reason
    assert (
        summary.error_classes == {"timeout": 1}
        and summary.overall.graded == 1
        and summary.overall.rate == 0.0
    )


def test_predictions_file_forms(tmp_path: Path) -> None:
    listed = tmp_path / "p.json"
    listed.write_text(
        json.dumps([{"instance_id": "a", "model_patch": None}, {"instance_id": "a", "model_patch": ""}])
    )
    preds = read_predictions(listed)
    assert [(p.instance_id, p.model_name_or_path, p.sample, p.model_patch) for p in preds] == [
        ("a", "unknown", 0, ""),
        ("a", "unknown", 1, ""),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"model_patch": "x"}\n')
    with pytest.raises(Exception, match="instance_id"):
        read_predictions(bad)


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_rollout_directories_evaluated_from_their_stored_grades(
    rollout_dirs: dict[str, Path], tmp_path: Path
) -> None:
    oracle = evaluate_rollouts(rollout_dirs["oracle"], tmp_path / "oracle")
    assert (oracle.overall.graded, oracle.overall.resolved) == (6, 6)
    assert oracle.overall.pass_at_k == {"1": 1.0, "2": 1.0}
    assert list(oracle.breakdowns["scaffold"]) == ["swe"] and list(oracle.breakdowns["model"]) == ["oracle"]
    breaker = evaluate_rollouts(rollout_dirs["breaker"], tmp_path / "breaker")
    assert breaker.overall.resolved == 0 and breaker.error_classes.get("collection_error", 0) >= 1
    assert list(breaker.breakdowns["format"]) == ["glm46"]
    rows = read_results(tmp_path / "breaker")
    assert {r.source for r in rows} == {"rollout"} and all(r.reward == 0.0 for r in rows)


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_regrading_a_rollout_directory_gives_the_same_verdicts(
    rollout_dirs: dict[str, Path], tasks_dir: Path, tmp_path: Path
) -> None:
    stored = {r.key: r for r in read_results_of(rollout_dirs["noop"], tmp_path / "stored")}
    evaluate_rollouts(rollout_dirs["noop"], tmp_path / "regraded", regrade=True, workers=2)
    regraded = {r.key: r for r in read_results(tmp_path / "regraded")}
    assert set(stored) == set(regraded) and len(stored) == 3
    for key, row in stored.items():
        assert (regraded[key].outcome, regraded[key].resolved) == (row.outcome, row.resolved)
        assert regraded[key].FAIL_TO_PASS == row.FAIL_TO_PASS


def read_results_of(rollout_dir: Path, out: Path) -> list[EvalResult]:
    evaluate_rollouts(rollout_dir, out)
    return read_results(out)


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_cli_evaluates_a_rollout_directory(rollout_dirs: dict[str, Path], tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--rollouts", str(rollout_dirs["oracle"]), "--out", str(tmp_path / "e")]
    )
    assert result.exit_code == 0, result.output
    assert "resolved: 6/6" in result.output and "pass@2" in result.output
    assert (tmp_path / "e" / RESULTS).is_file()
    bad = CliRunner().invoke(app, ["--out", str(tmp_path / "e")])
    assert bad.exit_code != 0


@pytest.mark.root  # grades real tasks in bwrap sandboxes
def test_a_torn_result_line_is_dropped_and_only_its_sample_regraded(
    rollout_dirs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "regraded"
    evaluate_rollouts(rollout_dirs["noop"], out, regrade=True)
    log = out / RESULTS
    whole = log.read_text().splitlines()
    log.write_text("\n".join(whole[:-1]) + "\n" + whole[-1][:40])  # what a crash mid-write leaves
    graded: list[str] = []
    with pytest.warns(TornTailWarning, match="dropped a partial last line"):
        evaluate_rollouts(
            rollout_dirs["noop"], out, regrade=True, on_result=lambda r, d, t: graded.append(r.instance_id)
        )
    assert graded == [json.loads(whole[-1])["instance_id"]]  # the torn sample alone, graded again
    rows = [json.loads(line) for line in log.read_text().splitlines()]  # every line whole
    assert sorted((r["instance_id"], r["sample"]) for r in rows) == sorted(
        (json.loads(line)["instance_id"], json.loads(line)["sample"]) for line in whole
    )
