"""Rollouts: run agents on tasks in N-sample groups, grade each episode in a fresh sandbox, reward it.

    from codekiln.rollouts import RolloutConfig, run_rollouts, read_rollouts
    stats = run_rollouts(RolloutConfig(tasks=Path("out/toolz"), out=Path("runs/r1"), model="oracle", n=4))
    print(stats.summary_line())                       # resolved: X/Y
    rollouts = read_rollouts(Path("runs/r1"))         # Rollout records: trajectory, patch, grade, reward

The `oracle` and `noop` control policies live in `controls`; `export` writes mini-swe-agent and ATIF
trajectory files. `codekiln rollout` is the command line.
"""

from codekiln.rollouts.controls import CONTROLS, ControlModel, control_model, control_script, is_control
from codekiln.rollouts.engine import (
    RolloutConfig,
    RolloutStats,
    agent_patch,
    finished_pairs,
    read_rollouts,
    run_rollouts,
    sample_seed,
)
from codekiln.rollouts.export import export_rollouts, to_atif, to_mini
from codekiln.rollouts.records import Rollout

__all__ = [
    "CONTROLS",
    "ControlModel",
    "Rollout",
    "RolloutConfig",
    "RolloutStats",
    "agent_patch",
    "control_model",
    "control_script",
    "export_rollouts",
    "finished_pairs",
    "is_control",
    "read_rollouts",
    "run_rollouts",
    "sample_seed",
    "to_atif",
    "to_mini",
]
