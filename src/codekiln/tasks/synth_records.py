"""A synthesis run's records and what reads them back: its settings (`SynthConfig`), the manifest an
output directory must match to resume, the funnel (candidates -> tasks, per mutator, strategy and
rejection reason), progress snapshots, and the quality keeper that screens decisions in candidate
order. `codekiln.tasks.synth` runs the pipeline and re-exports all of it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from codekiln.core.errors import ConfigError
from codekiln.core.executor import ExecutorConfig
from codekiln.core.records import Record, iter_jsonl
from codekiln.core.stage import Layout, StageManifest
from codekiln.envs import EnvRecord
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.lm_bugs import FUNC_PM, LM_CALLS, LmConfig, StrategyFunnel, count_decision
from codekiln.tasks.quality import TaskFilter, dropped, group_of, quota, screen
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.validation.validate import Decision, ValidateConfig

TASKS, REJECTED, MANIFEST, FUNNEL = "tasks.jsonl", "rejected.jsonl", "manifest.json", "funnel.json"
DETAILS = "details.jsonl"
LAYOUT = Layout("tasks", logs=(TASKS, REJECTED, DETAILS, LM_CALLS), derived=(FUNNEL,))


class SynthConfig(BaseModel):
    """One synthesis run."""

    spec: str = Field(description="repository spec: pypi:NAME==VERSION, a git URL or a local directory")
    out: Path = Field(description="output directory")
    max_tasks: int = Field(default=100, ge=1, description="stop once this many tasks are validated")
    seed: int = Field(default=0, description="seeds the mutation sites and the order candidates are tried in")
    mutators: list[str] | None = Field(
        default=None, description="mutator names (all registered ones if None)"
    )
    strategies: list[str] = Field(
        default_factory=lambda: [FUNC_PM], description="func_pm (the mutators), lm_modify, lm_rewrite"
    )
    functions: list[str] | None = Field(
        default=None,
        description="only these functions get bugs, from every strategy (file::qualname or qualname)",
    )
    lm: LmConfig = Field(
        default_factory=lambda: LmConfig(), description="how model-written bugs are asked for"
    )
    combine: int = Field(
        default=0,
        ge=0,
        description="then try this many pairs of valid bugs of different strategies in one file",
    )
    max_per_entity: int = Field(default=1, ge=1, description="candidates per (entity, mutator) pair")
    max_candidates: int | None = Field(default=None, description="try at most this many candidates")
    workers: int = Field(default=0, ge=0, description="parallel sandboxes (0: one per CPU core)")
    batch_size: int = Field(
        default=32, ge=1, description="candidates per batch: the unit of work per worker and of commits"
    )
    backend: str = Field(default=DEFAULT_BACKEND, description="sandbox backend")
    validation: ValidateConfig = Field(
        default_factory=lambda: ValidateConfig(), description="how candidates are validated"
    )
    quality: TaskFilter = Field(
        default_factory=lambda: TaskFilter(), description="which valid tasks to keep, and the balance"
    )
    details: bool = Field(
        default=False, description="also write every decision's full statuses to details.jsonl"
    )
    sandbox_memory_mb: int = Field(
        default=4096, ge=64, description="memory limit of each sandboxed process; what a unit reserves on Ray"
    )
    executor: ExecutorConfig = Field(
        default_factory=lambda: ExecutorConfig(), description="where the batches run (local or a Ray cluster)"
    )


class Manifest(StageManifest):
    """What an output directory holds tasks for; a rerun must match it to resume (`spec` may change)."""

    informational = frozenset({"spec", "model"})

    snapshot_id: str
    env_id: str
    repo: str
    seed: int
    mutators: list[str]
    max_per_entity: int
    validation: ValidateConfig
    quality: TaskFilter = Field(default_factory=lambda: TaskFilter())
    strategies: list[str] = Field(default_factory=lambda: [FUNC_PM])
    functions: list[str] | None = None
    combine: int = 0
    lm: dict[str, object] | None = None
    """The model-written bugs' settings and prompt versions (None without lm_ strategies)."""
    spec: str = ""
    model: str = ""


class Funnel(Record):
    """Candidates -> tasks: how many of each, per mutator and per rejection reason."""

    entities: int = 0
    candidates: int = 0
    skipped_mutations: dict[str, int] = Field(default_factory=dict)
    tried: int = 0
    validated: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    per_mutator: dict[str, list[int]] = Field(
        default_factory=dict, description="mutator -> [tried, validated]"
    )
    per_strategy: dict[str, StrategyFunnel] = Field(
        default_factory=dict,
        description="strategy -> model calls -> parsed -> applied -> breaks a test -> valid",
    )
    seconds: float = 0.0
    no_tasks: str = ""
    """Why the run made no task, once it has nothing left to try (`synth_why`); empty when it made one."""
    no_tasks_hint: str = ""
    """What to do about it."""

    def add(self, decision: Decision) -> None:
        ok = isinstance(decision, TaskRecord)
        self.tried += 1
        count_decision(self.per_strategy, decision)
        if isinstance(decision, RejectedCandidate):
            reason = str(decision.reason.value)
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        else:
            self.validated += 1
        for name in decision.mutators:
            row = self.per_mutator.setdefault(name, [0, 0])
            row[0] += 1
            row[1] += int(ok)


@dataclass
class SynthProgress:
    """A snapshot of a running synthesis, handed to the progress callback."""

    phase: str
    message: str = ""
    funnel: Funnel = field(default_factory=Funnel)
    resumed: int = 0
    """Decisions found from earlier runs (not counted in the rate)."""
    started: float = field(default_factory=time.monotonic)
    target: int = 0
    per_node: Counter[str] = field(default_factory=Counter)
    """Batches validated this run, per node that ran them ("local" for the local executor)."""

    @property
    def rate_per_min(self) -> float:
        elapsed = max(time.monotonic() - self.started, 1e-6)
        return (self.funnel.tried - self.resumed) * 60.0 / elapsed


@dataclass
class SynthResult:
    out: Path
    env: EnvRecord
    funnel: Funnel
    tasks: int
    new_decisions: int
    seconds: float
    per_node: Counter[str] = field(default_factory=Counter)


ProgressFn = Callable[[SynthProgress], None]


def _quiet(progress: SynthProgress) -> None:
    return None


def read_decisions(out: Path) -> Iterator[Decision]:
    """Every decision recorded in an output directory (tasks first, then rejections)."""
    for row in iter_jsonl(out / TASKS):
        yield TaskRecord.model_validate(row)
    for row in iter_jsonl(out / REJECTED):
        yield RejectedCandidate.model_validate(row)


def read_funnel(out: Path) -> Funnel:
    """The funnel of an output directory, recounted from its decisions (entities, candidates, skipped
    mutations and why no task came out come from its funnel.json, when there is one)."""
    funnel = Funnel()
    saved = Path(out) / FUNNEL
    if saved.is_file():
        old = Funnel.model_validate_json(saved.read_text())
        funnel.entities, funnel.candidates = old.entities, old.candidates
        funnel.skipped_mutations = old.skipped_mutations
        for name, row in old.per_strategy.items():  # the model calls' part: decisions recount the rest
            funnel.per_strategy[name] = row.model_copy(update={"tried": 0, "breaks_test": 0, "valid": 0})
    for decision in read_decisions(Path(out)):
        funnel.add(decision)
    if saved.is_file() and not funnel.validated:
        funnel.no_tasks, funnel.no_tasks_hint = old.no_tasks, old.no_tasks_hint
    return funnel


class Keeper:
    """Applies `SynthConfig.quality` to decisions in candidate order: screens valid tasks and, with
    `balance`, holds each group to its quota of `max_tasks` (counted over resumed decisions too)."""

    def __init__(self, config: SynthConfig, n_mutators: int) -> None:
        self.flt = config.quality
        if self.flt.balance not in (None, "mutator", "level"):
            raise ConfigError(
                f"synth cannot balance by {self.flt.balance}: its groups are only known after validation",
                hint="balance synth by mutator or level; `codekiln tasks export --balance` takes any feature",
            )
        groups = {"mutator": n_mutators, "level": 3}.get(self.flt.balance or "", 0)
        self.quota = quota(config.max_tasks, groups) if groups else None
        self.kept: Counter[str] = Counter()

    def count(self, decision: Decision) -> None:
        if isinstance(decision, TaskRecord) and self.flt.balance is not None:
            self.kept[group_of(decision, self.flt.balance)] += 1

    def keep(self, decision: Decision) -> Decision:
        """The decision, or the rejection a valid task becomes under the filter and quotas."""
        if not isinstance(decision, TaskRecord):
            return decision
        why = screen(decision, self.flt)
        if why is not None:
            return dropped(decision, *why)
        if self.flt.balance is not None:
            group = group_of(decision, self.flt.balance)
            if self.quota is not None and self.kept[group] >= self.quota:
                detail = f"{self.flt.balance} {group} already has its {self.quota} tasks (--balance)"
                return dropped(decision, RejectReason.over_quota, detail)
        self.count(decision)
        return decision


__all__ = [
    "DETAILS", "FUNNEL", "LAYOUT", "MANIFEST", "REJECTED", "TASKS", "Funnel", "Keeper", "Manifest",
    "ProgressFn", "SynthConfig", "SynthProgress", "SynthResult", "read_decisions", "read_funnel",
]  # fmt: skip
