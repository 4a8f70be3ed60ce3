"""The record a rollout writes: one agent episode on one task, its grade and its reward.

    for row in iter_jsonl(out / "rollouts.jsonl"):
        r = Rollout.model_validate(row)
        r.instance_id, r.sample, r.reward.value, r.trajectory.steps

`rollouts.jsonl` holds one `Rollout` per finished episode (a group of GRPO samples shares `instance_id`);
`episodes/<instance_id>/<sample>.partial.jsonl` holds the steps of an episode still running, one line per
step, and is removed once its `Rollout` is written.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from codekiln.agents.records import Trajectory
from codekiln.core.records import Record
from codekiln.grading import GradeResult
from codekiln.rewards import Reward


class Rollout(Record):
    """One finished episode: who played what, the trajectory, the patch graded, the grade and the reward."""

    schema_version: int = 1
    instance_id: str
    task_digest: str = ""
    """`outdir.task_digest` of the task as it was graded (empty in rollouts made before it existed)."""
    sample: int
    """Index of the sample within the task's group (0..n-1)."""
    seed: int
    model: str
    scaffold: str
    format: str | None = None
    trajectory: Trajectory | None = None
    """None only when the episode could not start (see `error`)."""
    patch: str = ""
    """The agent's change as a patch against its starting workspace (what was graded)."""
    grade: GradeResult | None = None
    reward: Reward
    error: dict[str, Any] | None = None
    """The error record of an infrastructure failure outside the agent loop (sandbox start, grading)."""
    duration_s: float = 0.0
    grade_s: float = 0.0
    created: float = Field(default_factory=time.time)

    @property
    def key(self) -> tuple[str, int]:
        return self.instance_id, self.sample


def outcome(rollout: Rollout) -> dict[str, Any]:
    """What exporters attach to a trajectory: who played, the grade (without per-test statuses), the reward."""
    return {
        "instance_id": rollout.instance_id,
        "sample": rollout.sample,
        "seed": rollout.seed,
        "scaffold": rollout.scaffold,
        "format": rollout.format,
        "grade": rollout.grade.model_dump(mode="json", exclude={"statuses"}) if rollout.grade else None,
        "reward": rollout.reward.model_dump(mode="json"),
        "error": rollout.error,
    }
