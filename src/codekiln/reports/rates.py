"""The report's rates section: resolved rates with 95% Wilson intervals per model, run and breakdown
dimension, pass@k, the controls apart, and the error classes. Every text goes on the page escaped."""

from __future__ import annotations

from html import escape

from codekiln.reports.charts import Bar, bars, figure
from codekiln.reports.eval import DIMENSIONS, EvalResult
from codekiln.reports.stats import RateSummary, breakdown, summarize
from codekiln.rollouts.controls import CONTROLS

MAX_ERRORS_LISTED = 50
RATES_NOTE = (
    "Resolved / graded samples, per model; masked samples (infrastructure failures) are left out of every "
    "rate. Controls check the pipeline and never enter a model's figures or a breakdown."
)


def _rate_bars(groups: dict[str, RateSummary], testid: str) -> str:
    items = [
        Bar(
            name,
            s.rate or 0.0,
            s.ci_low,
            s.ci_high,
            f"{s.resolved}/{s.graded}" + (f" ({s.masked} masked)" if s.masked else ""),
        )
        for name, s in groups.items()
    ]
    return bars(items, testid=testid, percent=True, title="resolved rate with 95% interval")


def rates_body(named: list[tuple[str, EvalResult]]) -> list[str]:
    """Headline figures per model, never pooled across models; the controls (oracle, noop) shown apart as
    pipeline checks with what they are expected to score, and left out of every breakdown. `named`:
    (run name, result) for every graded sample."""
    results = [r for _, r in named]
    if not results:
        return ['<p class="empty">No rollouts or evaluations given.</p>']
    models = [r for _, r in named if r.model not in CONTROLS]
    controls = [r for r in results if r.model in CONTROLS]
    body = [_per_model(models), _controls(controls)]
    body.append('<div class="row">')
    by_run: dict[str, RateSummary] = {}
    for run in dict.fromkeys(name for name, r in named if r.model not in CONTROLS):
        by_run[run] = summarize([r for name, r in named if name == run and r.model not in CONTROLS])
    if by_run:
        body.append(figure("per run (models only)", _rate_bars(by_run, "chart-rate-run")))
    for dim in DIMENSIONS:
        groups = breakdown(models, lambda row, dim=dim: row.groups(dim))  # type: ignore[attr-defined, misc]
        if groups:
            body.append(figure(f"per {dim} (models only)", _rate_bars(groups, f"chart-rate-{dim}")))
    ks = [
        Bar(f"{name} pass@{k}", v)
        for name, s in breakdown(models, lambda row: [row.model]).items()  # type: ignore[attr-defined]
        for k, v in s.pass_at_k.items()
    ]
    if ks:
        body.append(
            figure("pass@k per model (unbiased estimator)", bars(ks, testid="chart-pass-at-k", percent=True))
        )
    body.append("</div>")
    body.append(_errors(results))
    return body


def _per_model(rows: list[EvalResult]) -> str:
    if not rows:
        return '<p class="empty" data-testid="no-models">Only controls were given: no model to report.</p>'
    parts = []
    for name, s in breakdown(rows, lambda row: [row.model]).items():  # type: ignore[attr-defined]
        parts.append(f'<h3 data-testid="model-{escape(name)}">{escape(name)}</h3>{_overall(s)}')
    return "".join(parts)


def _controls(rows: list[EvalResult]) -> str:
    """One line per control: its rate next to the rate a working pipeline gives (oracle 100%, noop 0%)."""
    if not rows:
        return ""
    items = []
    for name, s in breakdown(rows, lambda row: [row.model]).items():  # type: ignore[attr-defined]
        expected = 1.0 if name == "oracle" else 0.0
        ok = s.rate is None or s.rate == expected
        rate = f"{s.resolved}/{s.graded}" + (f", {s.masked} masked" if s.masked else "")
        flag = "as expected" if ok else "NOT as expected: the pipeline, not a model, is at fault"
        items.append(
            f'<li data-testid="control-{escape(name)}"><b>{escape(name)}</b>: {escape(rate)} resolved '
            f"(a working pipeline gives {100 * expected:.0f}%): {escape(flag)}</li>"
        )
    return f'<div class="controls"><h3>Controls</h3><ul>{"".join(items)}</ul></div>'


def _overall(s: RateSummary) -> str:
    rate = f"{100 * s.rate:.1f}%" if s.rate is not None else "–"
    ci = f"95% CI {100 * (s.ci_low or 0):.1f}–{100 * (s.ci_high or 0):.1f}%" if s.rate is not None else ""
    passk = ", ".join(f"pass@{k} {100 * v:.1f}%" for k, v in s.pass_at_k.items())
    cards = [("resolved", rate, ci), ("graded samples", str(s.graded), f"{s.resolved} resolved"),
             ("instances", str(s.instances), passk), ("masked", str(s.masked), "infrastructure failures")]  # fmt: skip
    inner = "".join(
        f'<div class="card"><div class="k">{escape(k)}</div><div class="v" data-testid="overall-{escape(k.replace(" ", "-"))}">'
        f'{escape(v)}</div><div class="muted">{escape(sub)}</div></div>'
        for k, v, sub in cards
    )
    return f'<div class="cards">{inner}</div>'


def _errors(results: list[EvalResult]) -> str:
    counts: dict[str, int] = {}
    for r in results:
        if r.error_class:
            counts[r.error_class] = counts.get(r.error_class, 0) + 1
    if not counts:
        return '<p class="muted">No errors: every patch applied and every test run finished.</p>'
    out = [
        figure(
            "error classes",
            bars([Bar(k, v, cls="c-err") for k, v in sorted(counts.items())], testid="chart-errors"),
        )
    ]
    rows = [r for r in results if r.error_class][:MAX_ERRORS_LISTED]
    out.append('<table class="errors" data-testid="error-table"><tr><th>instance</th><th>model</th><th>sample</th>'
               "<th>error class</th><th>reason</th></tr>")  # fmt: skip
    for r in rows:
        out.append(
            f"<tr><td>{escape(r.instance_id)}</td><td>{escape(r.model)}</td><td>{r.sample}</td>"
            f'<td><span class="badge error">{escape(r.error_class or "")}</span></td>'
            f"<td><pre>{escape(r.reason[:600])}</pre></td></tr>"
        )
    out.append("</table>")
    return "".join(out)
