"""Charts drawn as inline SVG strings, server-side: the report's pictures need no script and no CDN.

    svg = bars([Bar("swe", 0.5, lo=0.2, hi=0.8, note="3/6")], testid="chart-rates", percent=True)
    svg = stacked([Stack("swap_args", [(3, "ok"), (1, "bad")])], testid="chart-mutators")
    svg = funnel([("candidates", 40), ("tried", 30), ("validated", 12)], testid="chart-funnel")
    svg = histogram([3, 4, 4, 9], testid="chart-turns", xlabel="turns")

Every label is escaped (`html.escape`): names come from data (mutators, models, test ids) and are never
trusted. Colours come from CSS classes (`c-ok`, `c-bad`, `c-err`, `c-main`, `c-muted`) of the report's
stylesheet, so the charts follow its light/dark theme.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from html import escape

ROW, LABEL_W, BAR_W, PAD = 22, 190, 360, 8


def _svg(width: int, height: int, body: list[str], testid: str, title: str) -> str:
    return (
        f'<svg class="chart" data-testid="{escape(testid)}" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" xmlns="http://www.w3.org/2000/svg">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def _text(x: float, y: float, text: str, cls: str = "lbl", anchor: str = "start") -> str:
    return f'<text class="{cls}" x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">{escape(text)}</text>'


def _cut(text: str, n: int = 28) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


@dataclass
class Bar:
    """One horizontal bar; `lo`/`hi` draw an interval whisker; `note` is printed after the bar."""

    label: str
    value: float
    lo: float | None = None
    hi: float | None = None
    note: str = ""
    cls: str = "c-main"


def bars(
    items: list[Bar], *, testid: str, title: str = "", percent: bool = False, scale: float | None = None
) -> str:
    """Horizontal bars, one per item, on a shared scale (0..1 for `percent`, else 0..max)."""
    top = scale or (1.0 if percent else max([b.hi or b.value for b in items] + [1e-9]))
    height = PAD * 2 + ROW * max(1, len(items)) + 14
    width = LABEL_W + BAR_W + 110
    body = [f'<line class="axis" x1="{LABEL_W}" y1="{PAD}" x2="{LABEL_W}" y2="{height - 16}"/>']
    for i, b in enumerate(items):
        y = PAD + i * ROW
        w = BAR_W * max(0.0, b.value) / top
        body.append(f"<g><title>{escape(b.label)}: {escape(_fmt(b.value, percent))} {escape(b.note)}</title>")
        body.append(_text(LABEL_W - 6, y + 15, _cut(b.label), anchor="end"))
        body.append(
            f'<rect class="{b.cls}" x="{LABEL_W}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}" rx="2"/>'
        )
        if b.lo is not None and b.hi is not None:
            x1, x2 = LABEL_W + BAR_W * b.lo / top, LABEL_W + BAR_W * b.hi / top
            mid = y + ROW / 2
            body.append(
                f'<path class="whisker" d="M{x1:.1f},{mid:.1f}H{x2:.1f}M{x1:.1f},{mid - 5:.1f}V{mid + 5:.1f}'
                f'M{x2:.1f},{mid - 5:.1f}V{mid + 5:.1f}"/>'
            )
        end = LABEL_W + BAR_W * max(b.value, b.hi or 0.0) / top + 6
        body.append(_text(end, y + 15, f"{_fmt(b.value, percent)} {b.note}".strip(), cls="val"))
        body.append("</g>")
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    for t in ticks:
        x = LABEL_W + BAR_W * t
        body.append(_text(x, height - 3, _fmt(t * top, percent), cls="tick", anchor="middle"))
    return _svg(width, height, body, testid, title or testid)


def _fmt(value: float, percent: bool) -> str:
    if percent:
        return f"{100 * value:.0f}%"
    return f"{value:.0f}" if float(value).is_integer() or abs(value) >= 100 else f"{value:.2f}"


@dataclass
class Stack:
    """One horizontal bar made of (count, css class) segments."""

    label: str
    parts: list[tuple[int, str]] = field(default_factory=list)
    note: str = ""


def stacked(items: list[Stack], *, testid: str, title: str = "", legend: dict[str, str] | None = None) -> str:
    """Stacked horizontal bars on a shared count scale, with an optional legend (css class -> name)."""
    top = max([sum(n for n, _ in s.parts) for s in items] + [1])
    legend = legend or {}
    height = PAD * 2 + ROW * max(1, len(items)) + (20 if legend else 0)
    body = []
    for i, s in enumerate(items):
        y = PAD + i * ROW
        total = sum(n for n, _ in s.parts)
        body.append(f"<g><title>{escape(s.label)}: {escape(s.note or str(total))}</title>")
        body.append(_text(LABEL_W - 6, y + 15, _cut(s.label), anchor="end"))
        x = float(LABEL_W)
        for n, cls in s.parts:
            w = BAR_W * n / top
            body.append(
                f'<rect class="{escape(cls)}" x="{x:.1f}" y="{y + 3}" width="{w:.1f}" height="{ROW - 6}"/>'
            )
            x += w
        body.append(_text(x + 6, y + 15, s.note or str(total), cls="val"))
        body.append("</g>")
    x = float(LABEL_W)
    for cls, name in legend.items():
        y = height - 14
        body.append(f'<rect class="{escape(cls)}" x="{x:.1f}" y="{y}" width="10" height="10"/>')
        body.append(_text(x + 14, y + 9, name, cls="tick"))
        x += 24 + 7 * len(name)
    return _svg(LABEL_W + BAR_W + 110, height, body, testid, title or testid)


def funnel(stages: list[tuple[str, int]], *, testid: str, title: str = "") -> str:
    """A funnel: one centred bar per stage, widths proportional to counts, with the share kept."""
    top = max([n for _, n in stages] + [1])
    row = 34
    width, height = LABEL_W + BAR_W + 130, PAD * 2 + row * len(stages)
    centre = LABEL_W + BAR_W / 2
    body = []
    for i, (name, n) in enumerate(stages):
        y = PAD + i * row
        w = max(2.0, BAR_W * n / top)
        share = f" ({100 * n / stages[0][1]:.0f}%)" if i and stages[0][1] else ""
        body.append(f"<g><title>{escape(name)}: {n}{escape(share)}</title>")
        body.append(_text(LABEL_W - 6, y + 21, name, anchor="end"))
        body.append(
            f'<rect class="c-main" x="{centre - w / 2:.1f}" y="{y + 4}" width="{w:.1f}" height="{row - 8}" rx="3"/>'
        )
        body.append(_text(LABEL_W + BAR_W + 8, y + 21, f"{n}{share}", cls="val"))
        body.append("</g>")
    return _svg(width, height, body, testid, title or testid)


def histogram(values: list[float], *, testid: str, xlabel: str, title: str = "", bins: int = 20) -> str:
    """Vertical bars counting `values` in up to `bins` equal bins (integer-aligned for small ranges)."""
    width, height, left, bottom = 560, 200, 44, 34
    plot_w, plot_h = width - left - 12, height - bottom - 12
    if not values:
        return _svg(
            width, height, [_text(width / 2, height / 2, "no data", anchor="middle")], testid, title or testid
        )
    lo, hi = min(values), max(values)
    span = hi - lo
    step = (
        max(1.0, math.ceil((span + 1) / bins))
        if all(float(v).is_integer() for v in values)
        else (span or 1.0) / bins
    )
    n = max(1, min(bins, int(span // step) + 1))
    counts = [0] * n
    for v in values:
        counts[min(n - 1, int((v - lo) // step))] += 1
    peak = max(counts)
    bw = plot_w / n
    body = [f'<line class="axis" x1="{left}" y1="{12 + plot_h}" x2="{width - 12}" y2="{12 + plot_h}"/>']
    for i, c in enumerate(counts):
        h = plot_h * c / peak
        x, y = left + i * bw, 12 + plot_h - h
        start = lo + i * step
        name = f"{start:g}" if step == 1 else f"{start:g}–{start + step:g}"
        body.append(
            f'<rect class="c-main" x="{x + 1:.1f}" y="{y:.1f}" width="{max(1.0, bw - 2):.1f}" height="{h:.1f}">'
            f"<title>{escape(name)}: {c}</title></rect>"
        )
    for i in sorted({0, n // 2, n - 1}):
        body.append(
            _text(left + (i + 0.5) * bw, 12 + plot_h + 14, f"{lo + i * step:g}", cls="tick", anchor="middle")
        )
    body.append(_text(left + plot_w / 2, height - 3, xlabel, cls="tick", anchor="middle"))
    body.append(_text(left - 6, 20, str(peak), cls="tick", anchor="end"))
    body.append(_text(left - 6, 12 + plot_h, "0", cls="tick", anchor="end"))
    return _svg(width, height, body, testid, title or testid)


__all__ = ["Bar", "Stack", "bars", "funnel", "histogram", "stacked"]


def figure(caption: str, svg: str) -> str:
    """A chart with its caption (escaped), as every section of the report shows one."""
    return f"<figure><figcaption>{escape(caption)}</figcaption>{svg}</figure>"
