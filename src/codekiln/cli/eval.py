"""`codekiln eval`: grade SWE-bench-style predictions or codekiln rollouts; per-instance results + summary.

    codekiln eval --tasks out/toolz --predictions preds.jsonl --out eval/       # grade each, fresh sandbox
    codekiln eval --rollouts runs/r1                                            # grades the rollout stored
    codekiln eval --rollouts runs/r1 --regrade --tasks out/toolz --workers 2    # grade every patch again

Writes OUT/results.jsonl (one line per sample, appended as graded: rerun to resume) and OUT/summary.json
(resolved rate with its 95% interval, pass@k, error classes, breakdowns); see `codekiln.reports.eval`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codekiln.cli.common import EXECUTOR_HELP, RAY_ADDRESS_HELP, executor_config
from codekiln.core.errors import ConfigError, GradingError
from codekiln.reports.eval import (
    RESULTS,
    SUMMARY,
    EvalResult,
    EvalSummary,
    evaluate_predictions,
    evaluate_rollouts,
)
from codekiln.sandbox import DEFAULT_BACKEND

app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, context_settings={"allow_interspersed_args": True}
)
console = Console()


def show_summary(summary: EvalSummary, out: Path) -> None:
    """Print the summary: overall, pass@k, error classes, and each breakdown."""
    s = summary.overall
    rate = (
        f"{100 * s.rate:.1f}% [{100 * (s.ci_low or 0):.1f}, {100 * (s.ci_high or 0):.1f}]"
        if s.rate is not None
        else "-"
    )
    table = Table(
        "group", "resolved", "graded", "masked", "rate [95% CI]", title=f"evaluation of {summary.source}"
    )
    table.add_row("all", str(s.resolved), str(s.graded), str(s.masked), rate)
    for dim, groups in summary.breakdowns.items():
        for name, g in groups.items():
            r = (
                f"{100 * g.rate:.1f}% [{100 * (g.ci_low or 0):.1f}, {100 * (g.ci_high or 0):.1f}]"
                if g.rate is not None
                else "-"
            )
            table.add_row(f"{dim}: {name}", str(g.resolved), str(g.graded), str(g.masked), r)
    console.print(table)
    if s.pass_at_k:
        console.print("pass@k: " + ", ".join(f"pass@{k} {100 * v:.1f}%" for k, v in s.pass_at_k.items()))
    for klass, n in sorted(summary.error_classes.items()):
        console.print(f"[yellow]{klass}[/]: {n}")
    if summary.unknown_instances:
        console.print(f"[yellow]{len(summary.unknown_instances)} predicted instances are not in the tasks[/]")
    console.print(f"resolved: {s.resolved}/{s.graded}  ->  {out / RESULTS}, {out / SUMMARY}")


@app.callback(invoke_without_command=True)
def evaluate(
    tasks: Path | None = typer.Option(None, "--tasks", "-t", help="synth output directory or tasks .jsonl"),
    predictions: Path | None = typer.Option(
        None, "--predictions", "-p", help="SWE-bench predictions (JSONL)"
    ),
    rollouts: Path | None = typer.Option(None, "--rollouts", "-r", help="a codekiln rollout directory"),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="output directory (default for rollouts: DIR/eval)"
    ),
    regrade: bool = typer.Option(False, help="rollouts: grade every patch again in fresh sandboxes"),
    workers: int = typer.Option(1, min=1, help="patches graded at once (the cap in flight on Ray)"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend"),
    redo: bool = typer.Option(False, help="start over instead of resuming"),
    timeout: float | None = typer.Option(
        None,
        help="seconds per test run (default: derived from the environment's measured suite, grading.limits)",
    ),
    executor: str = typer.Option("local", help=EXECUTOR_HELP),
    ray_address: str = typer.Option("", help=RAY_ADDRESS_HELP),
) -> None:
    """Grade predictions or rollouts with the rollouts' grader; write per-instance results and a summary."""
    if (predictions is None) == (rollouts is None):
        raise ConfigError("give either --predictions or --rollouts", hint="see codekiln eval --help")
    where = executor_config(executor, ray_address)
    columns = (TextColumn("[bold]grading[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("resolved [green]{task.fields[resolved]}[/]"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("grading", total=None, resolved=0)
        resolved = [0]

        def on_result(result: EvalResult, done: int, total: int) -> None:
            resolved[0] += int(result.resolved)
            progress.update(bar, total=total, completed=done, resolved=resolved[0])

        if predictions is not None:
            if tasks is None or out is None:
                raise ConfigError("--predictions needs --tasks and --out", hint="see codekiln eval --help")
            summary = evaluate_predictions(
                tasks,
                predictions,
                out,
                workers=workers,
                backend=backend,
                redo=redo,
                timeout=timeout,
                on_result=on_result,
                executor=where,
            )
        else:
            assert rollouts is not None
            out = out or rollouts / "eval"
            summary = evaluate_rollouts(
                rollouts, out, tasks=tasks, regrade=regrade, workers=workers, backend=backend, redo=redo,
                timeout=timeout, on_result=on_result, executor=where,
            )  # fmt: skip
    show_summary(summary, out)
    if summary.overall.graded == 0 and summary.overall.masked:
        reason = next((str(e.get("reason") or "") for e in summary.errors if e.get("reason")), "")
        raise GradingError(
            f"every one of the {summary.overall.masked} samples failed for infrastructure reasons, none was graded"
            + (f" (e.g. {reason})" if reason else ""),
            hint="fix the cause, then rerun with --redo (masked results are kept otherwise)",
        )


if __name__ == "__main__":
    from codekiln.cli.common import run

    run(app)
