"""`codekiln report`: one self-contained HTML report (works offline) of synthesis, rollouts and evaluations.

    codekiln report out/toolz runs/r1 runs/r2 eval/ --out report.html
    codekiln report runs/ --out report.html          # directories are searched for inputs

Inputs are recognised by what they hold (see `codekiln.reports.collect`): synth output directories, rollout
directories, `codekiln eval` output directories and `codekiln formats eval` JSON files. The report holds the
synthesis funnel, resolved rates with confidence intervals, pass@k, error classes, format following, turn
and token distributions, and a trajectory viewer; see `codekiln.reports.html`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from codekiln.reports.html import build_report

app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, context_settings={"allow_interspersed_args": True}
)
console = Console()


@app.callback(invoke_without_command=True)
def report(
    paths: list[Path] = typer.Argument(..., help="synth, rollout, eval or GRPO run directories (searched)"),
    out: Path = typer.Option(Path("report.html"), "--out", "-o", help="the HTML file to write"),
    tasks: list[Path] = typer.Option([], "--tasks", "-t", help="extra task files or synth directories"),
    title: str = typer.Option("codekiln report", help="the report's title"),
) -> None:
    """Write one HTML file with charts and a trajectory viewer; print its path."""
    with console.status("building the report"):
        info = build_report(paths, out, tasks=tasks or None, title=title)
    console.print(
        f"{info.rollouts} rollouts, {info.bytes / 1e6:.2f} MB, {info.seconds:.1f} s  ->  [bold]{info.path.resolve()}[/]"
    )


if __name__ == "__main__":
    from codekiln.cli.common import run

    run(app)
