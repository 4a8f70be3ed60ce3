"""The task-synthesis pipeline, resumable at any moment: repository -> environment -> candidate bugs ->
validated tasks. `codekiln synth` runs it.

    result = synthesize(SynthConfig(spec="pypi:toolz==1.2.0", out=Path("out"), max_tasks=200))
    result.funnel.validated, result.funnel.rejected        # {"no_failing_test": 40, ...}

Steps: snapshot and environment (`envs.build_env`, cached), the coverage map (cached), entities,
candidates from the mutators (seeded: the same snapshot and seed always give the same candidates in
the same order), then validation in batches on `workers` sandboxes (`validate.Validator`), until
`max_tasks` tasks exist. The batches run on the configured executor (`executor`: this machine's
threads, or a Ray cluster; `synth_unit.ValidateBatch`); decisions are written here, in the driver.
The output directory holds:

- `manifest.json`: what this directory is for (snapshot, environment, seed, mutators, validation);
  rerunning with a different one stops with a hint (`redo=True` / `--redo` starts over).
- `tasks.jsonl`: one `TaskRecord` per line. `rejected.jsonl`: one `RejectedCandidate` per line.
- `funnel.json`: candidates -> tasks, per mutator and per rejection reason (rewritten each run).
- `details.jsonl`, only with `details=True` (`--details`): every decision's full test statuses. The
  records above keep only what decided them (`quality.compact`); deleting this file breaks nothing.

Quality (`quality.TaskFilter`, part of the manifest): a valid task the filter drops (by default one
whose bug breaks the package at import) is recorded as a rejection with its own reason; with `balance`
each group (mutator, level, ...) takes at most its share of `max_tasks`, and the rest are `over_quota`.

Resuming: the directory is a `core.stage` output directory (locked while a run writes to it; a torn
last line left by `kill -9` is dropped with a warning). Every decision is one fsynced line, written in
candidate order, and a candidate is decided by its id. A rerun skips the ids already decided, so an
interrupted run continues where it stopped and ends with the same tasks, none lost, none twice, as an
uninterrupted one. `max_tasks` may be raised between runs; the tasks are always the first
`max_tasks` validated candidates in candidate order.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

from pydantic import BaseModel, Field

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.executor import ExecutorConfig
from codekiln.core.protocols import Model
from codekiln.core.records import Record, iter_jsonl
from codekiln.core.stage import Layout, Stage, StageManifest, open_stage
from codekiln.envs import EnvRecord, build_env
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.frontend.candidates import Candidate, generate_candidates
from codekiln.tasks.frontend.entities import Entity, find_entities, named
from codekiln.tasks.frontend.lm import load_prompt
from codekiln.tasks.frontend.mutators import load_mutators
from codekiln.tasks.lm_bugs import (
    ALL_STRATEGIES,
    FUNC_PM,
    LM_CALLS,
    LmConfig,
    StrategyFunnel,
    count_decision,
    interleave,
    lm_candidates,
    mixed_pairs,
)
from codekiln.tasks.quality import TaskFilter, compact, details_row, dropped, group_of, quota, screen
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.synth_unit import PlanUnits, ValidateBatch
from codekiln.tasks.validation.coverage_map import coverage_map
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
    """The funnel of an output directory, recounted from its decisions (entities, candidates and skipped
    mutations come from its funnel.json, when there is one)."""
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


def plan_candidates(
    env: EnvRecord, config: SynthConfig
) -> tuple[list[Entity], list[Candidate], Counter[str]]:
    """Entities and the seeded list of procedural candidates (shuffled with the seed, cut at
    max_candidates; none when `func_pm` is not among the strategies)."""
    snapshot = Path(env.snapshot_path)
    entities = find_entities(snapshot)
    if FUNC_PM not in config.strategies:
        return entities, [], Counter()
    gen = generate_candidates(
        snapshot,
        named(entities, config.functions),
        load_mutators(config.mutators),
        seed=config.seed,
        max_per_entity=config.max_per_entity,
    )
    candidates = list(gen.candidates)
    random.Random(config.seed).shuffle(candidates)
    if config.max_candidates is not None:
        candidates = candidates[: config.max_candidates]
    return entities, candidates, Counter(s.reason for s in gen.skipped)


def synthesize(
    config: SynthConfig, *, redo: bool = False, on_progress: ProgressFn = _quiet, model: Model | None = None
) -> SynthResult:
    """Run (or resume) synthesis into `config.out`; see the module docstring. `model` (any
    `codekiln.models` backend) writes the lm_modify / lm_rewrite bugs; it is needed only while model
    calls of the run are missing."""
    unknown = sorted(set(config.strategies) - set(ALL_STRATEGIES))
    if unknown or not config.strategies:
        raise ConfigError(
            f"unknown strategies: {', '.join(unknown) or '(none given)'}",
            hint=f"--strategies takes a comma-separated subset of {', '.join(ALL_STRATEGIES)}",
        )
    if config.validation.statements == "model" and model is None:
        raise ConfigError("model-written statements need a model", hint="pass model= (the CLI: --model SPEC)")
    with open_stage(Path(config.out), LAYOUT, redo=redo) as stage:
        return _synthesize(stage, config, on_progress, model)


def _synthesize(
    stage: Stage, config: SynthConfig, on_progress: ProgressFn, model: Model | None
) -> SynthResult:
    start = time.monotonic()
    progress = SynthProgress(
        "environment", f"building the environment of {config.spec}", target=config.max_tasks
    )
    on_progress(progress)
    env = build_env(
        config.spec,
        backend=config.backend,
        on_step=lambda step, msg: on_progress(SynthProgress("environment", f"{step}: {msg}")),
    )
    on_progress(SynthProgress("coverage", "mapping which tests run which lines", target=config.max_tasks))
    plan = prepare(stage, config, env, model=model, on_progress=on_progress)
    progress = SynthProgress(
        "validating", funnel=plan.funnel, resumed=plan.funnel.tried, target=config.max_tasks
    )
    on_progress(progress)
    validate_plans([plan], config, progress, on_progress)
    combos = combined_plan(plan)  # once every single bug is decided
    if combos is not None:
        validate_plans([combos], config, progress, on_progress)
        plan.written += combos.written
    plan.funnel.seconds = round(time.monotonic() - start, 3)
    stage.write(FUNNEL, plan.funnel)
    progress.phase = "done"
    on_progress(progress)
    return SynthResult(
        stage.out, env, plan.funnel, plan.funnel.validated, plan.written, time.monotonic() - start,
        progress.per_node,
    )  # fmt: skip


@dataclass
class Plan:
    """One repository's run, ready to validate: its output, environment, unit of work and the batches of
    candidates not yet decided. `take` commits a batch's decisions, in batch order, in the driver."""

    stage: Stage
    config: SynthConfig
    env: EnvRecord
    unit: ValidateBatch
    batches: list[list[Candidate]]
    funnel: Funnel
    keeper: Keeper
    next_batch: int = 0
    written: int = 0
    ready: dict[int, list[Decision]] = field(default_factory=dict)
    candidates: list[Candidate] = field(default_factory=list)
    """Every candidate of the run (combining draws valid bugs from them)."""
    decided: set[str] = field(default_factory=set)
    """Candidate ids earlier runs decided."""

    @property
    def done(self) -> bool:
        return self.funnel.validated >= self.config.max_tasks or self.next_batch >= len(self.batches)

    def take(self, index: int, decisions: list[Decision]) -> bool:
        """Keep batch `index`'s decisions; write every batch now next in order. True if any was written."""
        self.ready[index] = decisions
        wrote = False
        while self.next_batch in self.ready and not self.done:
            for decision in self.ready.pop(self.next_batch):
                if self.funnel.validated >= self.config.max_tasks:
                    break
                details = details_row(decision) if self.config.details else None
                decision = compact(self.keeper.keep(decision))
                self.stage.append(TASKS if isinstance(decision, TaskRecord) else REJECTED, [decision])
                if details is not None:
                    self.stage.append(DETAILS, [details])
                self.funnel.add(decision)
                self.written += 1
            self.next_batch += 1
            wrote = True
        return wrote


def prepare(
    stage: Stage,
    config: SynthConfig,
    env: EnvRecord,
    *,
    model: Model | None = None,
    on_progress: ProgressFn = _quiet,
) -> Plan:
    """Check the output directory's manifest, map coverage, plan the candidates and count what earlier
    runs decided: the repository's `Plan`."""
    names = config.mutators if config.mutators is not None else [m.name for m in load_mutators()]
    lm_strategies = [s for s in config.strategies if s != FUNC_PM]
    lm = {**config.lm.identity(), "prompts": [load_prompt(s).version for s in lm_strategies]}
    stage.match(
        Manifest(
            snapshot_id=env.snapshot_id, env_id=env.id, repo=env.name, seed=config.seed, mutators=names,
            max_per_entity=config.max_per_entity, validation=config.validation, quality=config.quality,
            strategies=config.strategies, functions=config.functions, combine=config.combine, lm=lm if lm_strategies else None, spec=config.spec,
            model=config.lm.model if lm_strategies else "",
        )
    )  # fmt: skip
    cmap = coverage_map(env, backend=config.backend)
    entities, candidates, skipped = plan_candidates(env, config)
    per_strategy = {FUNC_PM: StrategyFunnel(applied=len(candidates))} if FUNC_PM in config.strategies else {}
    if lm_strategies:
        made = lm_candidates(
            stage, Path(env.snapshot_path), entities, cmap, lm_strategies, config.lm, seed=config.seed,
            only=config.functions, model=model, on_call=lambda call: on_progress(SynthProgress("model calls", f"{call.key}: {call.outcome}")),
        )  # fmt: skip
        per_strategy.update(made.funnels)
        lists = [candidates if s == FUNC_PM else made.by_strategy.get(s, []) for s in config.strategies]
        candidates = interleave(lists)
        if config.max_candidates is not None:
            candidates = candidates[: config.max_candidates]
    funnel = Funnel(
        entities=len(entities), candidates=len(candidates), skipped_mutations=dict(skipped),
        per_strategy=per_strategy,
    )  # fmt: skip
    decided: set[str] = set()
    keeper = Keeper(config, len(names))
    for decision in read_decisions(stage.out):
        decided.add(decision.candidate_id or "")
        funnel.add(decision)
        keeper.count(decision)
    pending = [c for c in candidates if c.id not in decided]
    size = config.batch_size
    batches = [pending[i : i + size] for i in range(0, len(pending), size)]
    unit = ValidateBatch(
        env, cmap, {e.id: e for e in entities}, config.validation, config.backend, config.sandbox_memory_mb,
        model=model if config.validation.statements == "model" else None,
    )  # fmt: skip
    return Plan(stage, config, env, unit, batches, funnel, keeper, candidates=candidates, decided=decided)


def combined_plan(plan: Plan) -> Plan | None:
    """The plan of `config.combine` pairs of valid bugs of different strategies (made once every single
    bug is decided), or None when there is nothing to combine or nothing left to do."""
    config = plan.config
    if not config.combine or plan.funnel.validated >= config.max_tasks:
        return None
    by_id = {c.id: c for c in plan.candidates}
    valid = [
        by_id[d.candidate_id]
        for d in read_decisions(plan.stage.out)
        if isinstance(d, TaskRecord) and d.candidate_id in by_id
    ]
    combos = mixed_pairs(valid, Path(plan.env.snapshot_path), n=config.combine, seed=config.seed)
    plan.funnel.candidates += len(combos)
    plan.funnel.per_strategy.setdefault("combined", StrategyFunnel()).applied = len(combos)
    pending = [c for c in combos if c.id not in plan.decided]
    if not pending:
        return None
    size = config.batch_size
    batches = [pending[i : i + size] for i in range(0, len(pending), size)]
    return replace(plan, batches=batches, next_batch=0, ready={})


def validate_plans(
    plans: list[Plan], config: SynthConfig, progress: SynthProgress, on_progress: ProgressFn
) -> None:
    """Validate every plan's batches as one stream of units on `config.executor` (interleaved, so all
    workers stay busy across repositories); each plan commits its own decisions in order, here."""
    items = [
        (p, b, batch) for p, plan in enumerate(plans) if not plan.done for b, batch in enumerate(plan.batches)
    ]
    if not items:
        return
    if config.executor.kind != "local" and any(plan.unit.model is not None for plan in plans):
        raise ConfigError(
            "model-written statements and bugs are written on the driver: run them with the local executor",
            hint="drop --executor ray for --statements model (model-written bugs' calls are made before validation)",
        )
    workers = config.workers  # on Ray, 0 leaves the number at once to the cluster's resources
    if config.executor.kind == "local":
        workers = min(workers or os.cpu_count() or 1, len(items))
    units = PlanUnits([plan.unit for plan in plans])
    try:
        outcomes = config.executor.make(workers).map(
            units, items, desc="validating", resources=plans[0].unit.resources()
        )
        for outcome in outcomes:
            if outcome.error is not None:
                raise TaskError(
                    f"validating a batch of candidates failed: {outcome.error.get('message')}",
                    hint=outcome.error.get("hint")
                    or "fix the cause and rerun: finished work is kept and resumed",
                )
            progress.per_node[outcome.node] += 1
            p, b, _ = outcome.item
            if plans[p].take(b, outcome.value or []):
                on_progress(progress)
            if all(plan.done for plan in plans):
                break
    finally:
        for plan in plans:
            plan.unit.release()
