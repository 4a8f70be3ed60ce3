"""A resumable stage's output directory: the one mechanism `codekiln synth`, `rollout` and `eval` (and
every later stage) write through, so resuming, `--redo`, locking and crash recovery behave alike.

    LAYOUT = Layout("rollouts", logs=("rollouts.jsonl",), derived=("episodes",))
    with open_stage(out, LAYOUT, redo=redo) as stage:        # locked; torn tails dropped; --redo cleared
        stage.match(manifest)                                # a rerun must have the same identity
        done = stage.finished("rollouts.jsonl", key=lambda row: (row["instance_id"], row["sample"]))
        stage.append("rollouts.jsonl", [rollout])            # one whole, fsynced line per finished item
        stage.write("summary.json", summary)                 # whole files: atomic replace

The directory holds:

- `manifest.json` (`StageManifest`): the inputs that define the run. `identity()` is what must match for
  a rerun to resume; fields named in `informational` (where the inputs came from) may change. A rerun
  whose identity differs stops with a `ConfigError` naming the fields that differ and the fix: the same
  options to resume, `--redo` to start over, or another `--out`.
- logs: append-only JSONL, one line per finished item. An item is finished once its line is written and
  fsynced; the ids already there are skipped by a rerun (`finished`).
- derived files (summaries, per-item scratch folders): rewritten or removed; `--redo` removes them too.
- `.lock`: held (`flock`) for as long as the stage is open, with the holder's pid inside. A second run
  on the same directory stops with a `ConfigError` naming that pid. The kernel releases the lock when
  its holder dies, even by `kill -9`, so the lock file a dead run leaves behind is simply taken over.

Torn tails, the one policy: a log whose last line lacks its newline was cut by a crash mid-write. That
line was never acknowledged (its fsync never returned), so when the stage opens the partial line is
truncated away with a `TornTailWarning`, and its item, absent from the log, is done again. Truncating
(rather than ending the partial line with a newline and skipping it on read, which the rollout and
eval directories used to do) keeps every line of every log whole, so strict line readers (`json.loads`
per line, `datasets`, pandas, jq) never meet a corrupt line in the middle of a file; it is safe because
it happens once, under the lock, when no other writer can be mid-line.

Durability: each append is fsynced before `append` returns; the directory itself is fsynced whenever a
file is created, replaced or removed (a new log, the manifest, `--redo`), so after a power loss the
directory never pairs a new manifest with old logs, nor loses a log whose lines were acknowledged.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import time
import warnings
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from codekiln.core.errors import ConfigError
from codekiln.core.records import Record, append_jsonl, atomic_write_json, iter_jsonl

MANIFEST, LOCK = "manifest.json", ".lock"
K = TypeVar("K", bound=Hashable)
M = TypeVar("M", bound="StageManifest")


class TornTailWarning(UserWarning):
    """A log's partial last line (left by a crash mid-write) was dropped; its item will be done again."""


class StageManifest(Record):
    """What an output directory holds work for. Subclasses add the fields that define a run."""

    informational: ClassVar[frozenset[str]] = frozenset()
    """Fields that record where inputs came from but may change between runs (e.g. a path)."""

    def identity(self) -> dict[str, Any]:
        """The fields a rerun must match to resume (JSON-ready)."""
        return self.model_dump(mode="json", exclude={"schema_version", *self.informational})


@dataclass(frozen=True)
class Layout:
    """The files one kind of stage keeps in its output directory."""

    what: str
    """What the stage makes, for messages: "tasks", "rollouts", "results"."""
    logs: tuple[str, ...]
    """Append-only JSONL files: the finished work."""
    derived: tuple[str, ...] = ()
    """Files or folders rebuilt from the logs or scratch: removed by `--redo`."""


def fsync_dir(path: Path) -> None:
    """Make the directory's entries (files created, replaced or removed in it) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def drop_torn_tail(path: Path) -> int:
    """Truncate a partial last line (one without its newline); returns the bytes dropped (0: none).
    Only call it while no one else writes to `path` (the stage's lock ensures that)."""
    if not path.is_file():
        return 0
    with path.open("r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        keep = size
        while keep > 0:  # walk back to the last newline, a block at a time
            start = max(0, keep - 65536)
            fh.seek(start)
            at = fh.read(keep - start).rfind(b"\n")
            if at >= 0:
                keep = start + at + 1
                break
            keep = start
        fh.truncate(keep)
        fh.flush()
        os.fsync(fh.fileno())
    return size - keep


def read_finished(path: Path, key: Callable[[dict[str, Any]], K]) -> dict[K, dict[str, Any]]:
    """key -> row of every row of a log (rows `key` cannot read are skipped). Read-only: no lock."""
    done: dict[K, dict[str, Any]] = {}
    for row in iter_jsonl(path):
        try:
            done[key(row)] = row
        except (KeyError, TypeError, ValueError):
            continue
    return done


class Stage:
    """An open (locked) output directory; made by `open_stage`."""

    def __init__(self, out: Path, layout: Layout) -> None:
        self.out, self.layout = out, layout

    def path(self, name: str) -> Path:
        return self.out / name

    def match(self, manifest: M) -> M:
        """Record `manifest` in a new directory, or check it has the identity of the one recorded there
        (a `ConfigError` naming the differing fields if not). Returns the manifest in force. A directory
        whose logs hold no finished work takes the new manifest (if it read the old one): a run that failed
        before its first item (a typo in an option) does not bind the directory to the typo."""
        path = self.path(MANIFEST)
        if not path.is_file():
            self.write(MANIFEST, manifest)
            return manifest
        try:
            old = type(manifest).model_validate_json(path.read_text())
        except ValueError as err:
            problem = f"its {MANIFEST} cannot be read ({str(err).splitlines()[0]})"
        else:
            if old.identity() == manifest.identity():
                return old
            if not self.holds_work():
                self.write(MANIFEST, manifest)
                return manifest
            problem = "differs in " + "; ".join(_differences(old.identity(), manifest.identity()))
        raise ConfigError(
            f"{self.out} holds {self.layout.what} made with another configuration: {problem} (see {path})",
            hint="rerun with the same options to resume, pass --redo to start over, or use another --out",
        )

    def holds_work(self) -> bool:
        """Whether any log holds a finished item (a line)."""
        return any(
            self.path(name).is_file() and self.path(name).stat().st_size > 0 for name in self.layout.logs
        )

    def finished(self, name: str, key: Callable[[dict[str, Any]], K]) -> dict[K, dict[str, Any]]:
        """key -> row of every item already in the log `name`."""
        return read_finished(self.path(name), key)

    def append(self, name: str, rows: Iterable[BaseModel | dict[str, Any]]) -> int:
        """Append whole lines to the log `name`, fsynced (and the directory too when the log is new)."""
        path = self.path(name)
        new = not path.exists()
        written = append_jsonl(path, rows)
        if new and written:
            fsync_dir(path.parent)
        return written

    def write(self, name: str, obj: BaseModel | dict[str, Any] | list[Any]) -> None:
        """Replace the whole file `name` atomically and durably."""
        atomic_write_json(self.path(name), obj)
        fsync_dir(self.out)

    def clear(self) -> None:
        """Remove the manifest, the logs and the derived files: what `--redo` does."""
        for name in (MANIFEST, *self.layout.logs, *self.layout.derived):
            path = self.path(name)
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink(missing_ok=True)
        fsync_dir(self.out)

    def drop_torn_tails(self) -> None:
        for name in self.layout.logs:
            dropped = drop_torn_tail(self.path(name))
            if dropped:
                warnings.warn(
                    TornTailWarning(
                        f"{self.path(name)}: dropped a partial last line ({dropped} bytes) left by an "
                        "interrupted run; its item will be done again"
                    ),
                    stacklevel=4,
                )


def _differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    def show(value: Any) -> str:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."

    return [
        f"{k} was {show(old.get(k))}, now {show(new.get(k))}"
        for k in sorted(set(old) | set(new))
        if old.get(k) != new.get(k)
    ]


ORPHAN_WAIT_S = 10.0
"""How long a run waits for a lock whose recorded holder is dead: a process the killed run had just
forked (before its exec) holds an inherited copy of the lock until it exits."""


def _alive(holder: str) -> bool:
    try:
        os.kill(int(holder), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _lock(out: Path, what: str) -> int:
    """Take the directory's lock or raise a ConfigError naming its holder; returns the lock's fd. A lock
    held after its recorded holder died (by a child of that run) is waited for, up to ORPHAN_WAIT_S."""
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    deadline = time.monotonic() + ORPHAN_WAIT_S
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as err:
                holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "?"
                if not _alive(holder) and time.monotonic() < deadline:
                    time.sleep(0.1)
                    continue
                gone = "" if _alive(holder) else ", now gone: a process it started still holds the lock"
                raise ConfigError(
                    f"another run (pid {holder}{gone}) is writing {what} to {out}",
                    hint="wait for it to finish, or use another --out"
                    + (f" (find the holder with: fuser {out / LOCK})" if gone else ""),
                ) from err
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _make_out(out: Path) -> None:
    """Create the output directory; a path that is a file, or a parent that cannot be written, is a
    ConfigError saying so (not a traceback)."""
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a directory", hint="give a directory path to --out")
    if not out.exists() and re.fullmatch(r"[A-Za-z_][\w.]*=.*", out.name):
        raise ConfigError(  # `synth SPEC -o retries=5`: -o is --out there, not --option
            f"--out {out} looks like an option key=value, not a directory",
            hint="-o is short for --out in this command; model options are --option key=value",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-probe-{os.getpid()}"
        probe.touch()
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"cannot write the output directory {out}: {err.strerror}",
            hint="give --out a directory on a writable file system with free space",
        ) from err


@contextmanager
def open_stage(out: Path, layout: Layout, *, redo: bool = False) -> Iterator[Stage]:
    """Open `out` for one run: create it, take its lock, clear it if `redo`, drop torn tails.
    The lock is released when the block ends (or the process dies)."""
    out = Path(out)
    _make_out(out)
    fd = _lock(out, layout.what)
    try:
        stage = Stage(out, layout)
        if redo:
            stage.clear()
        stage.drop_torn_tails()
        yield stage
    finally:
        os.close(fd)


__all__ = [
    "LOCK",
    "MANIFEST",
    "Layout",
    "Stage",
    "StageManifest",
    "TornTailWarning",
    "drop_torn_tail",
    "fsync_dir",
    "open_stage",
    "read_finished",
]
