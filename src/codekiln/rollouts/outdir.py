"""A rollout run's output directory, a `core.stage` directory: rollouts.jsonl (whole rollouts, appended),
episodes/ (each running episode's steps, deleted once its rollout is written), manifest.json and the lock.

    with open_stage(out, LAYOUT, redo=redo) as stage: ...     # one writer per directory
    finished_pairs(out, tasks)                # {(instance_id, sample): reward} already written
    write_rollouts(stage, rollouts)           # append, then drop their partial episodes
    read_rollouts(out)                        # every rollout written
    load_rollouts(path)                       # the same, for an input: an error if there is none
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.core.errors import ConfigError
from codekiln.core.records import read_input_records
from codekiln.core.stage import LOCK, MANIFEST, Layout, Stage, read_finished
from codekiln.rewards import Reward
from codekiln.rollouts.infra import stop_error
from codekiln.rollouts.records import Rollout
from codekiln.tasks.records import TaskRecord

ROLLOUTS, EPISODES = "rollouts.jsonl", "episodes"
LAYOUT = Layout("rollouts", logs=(ROLLOUTS,), derived=(EPISODES,))


def episode_path(out: Path, instance_id: str, sample: int) -> Path:
    return Path(out) / EPISODES / instance_id / f"{sample}.partial.jsonl"


def pair(row: dict[str, Any]) -> tuple[str, int]:
    """The (instance_id, sample) a rollout row is for: what makes it finished work."""
    return str(row["instance_id"]), int(row["sample"])


def task_digest(task: TaskRecord) -> str:
    """What a rollout was graded against: the task's fix, tests, statement and environment. A task set
    may grow between runs, but a task that changed under the same id must not keep its old rollouts."""
    fields = ("instance_id", "patch", "test_patch", "bug_patch", "FAIL_TO_PASS", "PASS_TO_PASS",
              "hidden_tests", "problem_statement", "environment_id")  # fmt: skip
    data = json.dumps({name: getattr(task, name) for name in fields}, sort_keys=True)
    return hashlib.sha256(data.encode()).hexdigest()[:16]


def finished_pairs(out: Path, tasks: Sequence[TaskRecord] = ()) -> dict[tuple[str, int], Reward]:
    """(instance_id, sample) -> reward of every rollout already written. With `tasks`, a rollout of a
    task that has since changed under the same id (its digest differs) stops the run with the fix."""
    digests = {t.instance_id: task_digest(t) for t in tasks}
    done: dict[tuple[str, int], Reward] = {}
    for key, row in read_finished(Path(out) / ROLLOUTS, pair).items():
        old = row.get("task_digest") or ""
        if old and key[0] in digests and digests[key[0]] != old:
            raise ConfigError(
                f"{Path(out) / ROLLOUTS} holds rollouts of task {key[0]} as it was in another task set "
                "(its fix, tests, statement or environment differ now)",
                hint="use --redo to start over, or another --out",
            )
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


ROLLOUTS_HINT = (
    "one rollout per line as `codekiln rollout` writes them (rollouts.jsonl): fix or delete that line, "
    "or run them again: codekiln rollout --tasks DIR --out DIR"
)


def read_rollouts(out: Path) -> list[Rollout]:
    """Every rollout written to an output directory (or a rollouts.jsonl file)."""
    path = Path(out)
    path = path / ROLLOUTS if path.is_dir() else path
    if not path.is_file():
        return []
    return read_input_records(path, Rollout, hint=ROLLOUTS_HINT)


def load_rollouts(source: Path) -> list[Rollout]:
    """The rollouts a command was given to read (a rollout directory or its rollouts.jsonl): a ConfigError
    naming the path when it holds none, so a mistyped path is an error, not an empty result."""
    path = Path(source) / ROLLOUTS if Path(source).is_dir() else Path(source)
    if not path.is_file():
        raise ConfigError(
            f"no rollouts at {source}", hint="give a rollout directory (codekiln rollout --out DIR)"
        )
    return read_rollouts(path)


__all__ = [
    "EPISODES",
    "LAYOUT",
    "LOCK",
    "MANIFEST",
    "ROLLOUTS",
    "episode_path",
    "finished_pairs",
    "load_rollouts",
    "pair",
    "read_rollouts",
    "stop_held",
    "task_digest",
    "write_rollouts",
]
