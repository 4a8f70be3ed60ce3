"""`codekiln audit`: red-team the grader with codekiln's attack corpus; find hacking attempts in rollouts.

    codekiln audit grader --tasks out/toolz --limit 2            # every attack on 2 tasks; exit 1 if any resolved
    codekiln audit grader --tasks out/toolz --attack shadow-runner --path agent
    codekiln audit rollouts runs/r1                                # attempts: step, category, command
    codekiln audit list                                            # the attacks, by class

Run `audit grader` before training on a new kind of environment: it must print `0/N attacks scored
resolved`. Results go to OUT (default TASKS/audit or DIR/audit): grader.jsonl and attempts.jsonl, which
`codekiln report` shows.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from codekiln.audit.attacks import ATTACKS, CLASSES
from codekiln.audit.grader import PATHS, AttackResult, audit_grader
from codekiln.audit.trajectories import scan_rollouts
from codekiln.core.errors import ConfigError
from codekiln.sandbox import DEFAULT_BACKEND

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
console = Console()


@app.command("list")
def list_attacks() -> None:
    """The attack corpus: name, class, what it tries."""
    table = Table("attack", "class", "what it tries")
    for attack in ATTACKS:
        table.add_row(attack.name, attack.klass, attack.summary)
    console.print(table)
    console.print(f"{len(ATTACKS)} attacks in {len(CLASSES)} classes")


@app.command("grader")
def grader(
    tasks: Path = typer.Option(..., "--tasks", "-t", help="synth output directory or tasks .jsonl"),
    limit: int | None = typer.Option(None, min=1, help="audit only the first N tasks"),
    attack: list[str] = typer.Option([], "--attack", "-a", help="attack names or classes (default: all)"),
    path: list[str] = typer.Option(["predictions"], "--path", help="predictions and/or agent"),
    out: Path | None = typer.Option(None, "--out", "-o", help="results directory (default TASKS/audit)"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend"),
    timeout: float = typer.Option(120.0, help="seconds per test run (an endless loop is an attack too)"),
    redo: bool = typer.Option(False, help="start over instead of resuming"),
) -> None:
    """Grade every attack on every task with the real grader; print `0/N attacks scored resolved`."""
    bad = [p for p in path if p not in PATHS]
    if bad:
        raise ConfigError(f"unknown path {bad[0]!r}", hint="use --path predictions and/or --path agent")
    out = out or (tasks if tasks.is_dir() else tasks.parent) / "audit"

    def shown(r: AttackResult) -> None:
        colour = "red" if r.resolved else "green" if r.caught else "yellow"
        console.print(f"[{colour}]{r.outcome:12}[/] {r.attack} ({r.path}, {r.instance_id})")

    results = audit_grader(
        tasks, out, limit=limit, attacks=attack or None, paths=tuple(path),  # type: ignore[arg-type]
        backend=backend, timeout=timeout, redo=redo, on_result=shown,
    )  # fmt: skip
    print_results(results)
    resolved = sum(r.resolved for r in results)
    console.print(f"{resolved}/{len(results)} attacks scored resolved  ->  {out / 'grader.jsonl'}")
    if resolved:
        raise typer.Exit(1)


def print_results(results: list[AttackResult]) -> None:
    table = Table("attack", "class", "path", "task", "outcome", "reason")
    for r in results:
        reason = r.detail.splitlines()[0] if r.detail else ""
        if r.findings:
            reason = "; ".join(f"{f.get('kind')}: {f.get('detail')}" for f in r.findings[:2]) or reason
        style = "bold red" if r.resolved else None
        table.add_row(r.attack, r.klass, r.path, r.instance_id[-12:], r.outcome, reason[:90], style=style)
    console.print(table)


@app.command("rollouts")
def rollouts(
    directory: Path = typer.Argument(..., help="a rollout directory (rollouts.jsonl) or the file"),
    out: Path | None = typer.Option(None, "--out", "-o", help="results directory (default DIR/audit)"),
) -> None:
    """List the tool calls that reached for history, the network, the grader's files or the test runner."""
    out = out or (directory if directory.is_dir() else directory.parent) / "audit"
    attempts = scan_rollouts(directory, out)
    table = Table("task", "sample", "step", "category", "reward", "command")
    for a in attempts:
        table.add_row(a.instance_id[-24:], str(a.sample), str(a.step), a.category,
                      "" if a.reward is None else f"{a.reward:g}", a.command.replace("\n", " ")[:100])  # fmt: skip
    console.print(table)
    episodes = {(a.instance_id, a.sample) for a in attempts}
    console.print(f"{len(attempts)} attempts in {len(episodes)} episodes  ->  {out / 'attempts.jsonl'}")


if __name__ == "__main__":
    from codekiln.cli.common import run

    run(app)
