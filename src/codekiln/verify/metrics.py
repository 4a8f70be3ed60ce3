"""Best@K and friends: how often a selector picks a correct program from K random candidates.

    rows = evaluate_pool(pool, problem, [SearchSelector()], ks=[2, 4], subsets=20, per_candidate=64, runner=runner)
    table = summarise(rows)                      # per (selector, K): Best@K with a bootstrap CI, Pass@K, ...

For each K, `subsets` random K-subsets of the pool are drawn (the same subsets for every selector, so
the comparison is paired); each selector picks one candidate with a budget of `per_candidate * K`
calls. Per (selector, K):

- best: the share of subsets where the pick is correct (Best@K), with a 95% bootstrap interval over
  the (problem, subset) outcomes;
- pass: the share of subsets holding at least one correct candidate (the Pass@K ceiling);
- discrimination: of the (correct, incorrect) pairs in a subset, the share whose outputs differ on
  an input the selector ran;
- validity: of the inputs the selector generated, the share its validator accepted (search only);
- executions: calls requested per selection.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from codekiln.verify.pools import Pool
from codekiln.verify.problems import Example, Problem
from codekiln.verify.runner import Runner
from codekiln.verify.selectors import Selector, View


class KResult(BaseModel):
    """One selector's outcomes on one problem at one K (one entry per subset)."""

    problem_id: str
    selector: str
    k: int
    correct: list[int]
    any_correct: list[int]
    executions: list[int]
    discriminated: list[float | None]
    proposed: int = 0
    valid_inputs: int = 0


def _discrimination(runner: Runner, view: View, labels: list[bool], inputs: list[str]) -> float | None:
    pairs = [(i, j) for i, a in enumerate(labels) if a for j, b in enumerate(labels) if not b]
    if not pairs:
        return None
    if not inputs:
        return 0.0
    outs = runner.run(view.programs, inputs)
    keys = [p.key for p in view.programs]
    split = sum(any(outs[(keys[i], t)] != outs[(keys[j], t)] for t in inputs) for i, j in pairs)
    return split / len(pairs)


def evaluate_pool(
    pool: Pool,
    problem: Problem,
    selectors: Sequence[Selector],
    *,
    ks: Sequence[int],
    subsets: int,
    per_candidate: int,
    runner: Runner,
    tests: list[Example] | None = None,
    seed: int = 0,
) -> list[KResult]:
    """Every selector at every K on one pool (see the module docstring). K larger than the pool is skipped."""
    programs = pool.programs()
    labels = [c.correct for c in pool.candidates]
    out = []
    for k in ks:
        if k > len(programs):
            continue
        draws = random.Random(f"{pool.problem_id}:{k}:{seed}")
        picks = [draws.sample(range(len(programs)), k) for _ in range(subsets)]
        for selector in selectors:
            row = KResult(
                problem_id=pool.problem_id,
                selector=selector.name,
                k=k,
                correct=[],
                any_correct=[],
                executions=[],
                discriminated=[],
            )
            for j, pick in enumerate(picks):
                view = View(
                    problem_id=problem.problem_id,
                    statement=problem.statement,
                    public=pool.public,
                    domains=problem.domains,
                    programs=[programs[i] for i in pick],
                    tests=tests or [],
                )
                rng = random.Random(f"{pool.problem_id}:{k}:{j}:{selector.name}:{seed}")
                choice = selector.select(view, runner, rng, per_candidate * k)
                sub_labels = [labels[i] for i in pick]
                row.correct.append(int(sub_labels[choice.index]))
                row.any_correct.append(int(any(sub_labels)))
                row.executions.append(choice.executions)
                row.discriminated.append(_discrimination(runner, view, sub_labels, choice.inputs))
                row.proposed += choice.proposed
                row.valid_inputs += choice.valid_inputs
            out.append(row)
    return out


def bootstrap_ci(values: list[int], *, reps: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of `values` (resampled with replacement)."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(rng.choices(values, k=n)) / n for _ in range(reps))
    return means[int(0.025 * reps)], means[min(reps - 1, int(0.975 * reps))]


def summarise(rows: Sequence[KResult | dict[str, Any]]) -> list[dict[str, Any]]:
    """One line per (selector, K) over every problem: best, its CI, pass, discrimination, validity, executions."""
    groups: dict[tuple[str, int], list[KResult]] = {}
    for raw in rows:
        row = raw if isinstance(raw, KResult) else KResult.model_validate(raw)
        groups.setdefault((row.selector, row.k), []).append(row)
    table = []
    for (selector, k), items in sorted(groups.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        correct = [c for r in items for c in r.correct]
        passes = [c for r in items for c in r.any_correct]
        disc = [d for r in items for d in r.discriminated if d is not None]
        proposed = sum(r.proposed for r in items)
        lo, hi = bootstrap_ci(correct)
        table.append(
            {
                "selector": selector,
                "k": k,
                "problems": len(items),
                "best": sum(correct) / max(1, len(correct)),
                "best_lo": lo,
                "best_hi": hi,
                "pass": sum(passes) / max(1, len(passes)),
                "discrimination": statistics.fmean(disc) if disc else None,
                "validity": sum(r.valid_inputs for r in items) / proposed if proposed else None,
                "executions": statistics.fmean([e for r in items for e in r.executions]) if correct else 0.0,
            }
        )
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    """The summary as fixed-width text."""
    head = f"{'K':>3} {'selector':<8} {'Best@K':>7} {'95% CI':>13} {'Pass@K':>7} {'disc':>5} {'valid':>5} {'exec':>7} {'problems':>8}"
    lines = [head]
    for r in table:
        disc = f"{r['discrimination']:.2f}" if r["discrimination"] is not None else "-"
        val = f"{r['validity']:.2f}" if r["validity"] is not None else "-"
        ci = f"[{r['best_lo']:.2f},{r['best_hi']:.2f}]"
        lines.append(
            f"{r['k']:>3} {r['selector']:<8} {r['best']:>7.3f} {ci:>13} {r['pass']:>7.3f} {disc:>5} {val:>5} "
            f"{r['executions']:>7.0f} {r['problems']:>8}"
        )
    return "\n".join(lines)
