"""`codekiln synth`: synthesize validated bug-fixing tasks from a repository, with a live display.

    codekiln synth pypi:toolz==1.2.0 --max-tasks 200 --out out/toolz
    codekiln synth ./my-project --mutators flip_comparison,off_by_one --workers 2 --out out/mine
    codekiln synth pypi:toolz==1.2.0 --strategies lm_modify,lm_rewrite,func_pm --model embedded --out out/lm
    codekiln synth pypi:toolz==1.2.0 --strategies lm_modify --model openai:NAME@http://127.0.0.1:8000/v1 \
        --concurrency 8 --lm-functions 200 --out out/lm
    codekiln synth pypi:toolz==1.2.0 --executor ray --ray-address 10.0.0.1:6379 --out out/toolz
    codekiln synth --repos repos.txt --executor ray --ray-address 10.0.0.1:6379 --out out/many

Interrupt it at any time (Ctrl-C, even `kill -9`) and rerun the same command: it resumes where it
stopped. A run that makes no task says why (also in funnel.json) and exits 1. `--redo` starts the directory over. Also runnable as `python -m codekiln.cli.synth ...`.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from codekiln.cli.common import EXECUTOR_HELP, RAY_ADDRESS_HELP, executor_config, nodes_table, parse_options
from codekiln.cli.tasks import check_export
from codekiln.core.errors import ConfigError
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.lm_bugs import LmConfig
from codekiln.tasks.quality import TaskFilter
from codekiln.tasks.synth import Funnel, SynthConfig, SynthProgress, SynthResult, synthesize
from codekiln.tasks.synth_repos import read_repo_list, synthesize_repos
from codekiln.tasks.synth_why import no_task_error
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
        head.add_row(
            f"rate [bold]{per_min(progress.rate_per_min)}[/] candidates/min", f"rejected: {rejected}"
        )
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
    if set(funnel.per_strategy) - {"func_pm"}:
        console.print(strategy_table(funnel))


def strategy_table(funnel: Funnel) -> Table:
    """The funnel per strategy: model calls -> parsed -> applied -> tried -> breaks a test -> valid."""
    table = Table(title="funnel per strategy", title_justify="left")
    cols = (
        "strategy",
        "model calls",
        "parsed",
        "applied",
        "tried",
        "breaks a test",
        "valid",
        "tokens",
        "tokens/valid",
    )
    for col in cols:
        table.add_column(col, justify="left" if col == "strategy" else "right")
    for name, f in sorted(funnel.per_strategy.items()):
        calls = (str(f.calls), str(f.parsed)) if name != "func_pm" else ("-", "-")
        per_valid = f"{f.tokens_per_valid:.0f}" if f.tokens_per_valid is not None else "-"
        cells = (
            *calls,
            str(f.applied),
            str(f.tried),
            str(f.breaks_test),
            str(f.valid),
            str(f.tokens),
            per_valid,
        )
        table.add_row(name, *cells)
    return table


def print_nodes(per_node: Counter[str]) -> None:
    """The per-node summary of a distributed run: batches each node validated ("lost": every try failed)."""
    console.print(nodes_table(per_node, "batches"))


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
        help="grader: gold and empty patches confirmed by the real grader, per batch with an audit "
        "(default); fast: in-memory check",
    ),
    audit: float = typer.Option(
        0.02,
        help="grader gate: share of the tasks graded for real as an audit, counted over the run "
        "(one of the first batch always; 1: every task)",
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
    strategies: str = typer.Option(
        "func_pm",
        help="comma-separated: func_pm (procedural mutators), lm_modify, lm_rewrite (model-written)",
    ),
    model: str = typer.Option(
        "embedded", "--model", "-m", help="model for lm_ strategies: embedded, openai:NAME@URL, scripted:FILE"
    ),
    option: list[str] = typer.Option(
        [], "--option", help="model backend option key=value (repeatable), e.g. retries=5"
    ),
    concurrency: int = typer.Option(4, help="model requests in flight at once"),
    combine: int = typer.Option(
        0, help="then validate this many pairs of valid bugs of different strategies in one file"
    ),
    statements: str = typer.Option(
        "template", help="template, or model: the --model writes each issue (leak-checked, template fallback)"
    ),
    lm_functions: int = typer.Option(20, help="functions sent to the model (0: every eligible one)"),
    functions: str = typer.Option(
        "",
        help="only these functions get bugs, from every strategy (comma-separated file::qualname or qualname)",
    ),
    lm_max_tokens: int = typer.Option(768, help="completion tokens per model call"),
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
            {
                "engine": engine,
                "gate": gate,
                "audit": audit,
                "visible_tests": visible_tests,
                "statements": statements,
            }
        )
    except ValidationError as err:
        raise ConfigError(
            f"bad --engine, --gate, --audit or --statements: {err.errors()[0]['msg']}",
            hint="--engine warm|fresh, --gate fast|grader, --audit in (0, 1], --statements template|model",
        ) from err
    check_export(export)
    if bool(spec) == (repos is not None):
        raise ConfigError("give one repository spec or --repos FILE", hint="codekiln synth SPEC --out DIR")
    quality = task_filter(allow_import_breakage, max_f2p_share, balance)
    try:
        lm = LmConfig(
            model=model, concurrency=concurrency, max_functions=lm_functions or None, max_tokens=lm_max_tokens,
        )  # fmt: skip
    except ValidationError as err:
        raise ConfigError(
            f"bad model-written bug option: {err.errors()[0]['msg']}", hint="see --help"
        ) from err
    config = SynthConfig(
        spec=spec, out=out, max_tasks=max_tasks, max_per_entity=1, seed=seed, workers=workers,
        mutators=[m.strip() for m in mutators.split(",") if m.strip()] or None, max_candidates=max_candidates,
        backend=backend, batch_size=batch_size, validation=validation, quality=quality, details=details,
        strategies=[s.strip() for s in strategies.split(",") if s.strip()], lm=lm,
        functions=[f.strip() for f in functions.split(",") if f.strip()] or None, combine=combine,
        executor=executor_config(executor, ray_address),
    )  # fmt: skip
    if repos is not None:
        if set(config.strategies) - {"func_pm"} or config.validation.statements == "model":
            raise ConfigError(
                "--repos runs procedural bugs with template statements for now",
                hint="run model-written bugs or statements one repository at a time: codekiln synth SPEC ...",
            )
        run_repos_with_display(read_repo_list(repos), config, redo=redo, export=export)
    else:
        run_with_display(config, redo=redo, export=export, model_options=parse_options(option))


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


LOG_EVERY_S = 30.0
"""Off a terminal (a log, a pipe, CI), how often a progress line is written within a throttled phase."""
THROTTLED = ("validating", "model calls")
"""Phases whose message changes with every candidate or call: logged every `LOG_EVERY_S` seconds."""


def per_min(rate: float) -> str:
    """A rate for the progress line: whole numbers from 10 up, one decimal below (a slow library's 0.4
    candidates a minute is not 0)."""
    return f"{rate:.0f}" if rate >= 10 else f"{rate:.1f}"


def progress_line(progress: SynthProgress, title: str) -> str:
    """One plain line of progress, for a log: the phase, and once validating the funnel so far."""
    f = progress.funnel
    line = f"codekiln synth {title}: {progress.phase}" + (f" {progress.message}" if progress.message else "")
    if progress.phase in ("validating", "done"):
        line += (
            f" | tried {f.tried}/{f.candidates}, tasks {f.validated}/{progress.target},"
            f" {per_min(progress.rate_per_min)} candidates/min"
        )
    return line


@contextmanager
def live_progress(title: str) -> Iterator[Callable[[SynthProgress], None]]:
    """A live display of synthesis progress under `title`; yields the `on_progress` hook that feeds it
    (validation updates are throttled to four a second, every other phase is shown at once). Off a
    terminal rich shows only the last frame, so a long run logged nothing for minutes: there a line is
    printed for each new step (phase and message) and, while validating, every `LOG_EVERY_S` seconds."""
    last = [0.0]
    if not console.is_terminal:
        step = [("", "")]

        def log(progress: SynthProgress) -> None:
            now = time.monotonic()
            key = (progress.phase, "" if progress.phase in THROTTLED else progress.message)
            if key != step[0] or progress.phase == "done" or now - last[0] >= LOG_EVERY_S:
                console.print(progress_line(progress, title), markup=False, highlight=False, soft_wrap=True)
                step[0], last[0] = key, now

        yield log
        return
    try:
        with Live(console=console, refresh_per_second=4, transient=False) as live:

            def show(progress: SynthProgress) -> None:
                now = time.monotonic()
                if progress.phase != "validating" or now - last[0] > 0.25:
                    live.update(render(progress, title))
                    last[0] = now

            yield show
    finally:
        if not console.is_terminal:  # rich ends its last frame with no newline there (a log, a pipe)
            console.line()


def run_repos_with_display(
    specs: list[str], config: SynthConfig, *, redo: bool = False, export: str = ""
) -> None:
    """`synthesize_repos` with the live display, then the funnel per repository and in total."""
    with live_progress(f"{len(specs)} repositories") as show:
        result = synthesize_repos(specs, config, redo=redo, on_progress=show)
    table = Table(title="funnel per repository", title_justify="left")
    for col in ("repository", "candidates", "tried", "tasks"):
        table.add_column(col, justify="left" if col == "repository" else "right")
    for name, f in [*result.funnel.repos.items(), ("total", result.funnel)]:
        table.add_row(name, str(f.candidates), str(f.tried), str(f.validated))
    console.print(table)
    for spec, why in result.funnel.failed.items():
        console.print(f"[red]environment failed[/] {spec}: {why}")
    for name, f in result.funnel.repos.items():
        if f.no_tasks:
            console.print(f"[yellow]no task[/] from {name}: {f.no_tasks} ({f.no_tasks_hint})")
    if result.per_node and set(result.per_node) != {"local"}:
        print_nodes(result.per_node)
    console.print(
        f"{result.funnel.validated} tasks in {config.out / 'tasks.jsonl'} "
        f"({result.new_decisions} candidates decided in {result.seconds:.0f} s)"
    )
    if export:
        from codekiln.cli.tasks import export_tasks

        export_tasks(config.out, export)


def run_with_display(
    config: SynthConfig, *, redo: bool = False, export: str = "", model_options: dict[str, Any] | None = None
) -> SynthResult:
    """`synthesize` with the live display, then the funnel printed (what `codekiln synth` does). The
    model for the lm_ strategies is built from `config.lm.model` and `model_options`."""
    model = None
    if set(config.strategies) - {"func_pm"} or config.validation.statements == "model":
        from codekiln.models import make_model

        model = make_model(config.lm.model, **(model_options or {}))
    with live_progress(config.spec) as show:
        result = synthesize(config, redo=redo, on_progress=show, model=model)
    print_funnel(result.funnel)
    if result.per_node and set(result.per_node) != {"local"}:
        print_nodes(result.per_node)
    console.print(
        f"{result.tasks} tasks in {config.out / 'tasks.jsonl'} "
        f"({result.new_decisions} candidates decided in {result.seconds:.0f} s)"
    )
    error = no_task_error(result.funnel, Path(config.out), config.spec, result.tasks)
    if error is not None:
        raise error
    if export:
        from codekiln.cli.tasks import export_tasks

        export_tasks(config.out, export)
    return result


if __name__ == "__main__":
    from codekiln.cli.common import run

    run(app)
