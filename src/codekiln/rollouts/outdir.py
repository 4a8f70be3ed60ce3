"""A rollout run's output directory: rollouts.jsonl (whole rollouts, appended), episodes/ (each running
episode's steps, deleted once its rollout is written), manifest.json and the lock two runs share.

    with exclusive(out): ...                  # one writer per directory
    finished_pairs(out)                       # {(instance_id, sample): reward} already written
    write_rollouts(out, rollouts)             # append, then drop their partial episodes
    read_rollouts(out)                        # every rollout written
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codekiln.core.errors import ConfigError
from codekiln.core.records import append_jsonl, iter_jsonl
from codekiln.rewards import Reward
from codekiln.rollouts.infra import stop_error
from codekiln.rollouts.records import Rollout

ROLLOUTS, MANIFEST, EPISODES, LOCK = "rollouts.jsonl", "manifest.json", "episodes", ".lock"


def episode_path(out: Path, instance_id: str, sample: int) -> Path:
    return Path(out) / EPISODES / instance_id / f"{sample}.partial.jsonl"


def finished_pairs(out: Path) -> dict[tuple[str, int], Reward]:
    """(instance_id, sample) -> reward of every rollout already written."""
    done: dict[tuple[str, int], Reward] = {}
    for row in iter_jsonl(Path(out) / ROLLOUTS):
        try:
            done[(row["instance_id"], int(row["sample"]))] = Reward.model_validate(row["reward"])
        except (KeyError, ValueError):
            continue
    return done


@contextmanager
def exclusive(out: Path) -> Iterator[None]:
    """Hold the output directory's lock: two runs appending to one rollouts.jsonl would duplicate pairs."""
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            raise ConfigError(
                f"another codekiln rollout is writing to {out}", hint="wait for it, or use another --out"
            ) from err
        yield
    finally:
        os.close(fd)


def write_rollouts(out: Path, rollouts: list[Rollout]) -> None:
    """Append whole rollouts, then drop their partial episodes."""
    append_jsonl(out / ROLLOUTS, rollouts)
    for r in rollouts:
        episode_path(out, r.instance_id, r.sample).unlink(missing_ok=True)


def stop_held(out: Path, held: list[Rollout], cause: str) -> None:
    """Drop the held (unwritten) rollouts' partial episodes and stop the run with `cause`."""
    for r in held:
        episode_path(out, r.instance_id, r.sample).unlink(missing_ok=True)
    raise stop_error(len(held), cause)


def read_rollouts(out: Path) -> list[Rollout]:
    """Every rollout written to an output directory (or a rollouts.jsonl file)."""
    path = Path(out)
    path = path / ROLLOUTS if path.is_dir() else path
    return [Rollout.model_validate(row) for row in iter_jsonl(path)]


__all__ = [
    "EPISODES",
    "LOCK",
    "MANIFEST",
    "ROLLOUTS",
    "episode_path",
    "exclusive",
    "finished_pairs",
    "read_rollouts",
    "stop_held",
    "write_rollouts",
]
