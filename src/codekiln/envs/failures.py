"""Failed environment builds, kept so that they can be inspected and are not retried blindly.

    failed = record_failure(snap, recipe, eid, err, scratch, profile)   # build_env's one capture point
    load_failure(eid)              # FailedEnv or None: build_env reports it at once unless redo
    find_failure("pypi:x==1.0")    # the newest failure for an env id (prefix) or a snapshot (env show)

A failure is `envs/failed/<env id>.json`, with the failing step's full log next to it. The env id is a
digest of the snapshot and the recipe, and the recipe of every field of the profile, so a changed
profile is a new build while the same one reports the recorded failure (until `--rebuild`). A
successful build of that id removes the record. Its hint names the profile file to edit and, where the
failing step knows it, the exact line to add there.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import EnvBuildError
from codekiln.core.records import Record, atomic_write_json, load_json
from codekiln.envs.profiles import profile_file
from codekiln.envs.recipe import Recipe
from codekiln.repos import SnapshotRecord


class FailedEnv(Record):
    """A build that failed: what was detected, which step failed and why, and how to fix it."""

    id: str
    snapshot_id: str
    snapshot_path: str
    spec: str
    name: str
    version: str | None = None
    recipe: Recipe
    step: str
    message: str
    log_tail: str = ""
    log: str = ""
    profile_file: str
    profile_line: str = ""
    hint: str = ""
    created: str = ""

    def error(self, cached: bool = True) -> EnvBuildError:
        """The error to raise for this failure (marked as a cached result when it is one)."""
        message = self.message
        if cached:
            message = f"{message}\n(recorded failure from {self.created}: not rebuilt)"
        return EnvBuildError(message, hint=self.hint, step=self.step, log_tail=self.log_tail, env_id=self.id)


def _failed_dir() -> Path:
    return state_dir("envs", "failed")


def _hint(err: EnvBuildError, spec: str, path: Path, note: str, log: str) -> str:
    line = str(err.data.get("profile_line") or "")
    parts = [err.hint or "see the log"]
    if line:
        parts.append(f"add this line to {path} ({note}):\n      {line}")
    else:
        parts.append(f"the profile to edit: {path} ({note})")
    parts.append(
        f"then run `codekiln env build {spec}` again (a changed profile is a new build; "
        "--rebuild retries the same one)"
    )
    if log:
        parts.append(f"full log: {log}")
    return "\n  ".join(parts)


def record_failure(
    snap: SnapshotRecord,
    recipe: Recipe,
    eid: str,
    err: EnvBuildError,
    scratch: Path,
    profile: str | Path | None,
) -> FailedEnv:
    """Keep the failing step's log and the failure record; return it (its `error()` is what to raise)."""
    step = str(err.data.get("step", "build"))
    log = scratch / "logs" / f"{step}.log"
    kept = ""
    if log.is_file():
        kept = str(_failed_dir() / f"{eid}-{step}.log")
        shutil.copyfile(log, kept)
    path, note = profile_file(profile, snap.name)
    spec = f"{snap.source} --profile {profile}" if profile else snap.source
    failed = FailedEnv(
        id=eid,
        snapshot_id=snap.id,
        snapshot_path=snap.path,
        spec=spec,
        name=snap.name,
        version=snap.version,
        recipe=recipe,
        step=step,
        message=err.message,
        log_tail=str(err.data.get("log_tail", "")),
        log=kept,
        profile_file=str(path),
        profile_line=str(err.data.get("profile_line") or ""),
        hint=_hint(err, spec, path, note, kept),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    atomic_write_json(_failed_dir() / f"{eid}.json", failed)
    return failed


def load_failure(eid: str) -> FailedEnv | None:
    """The recorded failure of this exact env id, if any."""
    path = _failed_dir() / f"{eid}.json"
    try:
        return load_json(path, FailedEnv) if path.is_file() else None
    except ValueError:
        return None  # a damaged record: build again


def clear_failure(eid: str) -> None:
    (_failed_dir() / f"{eid}.json").unlink(missing_ok=True)


def list_failures() -> list[FailedEnv]:
    """Every recorded failure, oldest first."""
    out = []
    for path in _failed_dir().glob("*.json"):
        try:
            out.append(load_json(path, FailedEnv))
        except ValueError:
            continue
    return sorted(out, key=lambda f: f.created)


def find_failure(key: str, snapshot_id: str | None = None) -> FailedEnv | None:
    """The newest failure whose env id starts with `key` (6+ characters) or of the snapshot `snapshot_id`."""
    failures = list_failures()
    hits = [f for f in failures if len(key) >= 6 and f.id.startswith(key)]
    hits = hits or [f for f in failures if snapshot_id and f.snapshot_id == snapshot_id]
    return hits[-1] if hits else None
