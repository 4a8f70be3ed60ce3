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
- separable: the share of subsets where some correct candidate's outputs on the inputs the selector
  ran differ from every incorrect candidate's: how often that evidence lets any rule reading only
  those outputs be right for sure (a pick can still be right by a lucky tie break);
- validity: of the inputs the selector generated, the share its validator accepted (search only);
- executions: calls requested per selection.

`paired_gap(rows, "search", "mbr")` compares two selectors on the same (problem, subset) draws: the
mean difference of their outcomes with a bootstrap interval over those pairs, a sharper test than
whether their two separate intervals overlap.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field

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
    separable: list[int] = Field(default_factory=list)
    proposed: int = 0
    valid_inputs: int = 0


def _evidence_reach(
    runner: Runner, view: View, labels: list[bool], inputs: list[str]
) -> tuple[float | None, int]:
    """(share of (correct, incorrect) pairs whose outputs differ on `inputs`, None without such pairs;
    1 when some correct candidate's outputs differ from every incorrect one's, else 0)."""
    outs = runner.run(view.programs, inputs) if inputs else {}
    rows = [tuple(outs[(p.key, t)] for t in inputs) for p in view.programs]
    wrong = {rows[j] for j, ok in enumerate(labels) if not ok}
    separable = int(any(ok and rows[i] not in wrong for i, ok in enumerate(labels)))
    pairs = [(i, j) for i, a in enumerate(labels) if a for j, b in enumerate(labels) if not b]
    if not pairs:
        return None, separable
    return sum(rows[i] != rows[j] for i, j in pairs) / len(pairs), separable


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
                disc, separable = _evidence_reach(runner, view, sub_labels, choice.inputs)
                row.discriminated.append(disc)
                row.separable.append(separable)
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


def paired_gap(rows: Sequence[KResult], a: str, b: str) -> list[dict[str, Any]]:
    """Per K: selector `a`'s Best@K minus `b`'s over the (problem, subset) draws both ran, with a 95%
    bootstrap interval over those pairs (the draws are shared, see `evaluate_pool`)."""
    by: dict[tuple[str, str, int], list[int]] = {}
    for r in rows:
        if r.selector in (a, b):
            by[(r.selector, r.problem_id, r.k)] = r.correct
    out = []
    for k in sorted({k for _, _, k in by}):
        ids = sorted({p for s, p, kk in by if kk == k and (a, p, k) in by and (b, p, k) in by})
        diffs = [x - y for p in ids for x, y in zip(by[(a, p, k)], by[(b, p, k)], strict=True)]
        if not diffs:
            continue
        scaled = [d + 1 for d in diffs]  # bootstrap_ci takes integers; shift -1..1 to 0..2
        lo, hi = bootstrap_ci(scaled)
        out.append(
            {"k": k, "problems": len(ids), "gap": sum(diffs) / len(diffs), "gap_lo": lo - 1, "gap_hi": hi - 1}
        )
    return out


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
        separable = [c for r in items for c in r.separable]
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
                "separable": sum(separable) / len(separable) if separable else None,
                "validity": sum(r.valid_inputs for r in items) / proposed if proposed else None,
                "executions": statistics.fmean([e for r in items for e in r.executions]) if correct else 0.0,
            }
        )
    return table


def format_table(table: list[dict[str, Any]]) -> str:
    """The summary as fixed-width text."""
    head = f"{'K':>3} {'selector':<8} {'Best@K':>7} {'95% CI':>13} {'Pass@K':>7} {'sep':>5} {'disc':>5} {'valid':>5} {'exec':>7} {'problems':>8}"
    lines = [head]
    for r in table:
        sep = f"{r['separable']:.3f}" if r.get("separable") is not None else "-"
        disc = f"{r['discrimination']:.2f}" if r["discrimination"] is not None else "-"
        val = f"{r['validity']:.2f}" if r["validity"] is not None else "-"
        ci = f"[{r['best_lo']:.2f},{r['best_hi']:.2f}]"
        lines.append(
            f"{r['k']:>3} {r['selector']:<8} {r['best']:>7.3f} {ci:>13} {r['pass']:>7.3f} {sep:>5} {disc:>5} {val:>5} "
            f"{r['executions']:>7.0f} {r['problems']:>8}"
        )
    return "\n".join(lines)
