"""A rollout run's output directory, a `core.stage` directory: rollouts.jsonl (whole rollouts, appended),
episodes/ (each running episode's steps, deleted once its rollout is written), manifest.json and the lock.

    with open_stage(out, LAYOUT, redo=redo) as stage: ...     # one writer per directory
    finished_pairs(out)                       # {(instance_id, sample): reward} already written
    write_rollouts(stage, rollouts)           # append, then drop their partial episodes
    read_rollouts(out)                        # every rollout written
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codekiln.core.records import iter_jsonl
from codekiln.core.stage import LOCK, MANIFEST, Layout, Stage, read_finished
from codekiln.rewards import Reward
from codekiln.rollouts.infra import stop_error
from codekiln.rollouts.records import Rollout

ROLLOUTS, EPISODES = "rollouts.jsonl", "episodes"
LAYOUT = Layout("rollouts", logs=(ROLLOUTS,), derived=(EPISODES,))


def episode_path(out: Path, instance_id: str, sample: int) -> Path:
    return Path(out) / EPISODES / instance_id / f"{sample}.partial.jsonl"


def pair(row: dict[str, Any]) -> tuple[str, int]:
    """The (instance_id, sample) a rollout row is for: what makes it finished work."""
    return str(row["instance_id"]), int(row["sample"])


def finished_pairs(out: Path) -> dict[tuple[str, int], Reward]:
    """(instance_id, sample) -> reward of every rollout already written."""
    done: dict[tuple[str, int], Reward] = {}
    for key, row in read_finished(Path(out) / ROLLOUTS, pair).items():
        try:
            done[key] = Reward.model_validate(row["reward"])
        except (KeyError, ValueError):
            continue
    return done


def write_rollouts(stage: Stage, rollouts: list[Rollout]) -> None:
    """Append whole rollouts, then drop their partial episodes."""
    stage.append(ROLLOUTS, rollouts)
    for r in rollouts:
        episode_path(stage.out, r.instance_id, r.sample).unlink(missing_ok=True)


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
    "LAYOUT",
    "LOCK",
    "MANIFEST",
    "ROLLOUTS",
    "episode_path",
    "finished_pairs",
    "pair",
    "read_rollouts",
    "stop_held",
    "write_rollouts",
]
