"""The task-synthesis pipeline, resumable at any moment: repository -> environment -> candidate bugs ->
validated tasks. `codekiln synth` runs it.

    result = synthesize(SynthConfig(spec="pypi:toolz==1.2.0", out=Path("out"), max_tasks=200))
    result.funnel.validated, result.funnel.rejected        # {"no_failing_test": 40, ...}

Steps: snapshot and environment (`envs.build_env`, cached), the coverage map (cached), entities,
candidates from the mutators (seeded: the same snapshot and seed always give the same candidates in
the same order; the cheapest few of the first ones moved to the front, by the coverage map:
`selection.cheap_first`), then validation in batches on `workers` sandboxes (`validate.Validator`),
until `max_tasks` tasks exist; the first batch holds no more candidates than tasks are still wanted,
so a short run writes its first tasks early (`batched`). The batches run on the configured executor (`executor`: this machine's
threads, or a Ray cluster; `synth_unit.ValidateBatch`); decisions are written here, in the driver.
The output directory holds:

- `manifest.json`: what this directory is for (snapshot, environment, seed, mutators, validation);
  rerunning with a different one stops with a hint (`redo=True` / `--redo` starts over).
- `tasks.jsonl`: one `TaskRecord` per line. `rejected.jsonl`: one `RejectedCandidate` per line.
- `funnel.json`: candidates -> tasks, per mutator and per rejection reason (rewritten each run); a
  run that made no task says why (`no_tasks`, `no_tasks_hint`: `synth_why`).
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

Any machine: the order hangs on no measured time below a second (`cheap_first` counts each test's
started seconds), the coverage run has a fixed hash seed (`coverage_map.mapping_env`), files are read
sorted, ids hash the patch and the snapshot's contents (no path, no hash seed), and decisions are
written in candidate order however many workers (`os.cpu_count()`) finish in whatever order
(tests/tasks/test_synth_machine_independent.py). Measured times still decide
in these places: a run stopped at its limit (`ValidateConfig.timeout`: 10x the selection's coverage-run
seconds, at least 5 s) is a `timeout` rejection, so a machine ten times busier than the one that
mapped coverage can reject a bug that is a task elsewhere (the next valid candidate takes its place);
a selection over `timeout_max_s` in the coverage run is rejected unrun, and a test alone over it is
left out of a selection holding others (`selection.within_limit`); a test near a whole second can
cost one more in `cheap_first`; a suite whose baseline took about `coverage_map.LEAN_AFTER_S` may be
mapped on the other sample. The grader gate's audit follows the order batches finish in, which
changes a decision only where the shortcut is wrong. The host matters once: an environment without
coverage.py is mapped by codekiln's only when their CPython X.Y match, else by settrace, which does
not credit lines run in processes a test starts (`coverage_map`).
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Generator
from dataclasses import dataclass, field, replace
from pathlib import Path

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.protocols import Model
from codekiln.core.stage import Stage, open_stage
from codekiln.core.testnames import collected_modules
from codekiln.envs import EnvRecord, build_env
from codekiln.tasks.frontend.candidates import Candidate, derive_seed, generate_candidates
from codekiln.tasks.frontend.data import find_data_entities
from codekiln.tasks.frontend.datafiles import find_datafile_entities, generate_text_candidates
from codekiln.tasks.frontend.entities import CODE_KINDS, Entity, find_entities, named, nothing_to_mutate
from codekiln.tasks.frontend.lm import load_prompt
from codekiln.tasks.frontend.mutators import load_mutators
from codekiln.tasks.lm_bugs import (
    ALL_STRATEGIES,
    FUNC_PM,
    StrategyFunnel,
    interleave,
    lm_candidates,
    mixed_pairs,
)
from codekiln.tasks.quality import compact, details_row
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth_records import (
    DETAILS,
    FUNNEL,
    LAYOUT,
    MANIFEST,
    REJECTED,
    TASKS,
    Funnel,
    Keeper,
    Manifest,
    ProgressFn,
    SynthConfig,
    SynthProgress,
    SynthResult,
    _quiet,
    read_decisions,
    read_funnel,
)
from codekiln.tasks.synth_unit import PlanUnits, ValidateBatch
from codekiln.tasks.synth_why import why_no_task
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.tasks.validation.selection import ordered_for_synthesis
from codekiln.tasks.validation.validate import Decision


def plan_candidates(
    env: EnvRecord, config: SynthConfig
) -> tuple[list[Entity], list[Candidate], Counter[str]]:
    """Entities (functions, methods and classes, then data: `frontend.data`) and the seeded list of
    procedural candidates, cut at max_candidates; none when `func_pm` is not among the strategies.

    The candidates of functions, methods and classes come first, shuffled with the seed, then those of
    module- and class-level data, shuffled apart, then those of the text files the package ships that
    a test module or its source names (`frontend.datafiles`), shuffled apart too: a library with code
    to mutate keeps the plan it had before data was mutated, and one whose tests check only its tables
    or its data files (tzdata) gets candidates at all."""
    snapshot = Path(env.snapshot_path)
    tests = collected_modules(env.baseline)  # test modules by the project's names too: not to mutate
    entities = [e for e in find_entities(snapshot) + find_data_entities(snapshot) if e.file not in tests]
    entities += find_datafile_entities(snapshot, tests)
    if FUNC_PM not in config.strategies:
        return entities, [], Counter()
    chosen = named(entities, config.functions)
    mutators = load_mutators(config.mutators)
    kinds = (CODE_KINDS, {"data"}, {"datafile"})
    made = [
        (generate_text_candidates if kind == {"datafile"} else generate_candidates)(
            snapshot, [e for e in chosen if e.kind in kind], mutators, seed=config.seed,
            max_per_entity=config.max_per_entity,
        )
        for kind in kinds
    ]  # fmt: skip
    candidates = list(made[0].candidates)
    random.Random(config.seed).shuffle(candidates)
    seen = {c.id for c in candidates}
    for label, gen in (("data", made[1]), ("datafile", made[2])):
        more = [c for c in gen.candidates if c.id not in seen]  # a class's number: once
        random.Random(derive_seed(config.seed, label)).shuffle(more)
        candidates += more
    if config.max_candidates is not None:
        candidates = candidates[: config.max_candidates]
    return entities, candidates, Counter(s.reason for g in made for s in g.skipped)


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
    explain(plan)
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
    entities, candidates, skipped = plan_candidates(env, config)
    if not entities:  # before the coverage run: it is the slow part, and would map nothing
        err = nothing_to_mutate(Path(env.snapshot_path))
        stage.write(
            FUNNEL, Funnel(no_tasks=err.message, no_tasks_hint=err.hint or "")
        )  # why, for readers of the funnel
        raise err
    cmap = coverage_map(env, backend=config.backend)
    per_strategy = {FUNC_PM: StrategyFunnel(applied=len(candidates))} if FUNC_PM in config.strategies else {}
    if lm_strategies:
        made = lm_candidates(
            stage, Path(env.snapshot_path), [e for e in entities if e.kind in CODE_KINDS], cmap, lm_strategies,
            config.lm, seed=config.seed,
            only=config.functions, model=model, on_call=lambda call: on_progress(SynthProgress("model calls", f"{call.key}: {call.outcome}")),
        )  # fmt: skip
        per_strategy.update(made.funnels)
        lists = [candidates if s == FUNC_PM else made.by_strategy.get(s, []) for s in config.strategies]
        candidates = interleave(lists)
        if config.max_candidates is not None:
            candidates = candidates[: config.max_candidates]
    candidates = ordered_for_synthesis(
        candidates, cmap, env.baseline, {e.id: e for e in entities}, Path(env.snapshot_path)
    )
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
    batches = batched(pending, config.batch_size, config.max_tasks - funnel.validated)
    unit = ValidateBatch(
        env, cmap, {e.id: e for e in entities}, config.validation, config.backend, config.sandbox_memory_mb,
        model=model if config.validation.statements == "model" else None,
    )  # fmt: skip
    return Plan(stage, config, env, unit, batches, funnel, keeper, candidates=candidates, decided=decided)


def batched(pending: list[Candidate], size: int, wanted: int) -> list[list[Candidate]]:
    """`pending` in batches of `size`, in order, the first no larger than the tasks still `wanted`: a
    batch is decided whole, so a run asking for 3 tasks waited for 8 or 32 candidates' runs before its
    first task was written (pycparser: a batch of 8 took ~300 s on a loaded 2-core machine)."""
    if not pending:
        return []
    first = max(1, min(size, wanted))
    return [pending[:first], *(pending[i : i + size] for i in range(first, len(pending), size))]


def explain(plan: Plan) -> None:
    """Write into the funnel why the run made no task (`synth_why.why_no_task`), or clear it."""
    why = why_no_task(
        plan.env, plan.unit.cmap, list(plan.unit.entities.values()), plan.candidates, plan.funnel,
        plan.config.spec,
    )  # fmt: skip
    plan.funnel.no_tasks = why.reason if why else ""
    plan.funnel.no_tasks_hint = why.hint if why else ""


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
    outcomes = config.executor.make(workers).map(
        units, items, desc="validating", resources=plans[0].unit.resources()
    )
    # closed here, not by the garbage collector: closing waits for the running units, and a Ctrl-C
    # during a collector's close is printed and dropped by Python (the run then exited 0)
    try:
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
        if isinstance(outcomes, Generator):
            outcomes.close()
        for plan in plans:
            plan.unit.release()


__all__ = [  # the run's records live in synth_records; re-exported: this is where callers look
    "DETAILS", "FUNNEL", "LAYOUT", "MANIFEST", "REJECTED", "TASKS", "Funnel", "Keeper", "Manifest", "Plan",
    "ProgressFn", "SynthConfig", "SynthProgress", "SynthResult", "batched", "combined_plan", "explain", "plan_candidates", "prepare",
    "read_decisions", "read_funnel", "synthesize", "validate_plans",
]  # fmt: skip
