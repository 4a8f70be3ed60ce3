"""What one rollout run is: `RolloutConfig` (the driver's and every worker's view of the run) and the
per-(task, sample) seed. Kept apart from the engine so the worker side (`rollouts.episode`) needs
neither the driver nor its output directory.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from codekiln.core.executor import ExecutorConfig
from codekiln.rewards import RewardConfig
from codekiln.sandbox import DEFAULT_BACKEND


class RolloutConfig(BaseModel):
    """One rollout run."""

    tasks: Path = Field(description="a tasks.jsonl / .parquet file, or a synth output directory")
    out: Path = Field(description="output directory (rollouts.jsonl, episodes/, manifest.json)")
    model: str = Field(default="embedded", description="a models.make_model spec, or oracle / noop")
    model_options: dict[str, Any] = Field(default_factory=dict, description="extra backend options")
    scaffold: str = Field(default="swe", description="agent scaffold: swe, mini or terminus")
    format: str | None = Field(default=None, description="chat format (default: the backend's own)")
    n: int = Field(default=1, ge=1, description="samples per task (one GRPO group)")
    workers: int = Field(default=1, ge=1, description="episodes run at once (sandbox slots)")
    max_turns: int = Field(default=50, ge=1, description="model calls per episode")
    wall_time_s: float | None = Field(default=None, description="wall-clock limit of one episode")
    temperature: float = Field(default=1.0, ge=0.0, description="sampling temperature")
    seed: int = Field(default=0, description="base seed; each (task, sample) derives its own")
    limit: int | None = Field(default=None, ge=1, description="use only the first LIMIT tasks")
    backend: str = Field(default=DEFAULT_BACKEND, description="sandbox backend")
    reward: RewardConfig = Field(default_factory=RewardConfig, description="how episodes are scored")
    executor: ExecutorConfig = Field(
        default_factory=lambda: ExecutorConfig(), description="where episodes run (local or a Ray cluster)"
    )


def sample_seed(base: int, instance_id: str, sample: int) -> int:
    """The seed of one (task, sample): stable across runs and machines."""
    digest = hashlib.sha256(f"{base}:{instance_id}:{sample}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF


__all__ = ["RolloutConfig", "sample_seed"]
