"""The one task loader every command uses (a synth directory, a .jsonl or a .parquet file) and the rule
of which tasks count as valid (what `codekiln tasks stats` counts and every export ships)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.core.errors import ConfigError
from codekiln.tasks import load_tasks, valid_tasks, write_parquet_dataset, write_tasks
from codekiln.tasks.records import TaskRecord

PATCH = "--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"


def task(instance_id: str, **kw: object) -> TaskRecord:
    fields: dict[str, object] = {
        "instance_id": instance_id, "repo": "r", "base_commit": "c", "patch": PATCH,
        "FAIL_TO_PASS": ["t.py::test_x"], "problem_statement": "x is wrong", "bug_patch": PATCH,
    }  # fmt: skip
    return TaskRecord.model_validate({**fields, **kw})


def test_the_same_tasks_from_a_directory_a_jsonl_and_a_parquet_file(tmp_path: Path) -> None:
    tasks = [task("a"), task("b")]
    write_tasks(tmp_path / "tasks.jsonl", tasks)
    assert load_tasks(tmp_path) == load_tasks(tmp_path / "tasks.jsonl") == tasks
    pytest.importorskip("datasets", reason="the data extra (pip install 'codekiln[data]')")
    parquet = write_parquet_dataset(tasks, tmp_path / "hf")
    assert [t.instance_id for t in load_tasks(parquet)] == ["a", "b"]


def test_missing_or_empty_tasks_say_what_to_give(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no tasks at") as missing:
        load_tasks(tmp_path)
    assert "--out directory of `codekiln synth`" in str(missing.value.hint)
    (tmp_path / "tasks.jsonl").write_text("")
    with pytest.raises(ConfigError, match="holds no tasks") as empty:
        load_tasks(tmp_path)
    assert "codekiln synth" in str(empty.value.hint)
    assert load_tasks(tmp_path, allow_empty=True) == []


def test_valid_tasks_are_complete_and_first_of_their_id() -> None:
    tasks = [
        task("ok"),
        task("ok", problem_statement="a second record of the same id"),
        task("no-failing-test", FAIL_TO_PASS=[]),
        task("no-fix", patch="  \n"),
        task("no-statement", problem_statement=" "),
        task("blank-bug", bug_patch="\n"),
        task("no-bug-recorded", bug_patch=""),
    ]
    kept = valid_tasks(tasks)
    assert [t.instance_id for t in kept] == ["ok", "no-bug-recorded"]
    assert kept[0].problem_statement == "x is wrong"
