"""Versioned records and the append-only JSONL files stages hand them off through.

Every record a stage writes is a pydantic model with `schema_version`. Files are appended one whole line
at a time and flushed + fsynced, so a crash (even `kill -9`) loses at most the line being written.
`atomic_write_*` writes whole files via a temporary file and `os.replace`.

Torn tails: a stage's own logs are opened through `core.stage`, which drops a torn last line (under the
stage's lock) before anything is appended, so every line stays whole. `append_jsonl` alone cannot tell a
torn tail from another process's line still being written (files such as the snapshot catalog are
appended to by several processes without a lock), so it never truncates: it only starts its row on a
fresh line, and `iter_jsonl` skips a line that is not whole JSON.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError

from codekiln.core.errors import ConfigError

R = TypeVar("R", bound="Record")


class Record(BaseModel):
    """Base for every record codekiln writes. Subclasses bump `schema_version` on incompatible change."""

    model_config = ConfigDict(extra="ignore")
    schema_version: int = 1

    def to_json(self) -> str:
        return self.model_dump_json()


def append_jsonl(path: str | Path, rows: Iterable[BaseModel | dict[str, Any]]) -> int:
    """Append rows as JSON lines, fsyncing before returning. Returns the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [_json_line(row) for row in rows]
    if not lines:
        return 0
    data = b"".join(lines)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)  # read: torn-tail check
    try:
        _repair_torn_tail(fd)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    return len(lines)


def dumps_utf8(obj: Any, **kw: Any) -> str:
    """`json.dumps(obj, ensure_ascii=False, **kw)`, unless that text cannot be encoded as UTF-8: text an
    agent controls can hold lone surrogates (a file name that is not UTF-8, decoded with surrogateescape;
    a JSON "\\ud800" escape in a tool call), and then every non-ASCII character is escaped instead, which
    `json.loads` reads back as it was."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return json.dumps(obj, **kw)
    return text


def _json_line(row: BaseModel | dict[str, Any]) -> bytes:
    """One row as a UTF-8 JSON line (lone surrogates escaped: see `dumps_utf8`)."""
    if not isinstance(row, BaseModel):
        return (dumps_utf8(row) + "\n").encode()
    try:
        return (row.model_dump_json() + "\n").encode()
    except PydanticSerializationError:
        return (dumps_utf8(row.model_dump(mode="json")) + "\n").encode()


def _repair_torn_tail(fd: int) -> None:
    """If the file does not end with a newline, start the new row on its own line (see the module
    docstring: stage logs never get here with a torn tail; `core.stage` drops it first)."""
    size = os.fstat(fd).st_size
    if size == 0:
        return
    last = os.pread(fd, 1, size - 1)
    if last != b"\n":
        os.write(fd, b"\n")


def iter_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """Yield each well-formed JSON object; torn or corrupt lines (from a crash) are skipped."""
    path = Path(path)
    if not path.exists():
        return
    with path.open("rb") as fh:
        for raw in fh:
            raw = raw.strip()
            if not raw:
                continue
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict):
                yield obj


class TornLineWarning(UserWarning):
    """An input file's last line is not whole JSON (a run was writing it, or crashed mid-line)."""


def iter_input_jsonl(path: str | Path, *, hint: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield (line number, object) for each row of a JSONL file a user handed in (tasks, rollouts).
    Unlike `iter_jsonl`, nothing is skipped silently: a line in the middle that is not a JSON object
    is a ConfigError naming the file and line; only a last line with no newline (torn by a crash or
    still being written) is dropped, with a `TornLineWarning` naming it."""
    path = Path(path)
    data = path.read_bytes()
    lines = data.split(b"\n")
    for lineno, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except ValueError as err:
            if lineno == len(lines):  # no newline after it: torn, not corrupt
                warnings.warn(
                    TornLineWarning(f"{path}:{lineno}: dropped a partial last line ({len(raw)} bytes)"),
                    stacklevel=2,
                )
                return
            raise ConfigError(f"{path}:{lineno}: not valid JSON ({err}): {_head(raw)}", hint=hint) from err
        if not isinstance(obj, dict):
            raise ConfigError(f"{path}:{lineno}: a JSON {type(obj).__name__}, not an object", hint=hint)
        yield lineno, obj


def validate_row(model: type[R], row: dict[str, Any], where: str, *, hint: str) -> R:
    """`model.model_validate(row)`, a failure being a ConfigError that names `where` (file:line) and
    the fields at fault instead of a traceback."""
    try:
        return model.model_validate(row)
    except ValidationError as err:
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in err.errors()[:4])
        raise ConfigError(f"{where}: not a {model.__name__} ({fields})", hint=hint) from err


def read_input_records(path: str | Path, model: type[R], *, hint: str) -> list[R]:
    """Every row of a JSONL file a user handed in, as `model` (see `iter_input_jsonl`)."""
    return [
        validate_row(model, row, f"{path}:{n}", hint=hint) for n, row in iter_input_jsonl(path, hint=hint)
    ]


def _head(raw: bytes) -> str:
    text = raw.decode("utf-8", "replace")
    return text if len(text) <= 80 else text[:80] + "..."


def read_records(path: str | Path, model: type[R]) -> list[R]:
    """Load every row of a JSONL file as `model`."""
    return [model.model_validate(row) for row in iter_jsonl(path)]


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a whole file so readers see either the old or the new content, never a mix."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes 0600 files; these are ordinary outputs
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def atomic_write_json(path: str | Path, obj: BaseModel | dict[str, Any] | list[Any]) -> None:
    text = obj.model_dump_json(indent=2) if isinstance(obj, BaseModel) else json.dumps(obj, indent=2)
    atomic_write_text(path, text + "\n")


def load_json(path: str | Path, model: type[R]) -> R:
    return model.model_validate_json(Path(path).read_text())
