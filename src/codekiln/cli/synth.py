"""`codekiln synth`: synthesize validated bug-fixing tasks from a repository, with a live display.

    codekiln synth pypi:toolz==1.2.0 --max-tasks 200 --out out/toolz
    codekiln synth ./my-project --mutators flip_comparison,off_by_one --workers 2 --out out/mine
    codekiln synth pypi:toolz==1.2.0 --executor ray --ray-address 10.0.0.1:6379 --out out/toolz
    codekiln synth --repos repos.txt --executor ray --ray-address 10.0.0.1:6379 --out out/many

Interrupt it at any time (Ctrl-C, even `kill -9`) and rerun the same command: it resumes where it
stopped. `--redo` starts the directory over. Also runnable as `python -m codekiln.cli.synth ...`.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from codekiln.cli.common import EXECUTOR_HELP, RAY_ADDRESS_HELP, executor_config
from codekiln.core.errors import ConfigError
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.quality import TaskFilter
from codekiln.tasks.synth import Funnel, SynthConfig, SynthProgress, SynthResult, synthesize
from codekiln.tasks.synth_repos import read_repo_list, synthesize_repos
from codekiln.tasks.validation.validate import ValidateConfig

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
console = Console()


def mutator_table(funnel: Funnel, title: str = "yield per mutator") -> Table:
    table = Table(title=title, title_justify="left")
    for col in ("mutator", "tried", "validated", "yield"):
        table.add_column(col, justify="left" if col == "mutator" else "right")
    for name, (tried, ok) in sorted(funnel.per_mutator.items(), key=lambda kv: -kv[1][0]):
        table.add_row(name, str(tried), str(ok), f"{100 * ok / tried:.0f}%" if tried else "-")
    return table


def reason_table(funnel: Funnel) -> Table:
    table = Table(title="rejected, by reason", title_justify="left")
    table.add_column("reason")
    table.add_column("candidates", justify="right")
    for reason, n in sorted(funnel.rejected.items(), key=lambda kv: -kv[1]):
        table.add_row(reason, str(n))
    return table


def render(progress: SynthProgress, spec: str) -> Group:
    f = progress.funnel
    head = Table.grid(padding=(0, 2))
    head.add_row(f"[bold]codekiln synth[/] {spec}", f"[dim]{progress.phase}[/] {progress.message}")
    if progress.phase in ("validating", "done"):
        rejected = (
            ", ".join(f"{k} {v}" for k, v in sorted(f.rejected.items(), key=lambda kv: -kv[1])) or "none"
        )
        head.add_row(
            f"candidates tried [bold]{f.tried}[/] / {f.candidates}",
            f"validated [bold green]{f.validated}[/] / {progress.target}",
        )
        head.add_row(f"rate [bold]{progress.rate_per_min:.0f}[/] candidates/min", f"rejected: {rejected}")
        return Group(head, mutator_table(f))
    return Group(head)


def print_funnel(funnel: Funnel) -> None:
    share = f" ({100 * funnel.validated / funnel.tried:.1f}% of those tried)" if funnel.tried else ""
    skipped = sum(funnel.skipped_mutations.values())
    console.print(
        f"[bold]funnel[/]: {funnel.entities} entities -> {funnel.candidates} candidates"
        f" ({skipped} mutations skipped) -> {funnel.tried} tried -> [bold green]{funnel.validated} tasks[/]{share}"
    )
    console.print(mutator_table(funnel))
    if funnel.rejected:
        console.print(reason_table(funnel))


def print_nodes(per_node: Counter[str]) -> None:
    """The per-node summary of a distributed run: batches each node validated ("lost": every try failed)."""
    table = Table(title="batches per node", title_justify="left")
    table.add_column("node")
    table.add_column("batches", justify="right")
    for node, n in sorted(per_node.items(), key=lambda kv: -kv[1]):
        table.add_row(node, str(n))
    console.print(table)


@app.command()
def synth(
    spec: str = typer.Argument("", help="pypi:NAME==VERSION, a git URL or a local directory"),
    out: Path = typer.Option(
        ..., "--out", "-o", help="output directory (tasks.jsonl, rejected.jsonl, funnel.json)"
    ),
    max_tasks: int = typer.Option(100, "--max-tasks", "-n", help="stop after this many validated tasks"),
    seed: int = typer.Option(0, help="seeds mutation sites and candidate order"),
    workers: int = typer.Option(0, help="parallel sandboxes (0: one per CPU core)"),
    mutators: str = typer.Option("", help="comma-separated mutator names (default: all)"),
    max_candidates: int | None = typer.Option(None, help="try at most this many candidates"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend"),
    engine: str = typer.Option(
        "warm", help="warm (forked runs from one pytest session) or fresh (a process per run)"
    ),
    gate: str = typer.Option(
        "grader",
        help="grader: grade gold and empty patches with the real grader (default); fast: in-memory check",
    ),
    batch_size: int = typer.Option(
        32, help="candidates per batch (the unit of work per worker, and of what is written at once)"
    ),
    visible_tests: bool = typer.Option(
        False,
        "--visible-tests",
        help="SWE-bench style: keep the failing tests in the agent's workspace and name them in the statement",
    ),
    allow_import_breakage: bool = typer.Option(
        False, "--allow-import-breakage", help="keep tasks whose bug breaks the package at import"
    ),
    max_f2p_share: float | None = typer.Option(
        None, help="drop tasks failing more than this share (0-1) of their selected tests"
    ),
    balance: str = typer.Option("", help="spread the tasks evenly across mutators or levels: mutator|level"),
    details: bool = typer.Option(
        False, "--details", help="also keep every decision's full test statuses in details.jsonl"
    ),
    redo: bool = typer.Option(False, "--redo", help="discard this directory's tasks and start over"),
    export: str = typer.Option("", help="also export the tasks: harbor, hf or swebench"),
    executor: str = typer.Option("local", help=EXECUTOR_HELP),
    ray_address: str = typer.Option("", help=RAY_ADDRESS_HELP),
    repos: Path | None = typer.Option(
        None, "--repos", help="a file of specs, one per line: synthesize them all into one dataset"
    ),
) -> None:
    """Synthesize and validate bug-fixing tasks from a real repository (resumable)."""
    try:
        validation = ValidateConfig.model_validate(
            {"engine": engine, "gate": gate, "visible_tests": visible_tests}
        )
    except ValidationError as err:
        raise ConfigError(
            f"bad --engine or --gate: {err.errors()[0]['msg']}",
            hint="--engine warm|fresh, --gate fast|grader",
        ) from err
    if bool(spec) == (repos is not None):
        raise ConfigError("give one repository spec or --repos FILE", hint="codekiln synth SPEC --out DIR")
    quality = task_filter(allow_import_breakage, max_f2p_share, balance)
    config = SynthConfig(
        spec=spec, out=out, max_tasks=max_tasks, max_per_entity=1, seed=seed, workers=workers,
        mutators=[m.strip() for m in mutators.split(",") if m.strip()] or None, max_candidates=max_candidates,
        backend=backend, batch_size=batch_size, validation=validation, quality=quality, details=details,
        executor=executor_config(executor, ray_address),
    )  # fmt: skip
    if repos is not None:
        run_repos_with_display(read_repo_list(repos), config, redo=redo, export=export)
    else:
        run_with_display(config, redo=redo, export=export)


def task_filter(allow_import_breakage: bool, max_f2p_share: float | None, balance: str) -> TaskFilter:
    """The `--allow-import-breakage`, `--max-f2p-share` and `--balance` options as a `TaskFilter`."""
    try:
        return TaskFilter.model_validate(
            {"allow_import_breakage": allow_import_breakage, "max_f2p_share": max_f2p_share,
             "balance": balance or None}
        )  # fmt: skip
    except ValidationError as err:
        raise ConfigError(
            f"bad quality option: {err.errors()[0]['msg']}",
            hint="--max-f2p-share takes 0 to 1; --balance takes mutator, level, source or files",
        ) from err


def run_repos_with_display(
    specs: list[str], config: SynthConfig, *, redo: bool = False, export: str = ""
) -> None:
    """`synthesize_repos` with the live display, then the funnel per repository and in total."""
    last = [0.0]
    title = f"{len(specs)} repositories"
    with Live(console=console, refresh_per_second=4, transient=False) as live:

        def show(progress: SynthProgress) -> None:
            now = time.monotonic()
            if progress.phase != "validating" or now - last[0] > 0.25:
                live.update(render(progress, title))
                last[0] = now

        result = synthesize_repos(specs, config, redo=redo, on_progress=show)
    table = Table(title="funnel per repository", title_justify="left")
    for col in ("repository", "candidates", "tried", "tasks"):
        table.add_column(col, justify="left" if col == "repository" else "right")
    for name, f in [*result.funnel.repos.items(), ("total", result.funnel)]:
        table.add_row(name, str(f.candidates), str(f.tried), str(f.validated))
    console.print(table)
    for spec, why in result.funnel.failed.items():
        console.print(f"[red]environment failed[/] {spec}: {why}")
    if set(result.per_node) != {"local"}:
        print_nodes(result.per_node)
    console.print(
        f"{result.funnel.validated} tasks in {config.out / 'tasks.jsonl'} "
        f"({result.new_decisions} candidates decided in {result.seconds:.0f} s)"
    )
    if export:
        from codekiln.cli.tasks import export_tasks

        export_tasks(config.out, export)


def run_with_display(config: SynthConfig, *, redo: bool = False, export: str = "") -> SynthResult:
    """`synthesize` with the live display, then the funnel printed (what `codekiln synth` does)."""
    last = [0.0]
    with Live(console=console, refresh_per_second=4, transient=False) as live:

        def show(progress: SynthProgress) -> None:
            now = time.monotonic()
            if progress.phase != "validating" or now - last[0] > 0.25:
                live.update(render(progress, config.spec))
                last[0] = now

        result = synthesize(config, redo=redo, on_progress=show)
    print_funnel(result.funnel)
    if set(result.per_node) != {"local"}:
        print_nodes(result.per_node)
    console.print(
        f"{result.tasks} tasks in {config.out / 'tasks.jsonl'} "
        f"({result.new_decisions} candidates decided in {result.seconds:.0f} s)"
    )
    if export:
        from codekiln.cli.tasks import export_tasks

        export_tasks(config.out, export)
    return result


if __name__ == "__main__":
    from codekiln.cli.common import run

    run(app)
