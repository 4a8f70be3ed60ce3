"""append_jsonl on text an agent controls: rows holding lone surrogates (a file name that is not UTF-8,
decoded with surrogateescape; a JSON "\\ud800" escape) are written as valid UTF-8 JSON and read back
as they were, instead of crashing the writer (a whole rollout run died on one such file name)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from codekiln.core.records import append_jsonl, iter_jsonl


class Row(BaseModel):
    patch: str


def test_lone_surrogates_round_trip_through_a_jsonl_file(tmp_path: Path) -> None:
    path = tmp_path / "rows.jsonl"
    rows: list[BaseModel | dict[str, object]] = [
        Row(patch="b/bad\udcff.py"),
        {"args": ["\ud800"]},
        Row(patch="é"),
    ]
    assert append_jsonl(path, rows) == 3
    raw = path.read_bytes()
    raw.decode("utf-8")  # the file stays valid UTF-8
    assert raw.splitlines()[2] == '{"patch":"é"}'.encode()  # ordinary rows are written as before
    assert list(iter_jsonl(path)) == [{"patch": "b/bad\udcff.py"}, {"args": ["\ud800"]}, {"patch": "é"}]
