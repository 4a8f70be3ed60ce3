"""The task-synthesis pipeline, resumable at any moment: repository -> environment -> candidate bugs ->
validated tasks. `codekiln synth` runs it.

    result = synthesize(SynthConfig(spec="pypi:toolz==1.2.0", out=Path("out"), max_tasks=200))
    result.funnel.validated, result.funnel.rejected        # {"no_failing_test": 40, ...}

Steps: snapshot and environment (`envs.build_env`, cached), the coverage map (cached), entities,
candidates from the mutators (seeded: the same snapshot and seed always give the same candidates in
the same order), then validation in batches on `workers` sandboxes (`validate.Validator`), until
`max_tasks` tasks exist. The output directory holds:

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
import queue
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.executor import LocalExecutor
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
from codekiln.tasks.validation.coverage_map import CoverageMap, coverage_map
from codekiln.tasks.validation.gold import GoldCache
from codekiln.tasks.validation.validate import Decision, ValidateConfig, Validator

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
    out = stage.out
    progress = SynthProgress(
        "environment", f"building the environment of {config.spec}", target=config.max_tasks
    )
    on_progress(progress)
    env = build_env(
        config.spec,
        backend=config.backend,
        on_step=lambda step, msg: on_progress(SynthProgress("environment", f"{step}: {msg}")),
    )
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
    on_progress(SynthProgress("coverage", "mapping which tests run which lines", target=config.max_tasks))
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
    for decision in read_decisions(out):
        decided.add(decision.candidate_id or "")
        funnel.add(decision)
        keeper.count(decision)
    progress = SynthProgress("validating", funnel=funnel, resumed=funnel.tried, target=config.max_tasks)
    on_progress(progress)
    pending = [c for c in candidates if c.id not in decided]
    new = 0
    if funnel.validated < config.max_tasks and pending:
        new = _validate_all(env, cmap, entities, pending, config, stage, progress, on_progress, keeper, model)
    if config.combine and funnel.validated < config.max_tasks:  # once every single bug is decided
        by_id = {c.id: c for c in candidates}
        valid = [
            by_id[d.candidate_id]
            for d in read_decisions(out)
            if isinstance(d, TaskRecord) and d.candidate_id in by_id
        ]
        combos = mixed_pairs(valid, Path(env.snapshot_path), n=config.combine, seed=config.seed)
        funnel.candidates += len(combos)
        funnel.per_strategy.setdefault("combined", StrategyFunnel()).applied = len(combos)
        pending = [c for c in combos if c.id not in decided]
        if pending:
            new += _validate_all(
                env, cmap, entities, pending, config, stage, progress, on_progress, keeper, model
            )
    funnel.seconds = round(time.monotonic() - start, 3)
    stage.write(FUNNEL, funnel)
    progress.phase = "done"
    on_progress(progress)
    return SynthResult(out, env, funnel, funnel.validated, new, time.monotonic() - start)


def _validate_all(
    env: EnvRecord,
    cmap: CoverageMap,
    entities: list[Entity],
    pending: list[Candidate],
    config: SynthConfig,
    stage: Stage,
    progress: SynthProgress,
    on_progress: ProgressFn,
    keeper: Keeper,
    model: Model | None,
) -> int:
    """Validate `pending` in batches on a pool of sandboxes; commit decisions in candidate order."""
    workers = config.workers or os.cpu_count() or 1
    batches = [pending[i : i + config.batch_size] for i in range(0, len(pending), config.batch_size)]
    workers = min(workers, len(batches))
    pool: queue.Queue[Validator] = queue.Queue()
    made: list[Validator] = []
    by_id = {e.id: e for e in entities}
    gold_cache = GoldCache()  # clean results, shared by all workers

    def run(batch: list[Candidate]) -> list[Decision]:
        try:
            validator = pool.get_nowait()
        except queue.Empty:
            validator = Validator(
                env,
                cmap,
                by_id,
                config.validation,
                backend=config.backend,
                gold_cache=gold_cache,
                model=model,
            )
            made.append(validator)
        try:
            return validator.validate(batch)
        finally:
            pool.put(validator)

    funnel = progress.funnel
    ready: dict[int, list[Decision]] = {}
    index = {id(b): i for i, b in enumerate(batches)}
    next_batch, written = 0, 0
    try:
        for outcome in LocalExecutor(workers).map(run, batches, desc="validating"):
            if outcome.error is not None:
                raise TaskError(
                    f"validating a batch of candidates failed: {outcome.error.get('message')}",
                    hint=outcome.error.get("hint")
                    or "fix the cause and rerun: finished work is kept and resumed",
                )
            ready[index[id(outcome.item)]] = outcome.value or []
            while next_batch in ready and funnel.validated < config.max_tasks:
                for decision in ready.pop(next_batch):
                    if funnel.validated >= config.max_tasks:
                        break
                    details = details_row(decision) if config.details else None
                    decision = compact(keeper.keep(decision))
                    stage.append(TASKS if isinstance(decision, TaskRecord) else REJECTED, [decision])
                    if details is not None:
                        stage.append(DETAILS, [details])
                    funnel.add(decision)
                    written += 1
                on_progress(progress)
                next_batch += 1
            if funnel.validated >= config.max_tasks or next_batch >= len(batches):
                break
    finally:
        for validator in made:
            validator.close()
    return written
