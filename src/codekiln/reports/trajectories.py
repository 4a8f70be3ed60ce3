"""The report's trajectory sections: format following per template (from rollouts and from
`codekiln formats eval` reports), and the distributions of turns and tokens per trajectory."""

from __future__ import annotations

import statistics
from typing import Any

from codekiln.reports.charts import Bar, bars, figure, histogram
from codekiln.reports.collect import RolloutRun


def formats_body(runs: list[RolloutRun], format_evals: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Turns in the required format per template (rollouts), and `codekiln formats eval` reports."""
    body = []
    per_format: dict[str, list[int]] = {}
    for run in runs:
        for r in run.rollouts:
            if r.trajectory and r.trajectory.steps:
                row = per_format.setdefault(r.format or "default", [0, 0])
                row[0] += len(r.trajectory.steps)
                row[1] += sum(1 for s in r.trajectory.steps if not s.parse_error)
    if per_format:
        items = [Bar(k, ok / n, note=f"{ok}/{n} turns") for k, (n, ok) in sorted(per_format.items())]
        body.append(
            figure(
                "turns in the required format, per template (rollouts)",
                bars(items, testid="chart-format-following", percent=True),
            )
        )
    for name, report in format_evals:
        items = [
            Bar(str(s.get("format")), float(s.get("rate") or 0.0), note=f"{s.get('valid')}/{s.get('scored')}")
            for s in report.get("scores", [])
        ]
        caption = f"format following of {report.get('model', '?')} ({name}), per template"
        body.append(figure(caption, bars(items, testid="chart-format-eval", percent=True)))
    if not body:
        body.append('<p class="empty">No trajectories or format-following reports given.</p>')
    return body


def distributions_body(runs: list[RolloutRun]) -> list[str]:
    """Histograms of turns and tokens per trajectory, with median, p90 and max."""
    trajs = [r.trajectory for run in runs for r in run.rollouts if r.trajectory]
    if not trajs:
        return ['<p class="empty">No trajectories given.</p>']
    turns = [float(len(t.steps)) for t in trajs]
    tokens = [float(t.totals.total_tokens) for t in trajs]

    def stats(values: list[float]) -> str:
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return f"median {statistics.median(values):g}, p90 {p90:g}, max {ordered[-1]:g}"

    body = ['<div class="row">',
            figure(f"turns per trajectory ({stats(turns)})", histogram(turns, testid="chart-turns", xlabel="turns")),
            figure(f"tokens per trajectory ({stats(tokens)})", histogram(tokens, testid="chart-tokens", xlabel="prompt + completion tokens")),
            "</div>"]  # fmt: skip
    return body
