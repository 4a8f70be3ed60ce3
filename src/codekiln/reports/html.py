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

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from codekiln.core.records import atomic_write_bytes, dumps_utf8
from codekiln.reports.audit import audit_body
from codekiln.reports.collect import ReportData, collect
from codekiln.reports.grpo import GRPO_NOTE, grpo_body
from codekiln.reports.rates import RATES_NOTE, rates_body
from codekiln.reports.synthesis import synthesis_body
from codekiln.reports.trajectories import distributions_body, formats_body
from codekiln.reports.verify import verify_body


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
        _section("synthesis", "Task synthesis", synthesis_body(data.synth)),
        _section("rates", "Resolved rates", rates_body(data.results), RATES_NOTE if data.results else ""),
        _section("formats", "Format following", formats_body(data.runs, data.format_evals)),
        _section("distributions", "Turns and tokens", distributions_body(data.runs)),
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
