"""`codekiln eval` on a predictions file that is wrong: the real CLI exits non-zero naming the file and
line, before grading anything (it used to grade nothing and print `resolved: 0/0` with exit 0)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.core.records import append_jsonl
from codekiln.tasks.records import TaskRecord

GOOD = {"instance_id": "t__1", "model_name_or_path": "m", "model_patch": ""}


def _codekiln(*argv: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from codekiln.cli import main; sys.argv[0] = 'codekiln'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120, env=dict(os.environ)
    )


@pytest.fixture
def tasks_file(tmp_path: Path) -> Path:
    path = tmp_path / "tasks.jsonl"
    task = TaskRecord(instance_id="t__1", repo="t", base_commit="0" * 40, patch="", FAIL_TO_PASS=["a::b"])
    append_jsonl(path, [task])
    return path


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"instance_id": "t__1", "model_patch": ""', "not valid JSON"),
        ('{"model_name_or_path": "m", "model_patch": ""}', "the prediction has no instance_id"),
        ('{"instance_id": "t__1", "model_name_or_path": "m"}', "the prediction has no model_patch"),
        ('["t__1", ""]', "a prediction must be a JSON object"),
        ('{"instance_id": "", "model_patch": ""}', "instance_id must be a non-empty string"),
    ],
)
def test_a_malformed_line_names_the_file_and_line(
    tmp_path: Path, tasks_file: Path, line: str, expected: str
) -> None:
    preds = tmp_path / "preds.jsonl"
    preds.write_text(json.dumps(GOOD) + "\n\n" + line + "\n" + json.dumps(GOOD) + "\n")
    res = _codekiln(
        "eval", "--tasks", str(tasks_file), "--predictions", str(preds), "--out", str(tmp_path / "o")
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"error: {preds}:3: {expected}" in res.stderr
    assert "hint: one JSON object per line" in res.stderr
    assert "resolved:" not in res.stdout
    assert not (tmp_path / "o" / "results.jsonl").exists()


def test_an_empty_file_and_predictions_for_other_tasks_fail(tmp_path: Path, tasks_file: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    res = _codekiln("eval", "-t", str(tasks_file), "-p", str(empty), "-o", str(tmp_path / "o"))
    assert res.returncode == 1 and f"error: {empty} holds no predictions" in res.stderr
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(GOOD | {"instance_id": "elsewhere__9"}) + "\n")
    res = _codekiln("eval", "-t", str(tasks_file), "-p", str(other), "-o", str(tmp_path / "o"))
    assert res.returncode == 1
    assert f"error: none of the 1 predictions in {other} names a task in {tasks_file}" in res.stderr
