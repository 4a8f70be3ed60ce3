"""The report's GRPO section: the reward curve of a run (`bench/grpo_curve.py`, `training.format_rl`),
from the run directory's steps.jsonl (one row per optimizer step) and heldout.jsonl.

    curve = load_curve(Path("out/grpo-curve"))            # None unless the directory holds steps.jsonl
    summary = summarize_curve(curve.steps, k=8)           # first-k vs last-k steps, with a 95% interval
    grpo_body([("out/grpo-curve", curve)])                # HTML: inline SVG chart + summary table

`codekiln report RUN_DIR ...` picks a directory holding steps.jsonl up as a GRPO run. The chart draws
each step's mean reward, the band between the lowest and highest group baseline of the step (the mean
reward of each group, what GRPO subtracts), a moving average, and the advantage spread (std of the step's
advantages) on its own axis. Every text goes on the page escaped.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

STEPS, HELDOUT, SUMMARY = "steps.jsonl", "heldout.jsonl", "summary.json"
W, H, PAD = 640, 260, 44
GRPO_NOTE = (
    "Mean reward of each step's rollouts; the band spans the step's group baselines (each group's mean "
    "reward); intervals are 95% bootstrap intervals (over rollouts for steps, over paired samples for "
    "held-out prompts)."
)


@dataclass
class Curve:
    """A GRPO run as the report reads it."""

    steps: list[dict[str, Any]]
    heldout: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)


def is_grpo_dir(path: Path) -> bool:
    return path.is_dir() and (path / STEPS).is_file()


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def load_curve(path: Path) -> Curve | None:
    """The run in `path` (None when it has no steps yet); steps ordered, a rerun step's last row kept."""
    if not is_grpo_dir(path):
        return None
    by_step = {int(r["step"]): r for r in _rows(path / STEPS)}
    summary = json.loads((path / SUMMARY).read_text()) if (path / SUMMARY).is_file() else {}
    return Curve([by_step[s] for s in sorted(by_step)], _rows(path / HELDOUT), summary)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs) if xs else 0.0


def diff_interval(
    a: Sequence[float], b: Sequence[float], *, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """mean(b) - mean(a) and its 95% percentile-bootstrap interval (each side resampled on its own)."""
    if not a or not b:
        return (0.0, 0.0, 0.0)
    rng = random.Random(seed)
    diffs = sorted(_mean([rng.choice(b) for _ in b]) - _mean([rng.choice(a) for _ in a]) for _ in range(reps))
    return (_mean(b) - _mean(a), diffs[int(0.025 * reps)], diffs[min(reps - 1, int(0.975 * reps))])


def paired_interval(
    pairs: Sequence[tuple[float, float]], *, reps: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """mean(after - before) over paired samples and its 95% percentile-bootstrap interval."""
    deltas = [b - a for a, b in pairs]
    if not deltas:
        return (0.0, 0.0, 0.0)
    rng = random.Random(seed)
    means = sorted(_mean([rng.choice(deltas) for _ in deltas]) for _ in range(reps))
    return (_mean(deltas), means[int(0.025 * reps)], means[min(reps - 1, int(0.975 * reps))])


def summarize_curve(steps: Sequence[dict[str, Any]], k: int | None = None) -> dict[str, Any]:
    """First-k vs last-k steps: mean reward of the rollouts in each, the difference with a 95% bootstrap
    interval over rollouts, and the valid-call rate in each. k defaults to a quarter of the steps."""
    n = len(steps)
    k = k or max(1, n // 4)
    k = min(k, n // 2) if n >= 2 else n
    first = [r for row in steps[:k] for r in row["rewards"]]
    last = [r for row in steps[n - k :] for r in row["rewards"]]
    diff, lo, hi = diff_interval(first, last)
    valid = [float(r == 1.0) for r in first], [float(r == 1.0) for r in last]
    return {
        "steps": n, "k": k, "first_mean": _mean(first), "last_mean": _mean(last), "diff": diff, "lo": lo,
        "hi": hi, "first_valid": _mean(valid[0]), "last_valid": _mean(valid[1]),
    }  # fmt: skip


def heldout_summary(rows: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """Held-out prompts before vs after training, paired by (prompt, sample seed); None without both."""
    before = {(r["prompt"], r["sample"]): r for r in rows if r["phase"] == "before"}
    after = {(r["prompt"], r["sample"]): r for r in rows if r["phase"] == "after"}
    keys = sorted(before.keys() & after.keys())
    if not keys:
        return None
    pairs = [(float(before[key]["reward"]), float(after[key]["reward"])) for key in keys]
    diff, lo, hi = paired_interval(pairs)
    valid = (_mean([float(before[x]["reason"] is None) for x in keys]),
             _mean([float(after[x]["reason"] is None) for x in keys]))  # fmt: skip
    return {
        "samples": len(keys), "before": _mean([p[0] for p in pairs]), "after": _mean([p[1] for p in pairs]),
        "diff": diff, "lo": lo, "hi": hi, "valid_before": valid[0], "valid_after": valid[1],
    }  # fmt: skip


def moving_average(xs: Sequence[float], window: int) -> list[float]:
    out, total = [], 0.0
    for i, x in enumerate(xs):
        total += x - (xs[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def curve_svg(steps: Sequence[dict[str, Any]]) -> str:
    """Inline SVG: mean reward per step, the group-baseline band, a moving average, the advantage spread."""
    n = len(steps)
    if not n:
        return ""
    means = [float(r["mean_reward"]) for r in steps]
    lows = [min(r["baselines"]) for r in steps]
    highs = [max(r["baselines"]) for r in steps]
    spread = [float(r["adv_std"]) for r in steps]
    top = max(1.0, *highs, *means)
    s_top = max(1e-9, *spread)

    def x(i: int) -> float:
        return PAD + (W - 2 * PAD) * (i / max(1, n - 1))

    def y(v: float, scale: float = top) -> float:
        return H - PAD + (2 * PAD - H) * (v / scale)

    def line(vals: Sequence[float], cls: str, scale: float = top) -> str:
        pts = " ".join(f"{x(i):.1f},{y(v, scale):.1f}" for i, v in enumerate(vals))
        return f'<polyline class="{cls}" fill="none" points="{pts}"/>'

    band = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(highs))
    band += " " + " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(lows))))
    ticks = "".join(
        f'<text x="{PAD - 6}" y="{y(t * top):.1f}" text-anchor="end" font-size="10">{t * top:.2f}</text>'
        for t in (0.0, 0.5, 1.0)
    )
    return (
        f'<svg data-testid="grpo-curve" viewBox="0 0 {W} {H}" width="{W}" height="{H}" role="img">'
        f'<polygon points="{band}" fill="#9ecae1" fill-opacity="0.35"><title>group baselines (min-max)</title></polygon>'
        + line(spread, "spread", s_top).replace('fill="none"', 'fill="none" stroke="#bbb" stroke-dasharray="3 3"')
        + line(means, "mean").replace('fill="none"', 'fill="none" stroke="#3182bd" stroke-width="1"')
        + line(moving_average(means, max(2, n // 8)), "avg").replace(
            'fill="none"', 'fill="none" stroke="#e6550d" stroke-width="2.5"'
        )
        + ticks
        + f'<text x="{W / 2}" y="{H - 8}" text-anchor="middle" font-size="11">optimizer step (1-{n})</text>'
        + f'<text x="{W - PAD}" y="14" text-anchor="end" font-size="10">blue: mean reward; band: group '
        f"baselines; orange: moving avg; dashed grey: advantage std (max {s_top:.2f})</text></svg>"
    )  # fmt: skip


def _cells(values: Sequence[str]) -> str:
    return "<tr>" + "".join(f"<td>{escape(v)}</td>" for v in values) + "</tr>"


def grpo_body(runs: Sequence[tuple[str, Curve]]) -> list[str]:
    """Per run: the curve, then first-k vs last-k steps and held-out prompts before vs after."""
    body: list[str] = []
    for name, curve in runs:
        s = summarize_curve(curve.steps)
        rows = [_cells([f"steps 1-{s['k']} vs last {s['k']} of {s['steps']}", f"{s['first_mean']:.3f}",
                        f"{s['last_mean']:.3f}", f"{s['diff']:+.3f} [{s['lo']:+.3f}, {s['hi']:+.3f}]",
                        f"{s['first_valid']:.2f} -> {s['last_valid']:.2f}"])]  # fmt: skip
        held = heldout_summary(curve.heldout)
        if held:
            rows.append(_cells([f"held-out prompts ({held['samples']} paired samples)", f"{held['before']:.3f}",
                                f"{held['after']:.3f}", f"{held['diff']:+.3f} [{held['lo']:+.3f}, {held['hi']:+.3f}]",
                                f"{held['valid_before']:.2f} -> {held['valid_after']:.2f}"]))  # fmt: skip
        head = "".join(
            f"<th>{escape(h)}</th>"
            for h in ("comparison", "before", "after", "difference [95% CI]", "valid-call rate")
        )
        cfg = curve.summary.get("config", {})
        note = ", ".join(
            f"{k}={cfg[k]}" for k in ("format", "group_size", "learning_rate", "seed") if k in cfg
        )
        body.append(f"<h3>{escape(name)}</h3>")
        if note:
            body.append(f"<p>{escape(note)}</p>")
        body.append(f"<figure>{curve_svg(curve.steps)}<figcaption>reward per step</figcaption></figure>")
        body.append(
            f'<table data-testid="grpo-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
        )
    return body


__all__ = [
    "GRPO_NOTE",
    "Curve",
    "curve_svg",
    "diff_interval",
    "grpo_body",
    "heldout_summary",
    "is_grpo_dir",
    "load_curve",
    "moving_average",
    "paired_interval",
    "summarize_curve",
]
