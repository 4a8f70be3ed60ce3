"""The report: one self-contained HTML file (inline CSS, JS and SVG; no CDN, works offline).

    info = build_report([Path("out/toolz"), Path("runs/r1")], Path("report.html"))
    info.path, info.bytes, info.rollouts, info.seconds

or `codekiln report out/toolz runs/r1 --out report.html`. Sections: the synthesis funnel (candidates ->
validated per mutator, rejection reasons), resolved rates with 95% Wilson intervals per run, scaffold,
format, model, repository and mutator, pass@k, error classes, format following per template, turn and
token distributions, the reward-hacking audit (when `codekiln audit` results are given), and the trajectory viewer (`assets/viewer.js`).

Charts are SVG drawn here (`charts`). The viewer's data is embedded as JSON in a
`<script type="application/json">` with `<` escaped, so no text in it can close the script; the viewer
puts every piece of trajectory text on the page with `textContent`, never as markup.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from codekiln.core.records import atomic_write_bytes, dumps_utf8
from codekiln.reports.audit import audit_body
from codekiln.reports.charts import Bar, Stack, bars, funnel, histogram, stacked
from codekiln.reports.collect import ReportData, collect
from codekiln.reports.eval import DIMENSIONS, EvalResult
from codekiln.reports.grpo import GRPO_NOTE, grpo_body
from codekiln.reports.stats import RateSummary, breakdown, summarize
from codekiln.reports.verify import verify_body
from codekiln.rollouts.controls import CONTROLS

MAX_ERRORS_LISTED = 50


@dataclass
class ReportInfo:
    path: Path
    bytes: int
    rollouts: int
    seconds: float


def asset(name: str) -> str:
    return resources.files("codekiln.reports").joinpath("assets", name).read_text(encoding="utf-8")


def script_json(data: Any) -> str:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or line separators can break out."""
    text = dumps_utf8(data, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _section(sid: str, title: str, body: list[str], note: str = "") -> str:
    lead = f'<p class="note">{escape(note)}</p>' if note else ""
    return f'<section id="{sid}" data-testid="section-{sid}"><h2>{escape(title)}</h2>{lead}{"".join(body)}</section>'


def _figure(caption: str, svg: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{svg}</figure>"


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


def synthesis_section(data: ReportData) -> str:
    if not data.synth:
        return _section("synthesis", "Task synthesis", ['<p class="empty">No synthesis runs given.</p>'])
    body = []
    for run in data.synth:
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
            _figure(
                "candidates -> validated tasks",
                funnel(stages, testid="chart-funnel", title="synthesis funnel"),
            )
        )
        reasons = sorted(f.rejected.items(), key=lambda kv: -kv[1])
        reason_bars = [Bar(k, v, cls="c-bad") for k, v in reasons]
        if reason_bars:
            body.append(_figure("rejection reasons", bars(reason_bars, testid="chart-rejections")))
        body.append("</div>")
        mutators = sorted(f.per_mutator.items(), key=lambda kv: (-kv[1][1], kv[0]))
        if mutators:
            stacks = [
                Stack(name, [(ok, "c-ok"), (tried - ok, "c-bad")], f"{ok}/{tried} validated")
                for name, (tried, ok) in mutators
            ]
            legend = {"c-ok": "validated", "c-bad": "rejected"}
            body.append(_figure("per mutator", stacked(stacks, testid="chart-mutators", legend=legend)))
        strategies = sorted((k, v) for k, v in f.per_strategy.items() if v.tried)
        if len(strategies) > 1:
            stacks = [
                Stack(
                    name, [(s.valid, "c-ok"), (s.tried - s.valid, "c-bad")], f"{s.valid}/{s.tried} validated"
                )
                for name, s in strategies
            ]
            legend = {"c-ok": "validated", "c-bad": "rejected"}
            body.append(_figure("per strategy", stacked(stacks, testid="chart-strategies", legend=legend)))
        body.append(_mix(run.mix))
    return _section("synthesis", "Task synthesis", body)


MIX_CAPTIONS = {
    "level": "difficulty level",
    "f2p_share": "share of selected tests failing",
    "import_breakage": "bug breaks the package at import",
    "files": "files touched by the fix",
}


def _mix(task_mix: dict[str, dict[str, int]]) -> str:
    """The tasks' difficulty mix, one bar chart per feature (mutators have their own chart)."""
    figures = [
        _figure(caption, bars([Bar(k, v) for k, v in task_mix[key].items()], testid=f"chart-mix-{key}"))
        for key, caption in MIX_CAPTIONS.items()
        if task_mix.get(key)
    ]
    if not figures:
        return ""
    return '<h4>difficulty mix (tasks)</h4><div class="row">' + "".join(figures) + "</div>"


def rates_section(data: ReportData) -> str:
    """Headline figures per model, never pooled across models; the controls (oracle, noop) shown apart as
    pipeline checks with what they are expected to score, and left out of every breakdown."""
    results = [r for _, r in data.results]
    if not results:
        return _section("rates", "Resolved rates", ['<p class="empty">No rollouts or evaluations given.</p>'])
    models = [r for _, r in data.results if r.model not in CONTROLS]
    controls = [r for r in results if r.model in CONTROLS]
    body = [_per_model(models), _controls(controls)]
    body.append('<div class="row">')
    by_run: dict[str, RateSummary] = {}
    for run in dict.fromkeys(name for name, r in data.results if r.model not in CONTROLS):
        by_run[run] = summarize([r for name, r in data.results if name == run and r.model not in CONTROLS])
    if by_run:
        body.append(_figure("per run (models only)", _rate_bars(by_run, "chart-rate-run")))
    for dim in DIMENSIONS:
        groups = breakdown(models, lambda row, dim=dim: row.groups(dim))  # type: ignore[attr-defined, misc]
        if groups:
            body.append(_figure(f"per {dim} (models only)", _rate_bars(groups, f"chart-rate-{dim}")))
    ks = [
        Bar(f"{name} pass@{k}", v)
        for name, s in breakdown(models, lambda row: [row.model]).items()  # type: ignore[attr-defined]
        for k, v in s.pass_at_k.items()
    ]
    if ks:
        body.append(
            _figure("pass@k per model (unbiased estimator)", bars(ks, testid="chart-pass-at-k", percent=True))
        )
    body.append("</div>")
    body.append(_errors(results))
    note = (
        "Resolved / graded samples, per model; masked samples (infrastructure failures) are left out of every "
        "rate. Controls check the pipeline and never enter a model's figures or a breakdown."
    )
    return _section("rates", "Resolved rates", body, note)


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
        _figure(
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


def formats_section(data: ReportData) -> str:
    body = []
    per_format: dict[str, list[int]] = {}
    for run in data.runs:
        for r in run.rollouts:
            if r.trajectory and r.trajectory.steps:
                row = per_format.setdefault(r.format or "default", [0, 0])
                row[0] += len(r.trajectory.steps)
                row[1] += sum(1 for s in r.trajectory.steps if not s.parse_error)
    if per_format:
        items = [Bar(k, ok / n, note=f"{ok}/{n} turns") for k, (n, ok) in sorted(per_format.items())]
        body.append(
            _figure(
                "turns in the required format, per template (rollouts)",
                bars(items, testid="chart-format-following", percent=True),
            )
        )
    for name, report in data.format_evals:
        items = [
            Bar(str(s.get("format")), float(s.get("rate") or 0.0), note=f"{s.get('valid')}/{s.get('scored')}")
            for s in report.get("scores", [])
        ]
        caption = f"format following of {report.get('model', '?')} ({name}), per template"
        body.append(_figure(caption, bars(items, testid="chart-format-eval", percent=True)))
    if not body:
        body.append('<p class="empty">No trajectories or format-following reports given.</p>')
    return _section("formats", "Format following", body)


def distributions_section(data: ReportData) -> str:
    trajs = [r.trajectory for run in data.runs for r in run.rollouts if r.trajectory]
    if not trajs:
        return _section("distributions", "Turns and tokens", ['<p class="empty">No trajectories given.</p>'])
    turns = [float(len(t.steps)) for t in trajs]
    tokens = [float(t.totals.total_tokens) for t in trajs]

    def stats(values: list[float]) -> str:
        ordered = sorted(values)
        p90 = ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))]
        return f"median {statistics.median(values):g}, p90 {p90:g}, max {ordered[-1]:g}"

    body = ['<div class="row">',
            _figure(f"turns per trajectory ({stats(turns)})", histogram(turns, testid="chart-turns", xlabel="turns")),
            _figure(f"tokens per trajectory ({stats(tokens)})", histogram(tokens, testid="chart-tokens", xlabel="prompt + completion tokens")),
            "</div>"]  # fmt: skip
    return _section("distributions", "Turns and tokens", body)


VIEWER = """
<div id="viewer" data-testid="viewer">
  <div class="toolbar">
    <span class="filters" role="group" aria-label="filter by status">
      <button type="button" data-filter="all" data-testid="filter-all" class="on">all</button>
      <button type="button" data-filter="resolved" data-testid="filter-resolved">resolved</button>
      <button type="button" data-filter="failed" data-testid="filter-failed">failed</button>
      <button type="button" data-filter="error" data-testid="filter-error">error</button>
    </span>
    <label>task <select id="task-select" data-testid="task-select"><option value="">all tasks</option></select></label>
    <span id="row-count" data-testid="row-count" class="muted"></span>
  </div>
  <div class="panes">
    <ol id="rollout-list" data-testid="rollout-list"></ol>
    <div id="detail" data-testid="detail"><p class="empty">Pick a rollout on the left.</p></div>
  </div>
</div>
<noscript><p class="empty">The trajectory viewer needs JavaScript.</p></noscript>
"""


def audit_section(data: ReportData) -> str:
    """Attacks on the grader and hacking attempts in trajectories (`codekiln audit`), when given."""
    body = audit_body(data.attacks, data.attempts)
    if not body:
        return ""
    note = "No attack may be scored resolved; attempts are tool calls to triage, not verdicts."
    return _section("audit", "Reward-hacking audit", body, note)


def verify_section(data: ReportData) -> str:
    """Best@K of each selector (`codekiln verify`), when given."""
    if not data.verify:
        return ""
    note = (
        "Best@K: share of random K-subsets where the selector's pick is correct (95% bootstrap interval); "
        "Pass@K: share holding a correct candidate; separable: share where a correct candidate's outputs on "
        "the selector's inputs differ from every wrong one's (what any rule on that evidence can be sure of); "
        "discrimination: share of (correct, wrong) pairs the selector's inputs tell apart."
    )
    return _section("verify", "Verifier: picking among K candidates", verify_body(data.verify), note)


def viewer_section() -> str:
    return _section(
        "trajectories", "Trajectories", [VIEWER], "Keys: j / k or arrow keys step through the conversation."
    )


def render(data: ReportData, title: str = "codekiln report") -> str:
    """The whole HTML document."""
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    payload = {
        "meta": {
            "title": title,
            "generated": generated,
            "sources": data.sources,
        },
        "tasks": data.viewer_tasks(),
        "rows": data.viewer_rows(),
    }
    sources = "".join(f"<li>{escape(s['kind'])}: {escape(s['path'])}</li>" for s in data.sources)
    nav = "".join(
        f'<a href="#{sid}">{escape(name)}</a>'
        for sid, name in [("synthesis", "Synthesis"), ("rates", "Resolved rates"), ("formats", "Format following"),
                          ("distributions", "Turns and tokens"), ("trajectories", "Trajectories")]
        + ([("audit", "Audit")] if data.attacks or data.attempts else [])
        + ([("verify", "Verifier")] if data.verify else [])
        + ([("grpo", "GRPO")] if data.grpo else [])
    )  # fmt: skip
    parts = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; img-src data:\">",
        f"<title>{escape(title)}</title><style>{asset('report.css')}</style></head><body>",
        f"<header><h1>{escape(title)}</h1><nav>{nav}</nav>",
        f'<details class="sources"><summary>{len(data.sources)} inputs, generated '
        f"{escape(generated)}</summary><ul>{sources}</ul></details></header><main>",
        synthesis_section(data),
        rates_section(data),
        formats_section(data),
        distributions_section(data),
        audit_section(data),
        verify_section(data),
        _section("grpo", "GRPO: reward per step", grpo_body(data.grpo), GRPO_NOTE) if data.grpo else "",
        viewer_section(),
        "</main>",
        f'<script type="application/json" id="report-data">{script_json(payload)}</script>',
        f"<script>{asset('viewer.js')}</script>",
        "</body></html>",
    ]
    return "\n".join(parts)


def build_report(
    paths: list[Path], out: Path, *, tasks: list[Path] | None = None, title: str = "codekiln report"
) -> ReportInfo:
    """Collect every input under `paths` and write the report to `out`."""
    start = time.monotonic()
    data = collect([Path(p) for p in paths], tasks=tasks)
    html = render(data, title)
    # A name or an argument the agent wrote may hold a lone surrogate (not UTF-8): shown as its escape.
    atomic_write_bytes(out, html.encode("utf-8", errors="backslashreplace"))
    rollouts = sum(len(run.rollouts) for run in data.runs)
    return ReportInfo(Path(out), len(html.encode()), rollouts, time.monotonic() - start)


__all__ = ["ReportInfo", "build_report", "render", "script_json"]
