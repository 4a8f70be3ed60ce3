"""Task datasets: JSONL, Hugging Face parquet (loaded back with `datasets`), SWE-bench rows, dedup."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codekiln.core.diffs import make_diff, parse_diff
from codekiln.core.errors import TaskError
from codekiln.tasks.export.datasets import (
    dedup,
    export_swebench,
    import_swebench,
    read_parquet_tasks,
    read_tasks,
    to_hf_dataset,
    write_parquet_dataset,
    write_tasks,
)
from codekiln.tasks.records import TaskRecord, TaskSource


def _variant(task: TaskRecord, n: int) -> TaskRecord:
    """The same task with a different fix (one more changed line) and id."""
    fp = parse_diff(task.patch)[0]
    old = "".join(f"{line.text}\n" for h in fp.hunks for line in h.lines if line.tag != "+")
    new = (
        "".join(f"{line.text}\n" for h in fp.hunks for line in h.lines if line.tag != "-")
        + f"# variant {n}\n"
    )
    patch = make_diff(fp.path, old, new)
    return task.model_copy(
        update={
            "instance_id": f"{task.instance_id}-v{n}",
            "patch": patch,
            "content_hash": "",
            "difficulty": None,
        }
    )


@pytest.fixture
def tasks(toolz_task: TaskRecord) -> list[TaskRecord]:
    return [toolz_task, *(TaskRecord.model_validate(_variant(toolz_task, n).model_dump()) for n in (1, 2))]


def test_jsonl_round_trip_and_dedup(tmp_path: Path, tasks: list[TaskRecord]) -> None:
    path = tmp_path / "tasks.jsonl"
    assert len({t.content_hash for t in tasks}) == 3
    assert write_tasks(path, tasks) == 3
    assert write_tasks(path, [tasks[0].model_copy(update={"instance_id": "again"})]) == 1
    loaded = read_tasks(path)
    assert loaded[:3] == tasks and len(loaded) == 4
    assert [t.instance_id for t in dedup(loaded)] == [t.instance_id for t in tasks]


def test_parquet_dataset_loads_with_datasets(tmp_path: Path, tasks: list[TaskRecord]) -> None:
    datasets = pytest.importorskip("datasets", reason="the data extra (pip install 'codekiln[data]')")
    path = write_parquet_dataset(tasks, tmp_path / "hf")
    assert path == tmp_path / "hf" / "data" / "train-00000-of-00001.parquet"
    ds = datasets.load_dataset(
        "parquet", data_files=str(path), split="train", cache_dir=str(tmp_path / "cache")
    )
    assert ds.num_rows == 3
    row = ds[0]
    assert row["instance_id"] == tasks[0].instance_id
    assert json.loads(row["FAIL_TO_PASS"]) == tasks[0].FAIL_TO_PASS  # SWE-bench's JSON-string form
    assert row["mutators"] == ["flip_comparison"] and row["difficulty"]["level"] == "easy"
    assert (
        row["difficulty"]["n_selected"] == len(tasks[0].tests)
        and row["difficulty"]["import_breakage"] is False
    )
    assert json.loads(row["validation"])["after"] == tasks[0].validation.after  # type: ignore[union-attr]
    assert read_parquet_tasks(tmp_path / "hf") == tasks
    assert to_hf_dataset(tasks).features == ds.features


def test_swebench_import_from_jsonl_json_and_parquet(tmp_path: Path, tasks: list[TaskRecord]) -> None:
    pytest.importorskip("datasets", reason="the data extra (pip install 'codekiln[data]')")
    jsonl = tmp_path / "rows.jsonl"
    assert export_swebench(jsonl, tasks) == 3
    rows = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert isinstance(rows[0]["PASS_TO_PASS"], str)
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    write_parquet_dataset(tasks, tmp_path / "hf")
    for path in (jsonl, tmp_path / "rows.json", tmp_path / "hf/data/train-00000-of-00001.parquet"):
        imported = import_swebench(path)
        assert [t.instance_id for t in imported] == [t.instance_id for t in tasks]
        assert [t.content_hash for t in imported] == [t.content_hash for t in tasks]
        assert imported[0].FAIL_TO_PASS == tasks[0].FAIL_TO_PASS
    assert {t.source for t in import_swebench(jsonl)} == {TaskSource.swebench}
    assert {t.source for t in import_swebench(tmp_path / "hf/data/train-00000-of-00001.parquet")} == {
        TaskSource.func_pm
    }
    (tmp_path / "rows.csv").write_text("x")
    with pytest.raises(TaskError, match="cannot read rows"):
        import_swebench(tmp_path / "rows.csv")


def test_tests_left_out_survive_the_parquet_dataset(tmp_path: Path, tasks: list[TaskRecord]) -> None:
    """A test left out (it reads the tests' source on the clean snapshot) must stay out of a reloaded
    task's grades, which would otherwise run it as collateral of its hidden file and be `tampered`."""
    pytest.importorskip("datasets", reason="the data extra (pip install 'codekiln[data]')")
    tasks[1].left_out = ["tests/test_x.py::test_own_file"]
    write_parquet_dataset(tasks, tmp_path / "hf")
    assert read_parquet_tasks(tmp_path / "hf") == tasks
