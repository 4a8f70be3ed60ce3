"""Reading rollouts for training: each line of a rollouts file as an `Episode` (trajectory + verdict).

    for ep in load_episodes("out/rollouts.jsonl"):       # or the directory holding rollouts.jsonl
        ep.trajectory, ep.task_id, ep.resolved, ep.masked

Three row shapes are read, so export and curriculum work on any stage's output:
- a rollout record (`codekiln.rollouts.Rollout`: instance_id, sample, trajectory, grade, reward): its
  `Reward` decides (without a reward, the grader's `resolved` / `outcome` does); a rollout without a
  trajectory (the episode could not start) is masked;
- a trajectory with a verdict beside it: {"trajectory": {...}, "resolved": true, "masked": false};
- a bare `Trajectory` line with top-level "resolved" (absent: not graded).

`masked` means the episode says nothing about the model (infrastructure failure: the model server or the
sandbox broke, or the grader could not run), so it is left out of training and out of pass rates.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from codekiln.agents.records import Trajectory
from codekiln.core.errors import ConfigError
from codekiln.core.records import iter_input_jsonl

ROLLOUTS = "rollouts.jsonl"
INFRA_EXITS = frozenset({"model_error", "sandbox_error"})


@dataclass
class Episode:
    """One agent episode as training sees it."""

    id: str
    task_id: str
    trajectory: Trajectory
    resolved: bool | None
    """The grader's verdict; None when the episode was not graded."""
    masked: bool
    """An infrastructure failure: never a training example, never counted in a pass rate."""


def rollouts_path(path: str | Path) -> Path:
    """`path` itself, or `path/rollouts.jsonl` for a directory; ConfigError when it does not exist."""
    path = Path(path)
    file = path / ROLLOUTS if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(
            f"no rollouts file at {file}",
            hint="give the --out directory of `codekiln rollout` or its rollouts.jsonl",
        )
    return file


def _verdict(row: dict[str, Any], traj: Trajectory) -> tuple[bool | None, bool]:
    """(resolved, masked) from the reward if present, else the grade, else top-level fields."""
    masked = traj.exit_reason in INFRA_EXITS or traj.exit_reason is None
    reward, grade = row.get("reward"), row.get("grade")
    if isinstance(reward, dict):
        masked = masked or bool(reward.get("masked"))
        return (None if masked else bool(reward.get("resolved"))), masked
    if isinstance(grade, dict):
        return bool(grade.get("resolved")), masked or grade.get("outcome") == "error"
    resolved = row.get("resolved")
    return (None if resolved is None else bool(resolved)), masked or bool(row.get("masked"))


def episode_id(row: dict[str, Any], traj: Trajectory) -> str:
    """The row's own id, else `<instance_id>:<sample>` (a rollout's key), else a stable content hash."""
    for key in ("id", "rollout_id"):
        if isinstance(row.get(key), str) and row[key]:
            return str(row[key])
    if row.get("instance_id") and isinstance(row.get("sample"), int):
        return f"{row['instance_id']}:{row['sample']}"
    blob = json.dumps([traj.task_id, traj.scaffold, traj.messages], sort_keys=True, default=str)
    return hashlib.sha1(blob.encode()).hexdigest()[:16]


def to_episode(row: dict[str, Any]) -> Episode:
    body = row.get("trajectory", row)
    if body is None:  # a rollout whose episode could not start: an empty, unfinished trajectory
        body = {"scaffold": str(row.get("scaffold") or ""), "task_id": str(row.get("instance_id") or "")}
    try:
        traj = Trajectory.model_validate(body)
    except ValidationError as err:
        raise ConfigError(
            f"a rollouts row is not a trajectory: {err.errors()[0]['msg']}",
            hint="give a rollouts.jsonl written by `codekiln rollout` (or Trajectory records)",
        ) from err
    resolved, masked = _verdict(row, traj)
    task_id = str(row.get("task_id") or row.get("instance_id") or traj.task_id)
    return Episode(episode_id(row, traj), task_id, traj, resolved, masked)


_ROLLOUTS_HINT = "give a rollouts.jsonl written by `codekiln rollout`: fix or delete that line"


def load_episodes(path: str | Path) -> Iterator[Episode]:
    """Every episode of a rollouts file (a torn last line from a crash is skipped); a ConfigError when
    it holds none."""
    file = rollouts_path(path)
    lineno = 0
    for lineno, row in iter_input_jsonl(file, hint=_ROLLOUTS_HINT):
        try:
            yield to_episode(row)
        except ConfigError as err:
            raise ConfigError(f"{file}:{lineno}: {err.message}", hint=err.hint) from err
    if lineno == 0:  # an empty file exported or judged nothing, and said so only by an exit 0
        raise ConfigError(
            f"{file} holds no rollouts", hint="run some first: codekiln rollout --tasks DIR --out DIR"
        )
