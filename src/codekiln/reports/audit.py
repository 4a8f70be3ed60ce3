"""The report's audit section: attacks run through the grader (`codekiln audit grader`) and hacking
attempts found in trajectories (`codekiln audit rollouts`), read from an audit directory
(grader.jsonl, attempts.jsonl). Every text goes on the page escaped."""

from __future__ import annotations

from collections import Counter
from html import escape
from pathlib import Path

from codekiln.audit.grader import GRADER_RESULTS, AttackResult, read_grader_results
from codekiln.audit.trajectories import ROLLOUT_ATTEMPTS, Attempt, read_attempts

MAX_ROWS = 500


def is_audit_dir(path: Path) -> bool:
    return path.is_dir() and ((path / GRADER_RESULTS).is_file() or (path / ROLLOUT_ATTEMPTS).is_file())


def load_audit(path: Path) -> tuple[list[AttackResult], list[Attempt]]:
    return read_grader_results(path), read_attempts(path)


def _table(head: list[str], rows: list[list[str]], testid: str, flagged: list[bool] | None = None) -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    bad = ' class="bad"'
    body = "".join(
        f"<tr{bad if flagged and flagged[i] else ''}>"
        + "".join(f"<td>{escape(c)}</td>" for c in row)
        + "</tr>"
        for i, row in enumerate(rows[:MAX_ROWS])
    )
    more = f'<p class="note">{len(rows) - MAX_ROWS} more rows not shown.</p>' if len(rows) > MAX_ROWS else ""
    return f'<table data-testid="{testid}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>{more}'


def audit_body(attacks: list[AttackResult], attempts: list[Attempt]) -> list[str]:
    """The section's HTML pieces (empty when there is nothing to show)."""
    body: list[str] = []
    if attacks:
        resolved = sum(r.resolved for r in attacks)
        body.append(
            f'<p data-testid="audit-verdict"><b>{resolved}/{len(attacks)} attacks scored resolved</b></p>'
        )
        by_outcome = Counter(r.outcome for r in attacks)
        body.append("<p>" + escape(", ".join(f"{k}: {v}" for k, v in sorted(by_outcome.items()))) + "</p>")
        rows = [
            [r.attack, r.klass, r.path, r.instance_id, r.outcome,
             "; ".join(f"{f.get('kind')}: {f.get('detail')}" for f in r.findings[:3]) or r.detail.split("\n")[0][:160]]
            for r in attacks
        ]  # fmt: skip
        body.append(_table(["attack", "class", "path", "task", "outcome", "reason"], rows, "audit-attacks",
                           [r.resolved for r in attacks]))  # fmt: skip
    if attempts:
        cats = Counter(a.category for a in attempts)
        body.append(
            f'<p data-testid="audit-attempts-count">{len(attempts)} hacking attempts in '
            f"{len({(a.run, a.instance_id, a.sample) for a in attempts})} episodes: "
            + escape(", ".join(f"{k} {v}" for k, v in sorted(cats.items())))
            + "</p>"
        )
        rows = [[a.run, a.instance_id, str(a.sample), str(a.step), a.category,
                 "" if a.reward is None else f"{a.reward:g}", a.command[:300]] for a in attempts]  # fmt: skip
        body.append(
            _table(["run", "task", "sample", "step", "category", "reward", "command"], rows, "audit-attempts")
        )
    return body


__all__ = ["audit_body", "is_audit_dir", "load_audit"]
