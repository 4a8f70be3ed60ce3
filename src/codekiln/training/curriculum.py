"""Curriculum: estimate each task's pass rate from its rollouts and keep only tasks that teach something.

    rates = pass_rates(load_episodes("out/rollouts.jsonl"))        # task id -> TaskRate
    result = filter_tasks("tasks/", "out/rollouts.jsonl", "curriculum/", CurriculumConfig(min_samples=4))

or `codekiln curriculum out/rollouts.jsonl --tasks tasks/ --out curriculum/`.

A task's pass rate is resolved / graded over its rollouts; masked rollouts (infrastructure failures) and
ungraded ones are left out, never counted as failures. A task solved by every rollout or by none gives
no learning signal to group-relative RL (all advantages are 0), so it is dropped (report section 2.1: a
companion paper keeps 23,550 of 58,771 environments this way). Tasks with fewer than `min_samples`
graded rollouts cannot be judged: they are dropped unless `keep_uncertain`.

Writes to the output directory: `tasks.jsonl` (the kept task rows, byte-for-byte the input records),
`pass_rates.jsonl` (one `TaskRate` per task with its decision) and `curriculum.json` (the counts).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from codekiln.core.errors import ConfigError
from codekiln.core.records import Record, atomic_write_json, atomic_write_text, iter_input_jsonl
from codekiln.training.source import Episode, load_episodes

TASKS, RATES, REPORT = "tasks.jsonl", "pass_rates.jsonl", "curriculum.json"
Decision = Literal["kept", "always_solved", "never_solved", "too_few_samples", "no_rollouts"]


class CurriculumConfig(BaseModel):
    """Which pass rates are worth training on."""

    min_rate: float = 0.0
    """Keep tasks whose pass rate is strictly above this."""
    max_rate: float = 1.0
    """Keep tasks whose pass rate is strictly below this."""
    min_samples: int = 2
    """Graded rollouts a task needs before its pass rate is trusted."""
    keep_uncertain: bool = False
    """Keep tasks with too few graded rollouts (or none) instead of dropping them."""


class TaskRate(Record):
    """One task's rollouts counted, its pass rate and what the curriculum decided."""

    schema_version: int = 1
    task_id: str
    rollouts: int = 0
    graded: int = 0
    resolved: int = 0
    masked: int = 0
    pass_rate: float | None = None
    decision: Decision = "no_rollouts"


def pass_rates(episodes: Iterable[Episode]) -> dict[str, TaskRate]:
    """Per task: rollouts, graded (not masked, with a verdict), resolved, masked, and the pass rate."""
    rates: dict[str, TaskRate] = {}
    for ep in episodes:
        rate = rates.setdefault(ep.task_id, TaskRate(task_id=ep.task_id))
        rate.rollouts += 1
        if ep.masked:
            rate.masked += 1
        elif ep.resolved is not None:
            rate.graded += 1
            rate.resolved += int(ep.resolved)
    for rate in rates.values():
        rate.pass_rate = rate.resolved / rate.graded if rate.graded else None
    return rates


def decide(rate: TaskRate, config: CurriculumConfig) -> Decision:
    if rate.rollouts == 0:
        return "no_rollouts"
    if rate.pass_rate is None or rate.graded < config.min_samples:
        return "too_few_samples"
    if rate.pass_rate >= config.max_rate:
        return "always_solved"
    if rate.pass_rate <= config.min_rate:
        return "never_solved"
    return "kept"


def tasks_path(path: str | Path) -> Path:
    path = Path(path)
    file = path / TASKS if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(
            f"no tasks file at {file}",
            hint="give --tasks the --out directory of `codekiln synth` or a tasks.jsonl",
        )
    return file


def filter_tasks(
    tasks: str | Path, rollouts: str | Path, out: str | Path, config: CurriculumConfig | None = None
) -> dict[str, Any]:
    """Decide every task of `tasks` from the rollouts and write the kept ones; returns the report."""
    config = config or CurriculumConfig()
    if not 0.0 <= config.min_rate < config.max_rate <= 1.0 or config.min_samples < 1:
        raise ConfigError(
            f"bad curriculum bounds: min_rate={config.min_rate}, max_rate={config.max_rate}, min_samples={config.min_samples}",
            hint="need 0 <= min_rate < max_rate <= 1 and min_samples >= 1",
        )
    rates = pass_rates(load_episodes(rollouts))
    out = Path(out)
    counts = dict.fromkeys(("kept", "always_solved", "never_solved", "too_few_samples", "no_rollouts"), 0)
    seen: set[str] = set()
    kept_rows, rate_rows = [], []
    for _, row in iter_input_jsonl(tasks_path(tasks), hint="give the tasks.jsonl of `codekiln synth`"):
        task_id = str(row.get("instance_id") or row.get("task_id") or "")
        if not task_id or task_id in seen:
            continue
        seen.add(task_id)
        rate = rates.get(task_id) or TaskRate(task_id=task_id)
        rate.decision = decide(rate, config)
        counts[rate.decision] += 1
        rate_rows.append(rate)
        if rate.decision == "kept" or (
            config.keep_uncertain and rate.decision in ("too_few_samples", "no_rollouts")
        ):
            kept_rows.append(row)
    # cheap to recompute, so each file is rewritten whole (atomically) rather than appended to
    atomic_write_text(out / TASKS, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept_rows))
    atomic_write_text(out / RATES, "".join(r.to_json() + "\n" for r in rate_rows))
    report = {
        "tasks": len(seen),
        "written": len(kept_rows),
        **counts,
        "rollouts": sum(r.rollouts for r in rates.values()),
        "masked_rollouts": sum(r.masked for r in rates.values()),
        "unknown_task_rollouts": sum(r.rollouts for t, r in rates.items() if t not in seen),
        "config": config.model_dump(),
    }
    atomic_write_json(out / REPORT, report)
    return report
