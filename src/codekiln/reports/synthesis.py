"""The report's synthesis section: per `codekiln synth` output directory, candidates -> validated tasks
(the funnel), rejection reasons, validated per mutator and per strategy, and the tasks' difficulty mix.
Every text goes on the page escaped."""

from __future__ import annotations

from html import escape

from codekiln.reports.charts import Bar, Stack, bars, figure, funnel, stacked
from codekiln.reports.collect import SynthRun


def synthesis_body(runs: list[SynthRun]) -> list[str]:
    """Per synthesis run: the funnel, rejection reasons, per mutator and strategy, the task mix."""
    if not runs:
        return ['<p class="empty">No synthesis runs given.</p>']
    body = []
    for run in runs:
        f = run.funnel
        body.append(
            f'<h3>{escape(run.name)} <span class="muted">{escape(run.repo)} — {escape(str(run.path))}</span></h3>'
        )
        stages = [
            ("entities", f.entities),
            ("candidates", f.candidates),
            ("tried", f.tried),
            ("validated", f.validated),
        ]
        body.append('<div class="row">')
        body.append(
            figure(
                "candidates -> validated tasks",
                funnel(stages, testid="chart-funnel", title="synthesis funnel"),
            )
        )
        reasons = sorted(f.rejected.items(), key=lambda kv: -kv[1])
        reason_bars = [Bar(k, v, cls="c-bad") for k, v in reasons]
        if reason_bars:
            body.append(figure("rejection reasons", bars(reason_bars, testid="chart-rejections")))
        body.append("</div>")
        mutators = sorted(f.per_mutator.items(), key=lambda kv: (-kv[1][1], kv[0]))
        if mutators:
            stacks = [
                Stack(name, [(ok, "c-ok"), (tried - ok, "c-bad")], f"{ok}/{tried} validated")
                for name, (tried, ok) in mutators
            ]
            legend = {"c-ok": "validated", "c-bad": "rejected"}
            body.append(figure("per mutator", stacked(stacks, testid="chart-mutators", legend=legend)))
        strategies = sorted((k, v) for k, v in f.per_strategy.items() if v.tried)
        if len(strategies) > 1:
            stacks = [
                Stack(
                    name, [(s.valid, "c-ok"), (s.tried - s.valid, "c-bad")], f"{s.valid}/{s.tried} validated"
                )
                for name, s in strategies
            ]
            legend = {"c-ok": "validated", "c-bad": "rejected"}
            body.append(figure("per strategy", stacked(stacks, testid="chart-strategies", legend=legend)))
        body.append(_mix(run.mix))
    return body


MIX_CAPTIONS = {
    "level": "difficulty level",
    "f2p_share": "share of selected tests failing",
    "import_breakage": "bug breaks the package at import",
    "files": "files touched by the fix",
}


def _mix(task_mix: dict[str, dict[str, int]]) -> str:
    """The tasks' difficulty mix, one bar chart per feature (mutators have their own chart)."""
    figures = [
        figure(caption, bars([Bar(k, v) for k, v in task_mix[key].items()], testid=f"chart-mix-{key}"))
        for key, caption in MIX_CAPTIONS.items()
        if task_mix.get(key)
    ]
    if not figures:
        return ""
    return '<h4>difficulty mix (tasks)</h4><div class="row">' + "".join(figures) + "</div>"
