"""The template-diversity bench's tables: bootstrap intervals over seeds and prompts, the follow-rate
table, the teacher-forced score's table and the differences between numbers of training formats.

    print(table(base, runs, budget))          # budget: anything with `heldout` and `sizes`
    print("\n".join(differences(runs, budget.sizes)))
"""

from __future__ import annotations

import itertools
import random
from typing import Any, Protocol


class Shape(Protocol):
    heldout: list[str]
    sizes: list[int]


def bootstrap(
    runs: list[dict[str, Any]], part: str, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean follow rate of `runs[*][part]` ({format: [0/1 per prompt]}) and its 95% interval,
    resampling runs (seeds) and prompts (the same prompt draw for every run and format)."""
    cells = [(r, f) for r in runs for f in r[part]]
    n_prompts = len(runs[0][part][next(iter(runs[0][part]))])
    mean = sum(sum(r[part][f]) for r, f in cells) / (len(cells) * n_prompts)
    rng = random.Random(seed)
    stats = []
    for _ in range(reps):
        chosen = [rng.choice(runs) for _ in runs]
        idx = [rng.randrange(n_prompts) for _ in range(n_prompts)]
        total = sum(r[part][f][i] for r in chosen for f in r[part] for i in idx)
        stats.append(total / (sum(len(r[part]) for r in chosen) * n_prompts))
    stats.sort()
    return mean, stats[int(0.025 * reps)], stats[int(0.975 * reps) - 1]


def pct(ci: tuple[float, float, float]) -> str:
    return f"{100 * ci[0]:5.1f}% [{100 * ci[1]:4.1f}, {100 * ci[2]:4.1f}]"


def table(base: dict[str, Any] | None, runs: list[dict[str, Any]], budget: Shape) -> str:
    cols = "".join(f"{h[:15]:>17}" for h in budget.heldout)
    head = f"{'train formats':<14}{'runs':>5}  {'held-out (95% CI)':<24}{'in-distribution (95% CI)':<26}"
    head += f"{'loss start->end':>16}{cols}"
    lines = [head, "-" * len(head)]
    if base:
        row = f"{'0 (base)':<14}{'-':>5}  {pct(bootstrap([base], 'heldout')):<24}"
        row += f"{pct(bootstrap([base], 'indist')) + ' *':<26}{'-':>16}"
        row += "".join(
            f"{100 * sum(base['heldout'][h]) / len(base['heldout'][h]):>16.1f}%" for h in budget.heldout
        )
        lines.append(row)
    for k in budget.sizes:
        mine = [r for r in runs if r["k"] == k]
        if not mine:
            continue
        loss = f"{sum(r['loss_start'] for r in mine) / len(mine):.2f}->{sum(r['loss_end'] for r in mine) / len(mine):.2f}"
        row = f"{k:<14}{len(mine):>5}  {pct(bootstrap(mine, 'heldout')):<24}{pct(bootstrap(mine, 'indist')):<26}"
        row += f"{loss:>16}"
        for h in budget.heldout:
            cells = [v for r in mine for v in r["heldout"][h]]
            row += f"{100 * sum(cells) / len(cells):>16.1f}%"
        lines.append(row)
    if base:
        lines.append(
            f"* base in-distribution = the base model on {', '.join(base['indist'])} (training-pool formats)"
        )
    return "\n".join(lines)


def nll_table(base: dict[str, Any] | None, runs: list[dict[str, Any]], budget: Shape) -> str:
    """The teacher-forced score: nats per token of the right call, lower is better."""

    def cell(ci: tuple[float, float, float]) -> str:
        return f"{ci[0]:.3f} [{ci[1]:.3f}, {ci[2]:.3f}]"

    cols = "".join(f"{h[:15]:>17}" for h in budget.heldout)
    head = f"{'train formats':<14}{'runs':>5}  {'held-out NLL (95% CI)':<26}{'in-distribution NLL':<26}{cols}"
    lines = [head, "-" * len(head)]
    groups = [("0 (base)", [base])] if base else []
    groups += [(str(k), [r for r in runs if r["k"] == k]) for k in budget.sizes]
    for name, mine in groups:
        if not mine:
            continue
        row = f"{name:<14}{'-' if name.startswith('0') else len(mine):>5}  "
        row += f"{cell(bootstrap(mine, 'heldout_nll')):<26}{cell(bootstrap(mine, 'indist_nll')):<26}"
        for h in budget.heldout:
            cells = [v for r in mine for v in r["heldout_nll"][h]]
            row += f"{sum(cells) / len(cells):>17.3f}"
        lines.append(row)
    return "\n".join(lines)


def difference(runs: list[dict[str, Any]], lo: int, hi: int, part: str = "heldout", reps: int = 2000) -> str:
    """`part`'s mean at k=hi minus at k=lo, 95% bootstrap interval (seeds resampled per size, prompts
    shared): in points for the follow rate, in nats per token for the teacher-forced score."""
    a, b = [r for r in runs if r["k"] == lo], [r for r in runs if r["k"] == hi]
    if not a or not b:
        return ""
    n = len(a[0][part][next(iter(a[0][part]))])
    rng = random.Random(1)

    def mean(rs: list[dict[str, Any]], idx: list[int]) -> float:
        return sum(r[part][f][i] for r in rs for f in r[part] for i in idx) / (
            sum(len(r[part]) for r in rs) * len(idx)
        )

    point = mean(b, list(range(n))) - mean(a, list(range(n)))
    stats = []
    for _ in range(reps):
        idx = [rng.randrange(n) for _ in range(n)]
        stats.append(mean([rng.choice(b) for _ in b], idx) - mean([rng.choice(a) for _ in a], idx))
    stats.sort()
    lo_ci, hi_ci = stats[int(0.025 * reps)], stats[int(0.975 * reps) - 1]
    if part == "heldout":
        return f"held-out, {hi} minus {lo} training formats: {100 * point:+.1f} points [{100 * lo_ci:+.1f}, {100 * hi_ci:+.1f}]"
    return f"{part}, {hi} minus {lo} training formats: {point:+.3f} nats/token [{lo_ci:+.3f}, {hi_ci:+.3f}]"


def differences(runs: list[dict[str, Any]], sizes: list[int]) -> list[str]:
    """The follow rate's extremes, and the teacher-forced score's every step and extremes."""
    ks = sorted(set(sizes))
    lines = [difference(runs, ks[0], ks[-1])]
    if runs and "heldout_nll" in runs[0]:
        pairs = [*itertools.pairwise(ks), (ks[0], ks[-1])] if len(ks) > 2 else [(ks[0], ks[-1])]
        lines += [difference(runs, lo, hi, "heldout_nll") for lo, hi in pairs]
    return [line for line in lines if line]
