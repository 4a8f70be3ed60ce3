"""Task datasets: JSONL files, Hugging Face `datasets` parquet, SWE-bench-style imports, dedup.

    write_tasks("tasks.jsonl", tasks)                      # appended, one TaskRecord per line
    tasks = load_tasks("out/toolz")                        # a synth directory, a .jsonl or a .parquet file
    ready = valid_tasks(tasks)                             # complete ones, first of each id
    unique = dedup(tasks)                                  # first task per content_hash (the fix's diff hash)
    write_parquet_dataset(tasks, Path("hf"))                 # hf/data/train-00000-of-00001.parquet
    datasets.load_dataset(str(Path("hf")), split="train")    # loads as any Hub dataset folder does
    imported = import_swebench("swe-bench.jsonl")            # .jsonl, .json or .parquet SWE-bench rows

Parquet rows are SWE-bench rows (FAIL_TO_PASS / PASS_TO_PASS as JSON strings, as SWE-bench publishes
them) plus codekiln's columns; `validation` is stored as a JSON string. The `datasets` package is an
optional extra (`pip install codekiln[data]`), imported only here and only when used.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.records import append_jsonl, iter_jsonl, read_input_records
from codekiln.core.sources import is_utf8_text
from codekiln.tasks.records import SWEBENCH_FIELDS, TaskRecord, TaskSource

_STR_COLUMNS = (
    *SWEBENCH_FIELDS,
    "source",
    "bug_patch",
    "environment_id",
    "content_hash",
    "candidate_id",
    "validation",
    "provenance",
)
TASKS_FILE = "tasks.jsonl"
"""Where a synth output directory keeps its tasks."""
_LIST_COLUMNS = ("mutators", "entities", "hidden_tests", "left_out")
_DIFFICULTY_INTS = ("files_changed", "lines_changed", "hunks", "n_bugs", "n_fail_to_pass", "n_selected")


TASKS_HINT = (
    "one task per line as `codekiln synth` writes them (tasks.jsonl): fix or delete that line, "
    "or synthesize again: codekiln synth SPEC --out DIR"
)


def write_tasks(path: str | Path, tasks: Iterable[TaskRecord]) -> int:
    """Append tasks to a JSONL file; returns how many were written."""
    return append_jsonl(path, tasks)


def read_tasks(path: str | Path) -> list[TaskRecord]:
    """The tasks of a JSONL file. Tasks whose test ids were rebuilt from JUnit and merged several tests
    (see `TaskRecord.collapsed_ids`) are named in a `CollapsedIdsWarning`."""
    tasks = read_input_records(path, TaskRecord, hint=TASKS_HINT)
    broken = {t.instance_id: ids for t in tasks if (ids := t.collapsed_ids())}
    if broken:
        first, ids = next(iter(broken.items()))
        warnings.warn(
            CollapsedIdsWarning(
                f"{path}: {len(broken)} task(s) carry test ids that merged several tests into one and "
                f"cannot be rerun (made before codekiln took test ids from pytest), e.g. {first}: "
                f"{', '.join(ids[:3])}. Re-synthesize them: codekiln synth ... --redo"
            ),
            stacklevel=2,
        )
    return tasks


def load_tasks(path: str | Path, *, allow_empty: bool = False) -> list[TaskRecord]:
    """The tasks every command reads: a synth output directory (its tasks.jsonl), a tasks .jsonl file or
    a .parquet file (`write_parquet_dataset`'s). A missing file, or one without tasks unless
    `allow_empty`, is a ConfigError that says what to give instead."""
    path = Path(path)
    if path.is_dir():
        if allow_empty and not (path / TASKS_FILE).exists() and (path / "manifest.json").is_file():
            return []  # a synth output directory whose run has written no task
        path = path / TASKS_FILE
    if not path.is_file():
        raise ConfigError(
            f"no tasks at {path}",
            hint="give the --out directory of `codekiln synth`, or a tasks .jsonl/.parquet file",
        )
    tasks = read_parquet_tasks(path) if path.suffix == ".parquet" else read_tasks(path)
    if not tasks and not allow_empty:
        raise ConfigError(
            f"{path} holds no tasks", hint="synthesize some first: codekiln synth SPEC --out DIR"
        )
    return tasks


def valid_tasks(tasks: Iterable[TaskRecord]) -> list[TaskRecord]:
    """Tasks that are complete: failing tests, a gold patch, a statement, and a bug patch that is not
    blank when one is recorded; the first of each instance id, in order. What exports ship."""
    seen: set[str] = set()
    out = []
    for task in tasks:
        if task.instance_id in seen or not (
            task.FAIL_TO_PASS and task.patch.strip() and task.problem_statement.strip()
        ):
            continue
        if task.bug_patch and not task.bug_patch.strip():
            continue
        seen.add(task.instance_id)
        out.append(task)
    return out


class CollapsedIdsWarning(UserWarning):
    """Tasks whose FAIL_TO_PASS / PASS_TO_PASS ids were rebuilt from JUnit and merged tests."""


def dedup(tasks: Iterable[TaskRecord]) -> list[TaskRecord]:
    """Tasks with a content_hash not seen before (the first of each), in order."""
    seen: set[str] = set()
    out = []
    for task in tasks:
        if task.content_hash in seen:
            continue
        seen.add(task.content_hash)
        out.append(task)
    return out


def _datasets() -> Any:
    try:
        import datasets
    except ImportError as err:
        raise ConfigError(
            "the Hugging Face `datasets` package is not installed", hint="pip install 'codekiln[data]'"
        ) from err
    return datasets


def hf_features() -> Any:
    ds = _datasets()
    features: dict[str, Any] = {name: ds.Value("string") for name in _STR_COLUMNS}
    features.update({name: ds.List(ds.Value("string")) for name in _LIST_COLUMNS})
    difficulty = {name: ds.Value("int32") for name in _DIFFICULTY_INTS}
    difficulty["level"] = ds.Value("string")
    difficulty["f2p_share"] = ds.Value("float64")
    difficulty["import_breakage"] = ds.Value("bool")
    features["difficulty"] = difficulty
    features["schema_version"] = ds.Value("int32")
    return ds.Features(features)


def to_hf_row(task: TaskRecord) -> dict[str, Any]:
    """One parquet row: the SWE-bench row plus codekiln's columns."""
    row = task.to_swebench_row()
    row.update(
        source=str(task.source),
        bug_patch=task.bug_patch,
        environment_id=task.environment_id,
        content_hash=task.content_hash,
        candidate_id=task.candidate_id,
        validation=task.validation.model_dump_json() if task.validation else None,
        provenance=task.provenance.model_dump_json() if task.provenance else None,
        mutators=task.mutators,
        entities=task.entities,
        hidden_tests=task.hidden_tests,
        left_out=task.left_out,
        difficulty=task.difficulty.model_dump() if task.difficulty else None,
        schema_version=task.schema_version,
    )
    return row


def from_hf_row(row: dict[str, Any]) -> TaskRecord:
    return TaskRecord.from_swebench_row(row)


def to_hf_dataset(tasks: Iterable[TaskRecord]) -> Any:
    """A `datasets.Dataset` of the tasks, with a fixed schema."""
    return _datasets().Dataset.from_list([to_hf_row(t) for t in tasks], features=hf_features())


def write_parquet_dataset(
    tasks: Iterable[TaskRecord],
    out_dir: Path,
    *,
    split: str = "train",
    skipped: dict[str, list[str]] | None = None,
) -> Path:
    """Write the tasks as `out_dir/data/<split>-00000-of-00001.parquet` (the Hub's folder layout).

    A task whose patches hold bytes of a file that is not UTF-8 (a latin-1 module: `core.sources`) is
    left out, its id added to `skipped["not_utf8"]`: an Arrow string cannot hold those bytes, and
    a row read back must give the task back as it was (the swebench and Harbor exports carry them)."""
    kept = []
    for task in tasks:
        if all(is_utf8_text(p) for p in (task.bug_patch, task.patch, task.test_patch)):
            kept.append(task)
        elif skipped is not None:
            skipped.setdefault("not_utf8", []).append(task.instance_id)
    path = Path(out_dir) / "data" / f"{split}-00000-of-00001.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    to_hf_dataset(kept).to_parquet(str(path))
    return path


def read_parquet_tasks(path: Path) -> list[TaskRecord]:
    """Tasks from a parquet file written by `write_parquet_dataset` (or a folder holding such files)."""
    _datasets()
    import pyarrow.parquet as pq

    files = sorted(Path(path).rglob("*.parquet")) if Path(path).is_dir() else [Path(path)]
    rows = []
    for file in files:
        try:
            rows += pq.read_table(file).to_pylist()
        except (ValueError, OSError) as err:  # pyarrow's ArrowInvalid is a ValueError
            raise ConfigError(
                f"{file} is not a readable parquet file: {err}",
                hint="give a dataset written by `codekiln tasks export --format hf`, or a tasks .jsonl",
            ) from err
    return [from_hf_row(row) for row in rows]


def _iter_rows(path: Path) -> Iterator[dict[str, Any]]:
    if path.suffix == ".jsonl":
        yield from iter_jsonl(path)
    elif path.suffix == ".json":
        data = json.loads(path.read_text())
        if not isinstance(data, list):
            raise TaskError(f"{path} does not hold a list of rows", hint="give a JSON list or a .jsonl file")
        yield from data
    elif path.suffix == ".parquet":
        _datasets()
        import pyarrow.parquet as pq

        yield from pq.read_table(path).to_pylist()
    else:
        raise TaskError(f"cannot read rows from {path.name}", hint="use a .jsonl, .json or .parquet file")


def import_swebench(path: str | Path, *, source: TaskSource | None = None) -> list[TaskRecord]:
    """SWE-bench-style rows from a file, as TaskRecords (source `swebench` unless the row says otherwise)."""
    return [TaskRecord.from_swebench_row(row, source=source) for row in _iter_rows(Path(path))]


def export_swebench(path: str | Path, tasks: Iterable[TaskRecord], *, extras: bool = False) -> int:
    """Append tasks as SWE-bench-shaped rows to a JSONL file, as the records hold them (`repo` is the
    task's own repository name, `base_commit` its snapshot's commit): rows that `import_swebench` reads
    back. For rows that swebench's own harness runs (owner/name repository, image, eval script), use
    `export.swebench.export_swebench_bundle` (`codekiln tasks export DIR --format swebench`)."""
    return append_jsonl(path, [t.to_swebench_row(extras=extras) for t in tasks])
