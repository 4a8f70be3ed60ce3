"""Task records: built from a candidate validated by really running toolz's tests; SWE-bench rows."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
from tasks_helpers import run_pytest

from codekiln.core.diffs import diff_hash, reverse_diff
from codekiln.core.errors import TaskError
from codekiln.core.records import append_jsonl, read_records
from codekiln.tasks.frontend.candidates import Generation
from codekiln.tasks.records import (
    SWEBENCH_FIELDS,
    Difficulty,
    RejectedCandidate,
    RejectReason,
    TaskRecord,
    TaskSource,
    Validation,
    hidden_tests_patch,
    make_instance_id,
    task_from_candidate,
)
from codekiln.testing import run_git


def test_validated_task_from_candidate(toolz_task: TaskRecord, toolz_checkout: Path) -> None:
    task = toolz_task
    assert task.instance_id.startswith("pytoolz__toolz.") and ".flip_comparison__" in task.instance_id
    assert task.source == TaskSource.func_pm and task.mutators == ["flip_comparison"]
    assert task.patch == reverse_diff(task.bug_patch)
    assert task.content_hash == diff_hash(task.patch)
    assert task.FAIL_TO_PASS and set(task.FAIL_TO_PASS).isdisjoint(task.PASS_TO_PASS)
    assert task.difficulty is not None and task.difficulty.level == "easy"
    assert task.difficulty.n_fail_to_pass == len(task.FAIL_TO_PASS) and task.difficulty.lines_changed == 2
    # the bug then the gold patch: the failing tests pass again
    assert run_git(toolz_checkout, "apply", "-", input=task.bug_patch).exit_code == 0
    assert run_git(toolz_checkout, "apply", "-", input=task.patch).exit_code == 0
    statuses, output = run_pytest(toolz_checkout, *task.FAIL_TO_PASS)
    assert set(statuses) == set(task.FAIL_TO_PASS) and set(statuses.values()) == {"PASSED"}, output[-1500:]


def test_test_patch_restores_hidden_tests(toolz_task: TaskRecord, toolz_checkout: Path) -> None:
    (hidden,) = toolz_task.hidden_tests
    original = (toolz_checkout / hidden).read_text()
    (toolz_checkout / hidden).unlink()
    assert run_git(toolz_checkout, "apply", "-", input=toolz_task.test_patch).exit_code == 0
    assert (toolz_checkout / hidden).read_text() == original
    with pytest.raises(TaskError, match="not in the snapshot"):
        hidden_tests_patch(toolz_checkout, ["toolz/tests/test_missing.py"])


def test_swebench_row_round_trip(toolz_task: TaskRecord) -> None:
    row = toolz_task.to_swebench_row()
    assert tuple(row) == SWEBENCH_FIELDS
    assert isinstance(row["FAIL_TO_PASS"], str) and json.loads(row["FAIL_TO_PASS"]) == toolz_task.FAIL_TO_PASS
    assert json.loads(row["PASS_TO_PASS"]) == toolz_task.PASS_TO_PASS
    back = TaskRecord.from_swebench_row(row)
    assert back.source == TaskSource.swebench and back.patch == toolz_task.patch
    assert back.content_hash == toolz_task.content_hash
    full = TaskRecord.from_swebench_row(toolz_task.to_swebench_row(extras=True))
    assert full == toolz_task


def test_import_a_swebench_style_row() -> None:
    row = {
        "repo": "pytoolz/toolz",
        "instance_id": "pytoolz__toolz-123",
        "base_commit": "0" * 40,
        "patch": "diff --git a/toolz/itertoolz.py b/toolz/itertoolz.py\n--- a/toolz/itertoolz.py\n+++ b/toolz/itertoolz.py\n"
        "@@ -1,2 +1,2 @@\n import a\n-x = 1\n+x = 2\n",
        "test_patch": "",
        "problem_statement": "x is wrong",
        "hints_text": None,
        "created_at": "2024-01-02T03:04:05Z",
        "version": 1.2,
        "FAIL_TO_PASS": '["toolz/tests/test_itertoolz.py::test_x"]',
        "PASS_TO_PASS": "[]",
        "environment_setup_commit": "1" * 40,
        "image_name": "ignored",
    }
    task = TaskRecord.from_swebench_row(row)
    assert task.FAIL_TO_PASS == ["toolz/tests/test_itertoolz.py::test_x"] and task.PASS_TO_PASS == []
    assert task.version == "1.2" and task.hints_text == "" and task.bug_patch == ""
    assert task.difficulty == Difficulty(
        files_changed=1, lines_changed=2, hunks=1, n_bugs=1, n_fail_to_pass=1, level="easy",
        n_selected=1, f2p_share=1.0,
    )  # fmt: skip
    with pytest.raises(TaskError, match="lacks patch"):
        TaskRecord.from_swebench_row({**row, "patch": ""})
    with pytest.raises(TaskError, match="not a JSON list"):
        TaskRecord.from_swebench_row({**row, "FAIL_TO_PASS": "test_x"})


def test_difficulty_levels(toolz_generation: Generation, toolz_repo: Path) -> None:
    one = toolz_generation.candidates[0]
    assert Difficulty.estimate(one.patch, n_bugs=1).level in ("easy", "medium")
    assert Difficulty.estimate(one.patch, n_bugs=2).level == "medium"
    assert Difficulty.estimate(one.patch, n_bugs=3).level == "hard"


def test_records_in_jsonl(tmp_path: Path, toolz_task: TaskRecord, toolz_generation: Generation) -> None:
    cand = toolz_generation.candidates[1]
    rejected = RejectedCandidate(
        candidate_id=cand.id,
        repo="pytoolz/toolz",
        base_commit=toolz_task.base_commit,
        reason=RejectReason.no_failing_test,
        mutators=cand.mutators,
        entities=cand.entities,
        validation=Validation(before={"t": "passed"}, after={"t": "passed"}, reruns=1),
    )
    append_jsonl(tmp_path / "rejected.jsonl", [rejected])
    append_jsonl(tmp_path / "tasks.jsonl", [toolz_task])
    assert read_records(tmp_path / "rejected.jsonl", RejectedCandidate) == [rejected]
    assert read_records(tmp_path / "tasks.jsonl", TaskRecord) == [toolz_task]
    assert json.loads((tmp_path / "rejected.jsonl").read_text())["reason"] == "no_failing_test"


def test_task_needs_failing_tests(toolz_generation: Generation) -> None:
    cand = toolz_generation.candidates[0]
    with pytest.raises(TaskError, match="no FAIL_TO_PASS"):
        task_from_candidate(cand, repo="r", base_commit="abc", fail_to_pass=[], pass_to_pass=["t"])
    assert (
        make_instance_id("org/My Repo", "0123456789", ["a", "b"], "f" * 16)
        == "org__My__Repo.01234567.combo2__ffffffffff"
    )


def test_tasks_with_collapsed_test_ids_are_named_on_load(tmp_path: Path, toolz_task: TaskRecord) -> None:
    from codekiln.tasks.export.datasets import CollapsedIdsWarning, read_tasks

    old = toolz_task.model_copy(
        update={
            "schema_version": 1,
            "instance_id": "old-task",
            "FAIL_TO_PASS": ["tests/__init__.py::test_clear"],  # where a mixin defined it, as JUnit said
        }
    )
    current = toolz_task.model_copy(update={"FAIL_TO_PASS": ["tests/__init__.py::test_clear"]})  # schema 3
    path = tmp_path / "tasks.jsonl"
    append_jsonl(path, [current])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_tasks(path)[0].schema_version == 3  # made with pytest's node ids: nothing to say
    append_jsonl(path, [old])
    with pytest.warns(CollapsedIdsWarning, match=r"1 task\(s\).*old-task: tests/__init__.py::test_clear"):
        tasks = read_tasks(path)
    assert [t.instance_id for t in tasks] == [current.instance_id, "old-task"]
