"""The report's verifier section: Best@K per selector and K from `codekiln verify` output directories
(summary.json next to pools.jsonl), with the Pass@K ceiling and each selector's cost. Every text goes
on the page escaped."""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

SUMMARY, POOLS = "summary.json", "pools.jsonl"


def is_verify_dir(path: Path) -> bool:
    return path.is_dir() and (path / SUMMARY).is_file() and (path / POOLS).is_file()


def load_verify(path: Path) -> list[dict[str, Any]]:
    """The summary table of one `codekiln verify` run (see `codekiln.verify.metrics.summarise`)."""
    table: list[dict[str, Any]] = json.loads((path / SUMMARY).read_text()).get("table", [])
    return table


def _num(value: Any, fmt: str = ".3f") -> str:
    return "-" if value is None else format(value, fmt)


def verify_body(runs: list[tuple[str, list[dict[str, Any]]]]) -> list[str]:
    """One table per run: K, selector, Best@K [95% CI], Pass@K, separable, discrimination, input validity,
    calls."""
    body: list[str] = []
    head = [
        "K",
        "selector",
        "Best@K",
        "95% CI",
        "Pass@K",
        "separable",
        "discrimination",
        "input validity",
        "calls/selection",
    ]
    for name, table in runs:
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(c)}</td>"
                for c in (
                    str(r["k"]), str(r["selector"]), _num(r["best"]),
                    f"[{_num(r['best_lo'], '.2f')}, {_num(r['best_hi'], '.2f')}]", _num(r["pass"]), _num(r.get("separable")),
                    _num(r.get("discrimination"), ".2f"), _num(r.get("validity"), ".2f"), _num(r["executions"], ".0f"),
                )
            )
            + "</tr>"
            for r in table
        )  # fmt: skip
        th = "".join(f"<th>{escape(h)}</th>" for h in head)
        body.append(f"<h3>{escape(name)}</h3>")
        body.append(
            f'<table data-testid="verify-table"><thead><tr>{th}</tr></thead><tbody>{rows}</tbody></table>'
        )
    return body
