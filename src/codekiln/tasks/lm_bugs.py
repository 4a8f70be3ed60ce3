"""Model-written bugs inside `codekiln synth`: the model calls of a run, recorded and resumed, the
candidates they yield, and the funnel per strategy (model calls -> parsed -> applied -> breaks a test
-> valid, and tokens per valid task).

    codekiln synth pypi:toolz==1.2.0 --strategies lm_modify,lm_rewrite,func_pm --model embedded

Every model call is one fsynced line of `lm_calls.jsonl` in the synth directory (`LmCall`: prompt
version, raw output, tokens, latency, the cheap verdict), written as it finishes. A rerun makes only
the calls that are missing, then derives the candidates from all recorded outputs in request order
(the cheap checks are pure functions of an output and the clean file, and near-duplicates are
decided in that order), so an interrupted run resumes with the same candidates. Only functions some
passing test runs (by the coverage map) are sent to the model: a bug nothing runs cannot become a task.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.protocols import Model
from codekiln.core.stage import Stage
from codekiln.tasks.frontend.candidates import Candidate, combine, derive_seed
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.frontend.lm import (
    STRATEGIES,
    UNPARSED,
    Judged,
    LmCall,
    dedupe,
    judge,
    load_prompt,
    plan_requests,
    run_requests,
)
from codekiln.tasks.frontend.lm.calls import source_and_bytes
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.validation.coverage_map import CoverageMap

LM_CALLS = "lm_calls.jsonl"
FUNC_PM = "func_pm"
ALL_STRATEGIES = (FUNC_PM, *STRATEGIES)
NO_TEST_BROKE = frozenset(
    {
        RejectReason.no_failing_test,
        RejectReason.patch_failed,
        RejectReason.syntax_error,
        RejectReason.infra_error,
        RejectReason.baseline_failed,
        RejectReason.build_error,
    }
)
"""Rejections of candidates under which no selected test was seen failing."""


class LmConfig(BaseModel):
    """How model-written bugs are asked for (all but `model` and `concurrency` define the run)."""

    model: str = Field(
        default="embedded", description="model spec (codekiln.models): embedded, openai:NAME@URL, ..."
    )
    concurrency: int = Field(default=4, ge=1, description="model requests in flight at once")
    max_functions: int | None = Field(default=20, ge=1, description="functions sent to the model (None: all)")
    samples: int = Field(default=1, ge=1, description="calls per function and strategy")
    max_tokens: int = Field(default=768, ge=16, description="completion tokens per call")
    temperature: float = Field(default=0.7, ge=0.0, description="sampling temperature")

    def identity(self) -> dict[str, object]:
        return self.model_dump(mode="json", exclude={"model", "concurrency"})


class StrategyFunnel(BaseModel):
    """One strategy's way from model calls (or mutations) to valid tasks."""

    calls: int = 0
    parsed: int = 0
    """Outputs that held a parseable function of the right name."""
    applied: int = 0
    """Candidates: outputs that passed every cheap check (procedural: mutations made)."""
    tried: int = 0
    """Candidates validated so far."""
    breaks_test: int = 0
    """... under which some selected test failed."""
    valid: int = 0
    tokens: int = 0
    cheap_rejections: dict[str, int] = Field(default_factory=dict)

    @property
    def tokens_per_valid(self) -> float | None:
        return round(self.tokens / self.valid, 1) if self.valid and self.tokens else None


def strategy_of(mutators: Sequence[str]) -> str:
    """The strategy a candidate (by its mutators) comes from; several strategies make `combined`."""
    kinds = {m if m in STRATEGIES else FUNC_PM for m in mutators} or {FUNC_PM}
    return kinds.pop() if len(kinds) == 1 else "combined"


def count_decision(funnels: dict[str, StrategyFunnel], decision: TaskRecord | RejectedCandidate) -> None:
    row = funnels.setdefault(strategy_of(decision.mutators), StrategyFunnel())
    row.tried += 1
    if isinstance(decision, TaskRecord):
        row.valid += 1
        row.breaks_test += 1
    elif decision.reason not in NO_TEST_BROKE:
        row.breaks_test += 1


@dataclass
class LmCandidates:
    """What the model calls of a run yield."""

    by_strategy: dict[str, list[Candidate]] = field(default_factory=dict)
    funnels: dict[str, StrategyFunnel] = field(default_factory=dict)
    calls_made: int = 0


def lm_candidates(
    stage: Stage,
    snapshot_dir: Path,
    entities: Sequence[Entity],
    cmap: CoverageMap,
    strategies: Sequence[str],
    config: LmConfig,
    *,
    seed: int,
    only: list[str] | None = None,
    model: Model | None,
    on_call: Callable[[LmCall], None] | None = None,
) -> LmCandidates:
    """Make the missing model calls of this run (recorded in `LM_CALLS`), then the candidates of all of
    them, per strategy in request order (see the module docstring)."""
    requests = plan_requests(
        entities, strategies, seed=seed, max_functions=config.max_functions, samples=config.samples,
        only=only, keep=lambda e: bool(cmap.tests_for({e.file: range(e.start_line, e.end_line + 1)})),
    )  # fmt: skip
    done = {
        key: LmCall.model_validate(row) for key, row in stage.finished(LM_CALLS, lambda r: r["key"]).items()
    }
    missing = [r for r in requests if r.key not in done]
    out = LmCandidates()
    if missing:
        if model is None:
            raise ConfigError(
                f"{len(missing)} model calls for {', '.join(strategies)} are still to make and no model was given",
                hint="pass model=codekiln.models.make_model(spec) to synthesize (the CLI does: --model)",
            )

        def record(call: LmCall) -> None:
            stage.append(LM_CALLS, [call])
            done[call.key] = call
            out.calls_made += 1
            if on_call is not None:
                on_call(call)

        prompts = {s: load_prompt(s) for s in strategies}
        run_requests(
            model, missing, snapshot_dir, on_call=record, concurrency=config.concurrency,
            max_tokens=config.max_tokens, temperature=config.temperature, prompts=prompts,
        )  # fmt: skip
    texts: dict[str, tuple[str, bytes | None]] = {}
    judged: list[tuple[str, str, LmCall, Judged]] = []
    for r in requests:
        if r.entity.file not in texts:
            texts[r.entity.file] = source_and_bytes(snapshot_dir / r.entity.file, r.entity.file)
        text, like = texts[r.entity.file]
        call = done[r.key]
        judged.append(
            (
                r.strategy,
                r.entity.id,
                call,
                judge(r.strategy, r.entity, text, call.raw, seed=r.seed, like=like),
            )
        )
    dedupe((entity_id, verdict) for _, entity_id, _, verdict in judged)
    seen: set[str] = set()
    for strategy, _, call, verdict in judged:
        row = out.funnels.setdefault(strategy, StrategyFunnel())
        row.calls += 1
        row.tokens += call.tokens
        if verdict.reason not in UNPARSED:
            row.parsed += 1
        if verdict.candidate is None or verdict.candidate.id in seen:
            reason = str(verdict.reason or "near_duplicate")
            row.cheap_rejections[reason] = row.cheap_rejections.get(reason, 0) + 1
            continue
        seen.add(verdict.candidate.id)
        row.applied += 1
        out.by_strategy.setdefault(strategy, []).append(verdict.candidate)
    return out


def mixed_pairs(valid: Sequence[Candidate], snapshot_dir: Path, *, n: int, seed: int) -> list[Candidate]:
    """Up to `n` combined candidates (`candidates.combine`), each two validated single bugs of different
    strategies in one file, on different functions, in a seeded order: the same valid bugs always give
    the same combinations."""
    singles = sorted((c for c in valid if c.n_bugs == 1), key=lambda c: c.id)
    pairs = [
        (a, b)
        for i, a in enumerate(singles)
        for b in singles[i + 1 :]
        if a.files == b.files
        and a.entities != b.entities
        and strategy_of(a.mutators) != strategy_of(b.mutators)
    ]
    random.Random(derive_seed(seed, "mixed-pairs")).shuffle(pairs)
    out: list[Candidate] = []
    for a, b in pairs:
        if len(out) >= n:
            break
        try:
            out.append(combine([a, b], snapshot_dir))
        except TaskError:  # overlapping lines, or the merged file does not parse
            continue
    return out


def interleave(lists: Sequence[Sequence[Candidate]]) -> list[Candidate]:
    """Round-robin over the strategies' candidate lists, so each strategy gets its turn early; a
    candidate already taken (an equal patch from another strategy) is left out."""
    out: list[Candidate] = []
    seen: set[str] = set()
    for i in range(max((len(x) for x in lists), default=0)):
        for items in lists:
            if i < len(items) and items[i].id not in seen:
                seen.add(items[i].id)
                out.append(items[i])
    return out
