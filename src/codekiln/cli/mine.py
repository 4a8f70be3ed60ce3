"""`codekiln mine`: validated tasks from a repository's real history (commits and merged PRs).

    codekiln mine https://github.com/pytoolz/toolz --max-commits 300 --out out/toolz-history
    codekiln mine ./checkout --since 2024-01-01 --exclude swebench_ids.txt --split-date 2025-01-01 --out out/m
    codekiln mine ./checkout --statements model --model openai:NAME@http://HOST:8000/v1 --out out/m
    codekiln mine https://github.com/pytoolz/toolz --executor ray --ray-address 10.0.0.1:6379 --out out/t

Interrupt it at any time (even `kill -9`) and rerun the same command: it resumes where it stopped.
`--redo` starts the directory over. The funnel is printed at the end and kept in funnel.json.
"""

from __future__ import annotations

from pathlib import Path

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from codekiln.cli.common import EXECUTOR_HELP, RAY_ADDRESS_HELP, executor_config, nodes_table
from codekiln.cli.tasks import check_export
from codekiln.core.errors import ConfigError
from codekiln.models import make_model
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.history.mine import Funnel, MineConfig, MineResult
from codekiln.tasks.history.mine import mine as run_mine
from codekiln.tasks.validation.validate import ValidateConfig

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
console = Console()


def print_funnel(funnel: Funnel) -> None:
    """The funnel: commits -> candidates -> environment ok -> failing test found -> valid, and why not."""
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(funnel.skipped.items(), key=lambda kv: -kv[1]))
    console.print(
        f"[bold]funnel[/]: {funnel.commits} commits -> {funnel.candidates} candidates"
        f" ({skipped or 'none skipped'}) -> {funnel.tried} tried -> {funnel.env_ok} environment ok"
        f" -> {funnel.failing_test_found} failing test found -> [bold green]{funnel.validated} valid[/]"
    )
    console.print(
        f"environments: {funnel.environments} states, {funnel.env_builds} full builds and"
        f" {funnel.env_reused} on a shared venv this run; {funnel.deps_cutoff}"
    )
    if funnel.rejected:
        table = Table(title="rejected, by reason", title_justify="left")
        table.add_column("reason")
        table.add_column("candidates", justify="right")
        for reason, n in sorted(funnel.rejected.items(), key=lambda kv: -kv[1]):
            table.add_row(reason, str(n))
        console.print(table)


def mine(
    repo: str = typer.Argument(..., help="a git checkout, bare repository, git bundle or git URL"),
    out: Path = typer.Option(
        ..., "--out", "-o", help="output directory (tasks.jsonl, rejected.jsonl, funnel.json)"
    ),
    name: str = typer.Option("", help="the repository's name (default: from its origin remote or path)"),
    ref: str = typer.Option("", help="the branch to walk (default: the repository's default branch)"),
    since: str = typer.Option("", help="only changes after this date (e.g. 2024-01-01)"),
    until: str = typer.Option("", help="only changes before this date"),
    max_commits: int | None = typer.Option(None, help="walk at most this many first-parent commits"),
    max_tasks: int | None = typer.Option(None, "--max-tasks", "-n", help="stop after this many valid tasks"),
    exclude: Path | None = typer.Option(
        None, help="file of instances to leave out: SWE-bench ids (owner__name-N) or owner/name@SHA lines"
    ),
    split_date: str = typer.Option("", help="YYYY-MM-DD: changes from this date on form the test split"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend"),
    statements: str = typer.Option(
        "template",
        help="where the history's own text does not describe the problem: template, or model (the "
        "--model writes the issue, leak-checked, the template as fallback)",
    ),
    model_spec: str = typer.Option(
        "embedded", "--model", "-m", help="the model for --statements model (codekiln model list)"
    ),
    gate: str = typer.Option(
        "grader", help="grader: gold and empty patches graded for real; fast: in memory"
    ),
    redo: bool = typer.Option(False, "--redo", help="discard this directory's tasks and start over"),
    export: str = typer.Option("", help="also export the tasks: harbor, hf or swebench"),
    workers: int = typer.Option(1, help="changes decided at once (on Ray, 0: as many as the cluster admits)"),
    executor: str = typer.Option("local", help=EXECUTOR_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
) -> None:
    """Mine a repository's history into validated tasks (source: history; resumable)."""
    if statements not in ("template", "model"):
        raise ConfigError(f"unknown --statements {statements!r}", hint="--statements template|model")
    statement_model = model_spec if statements == "model" else ""
    try:
        config = MineConfig(
            repo=repo, out=out, name=name, ref=ref, since=since, until=until, max_commits=max_commits,
            max_tasks=max_tasks, exclude=exclude, split_date=split_date, backend=backend,
            validation=ValidateConfig.model_validate({"gate": gate}), statement_model=statement_model,
            workers=workers, executor=executor_config(executor, ray_address),
        )  # fmt: skip
    except ValidationError as err:
        raise ConfigError(f"bad option: {err.errors()[0]['msg']}", hint="see codekiln mine --help") from err
    check_export(export)
    # on Ray each worker makes its own instance from the spec
    model = make_model(statement_model) if statement_model and executor == "local" else None
    result: MineResult = run_mine(
        config,
        redo=redo,
        on_progress=lambda msg, f: console.print(f"[dim]{msg}[/]"),
        model=model,
        make_model=make_model,
    )
    print_funnel(result.funnel)
    if set(result.per_node) - {"local"}:
        console.print(nodes_table(result.per_node, "changes"))
    console.print(
        f"{result.tasks} tasks in {out / 'tasks.jsonl'} ({result.new_decisions} candidates decided now)"
    )
    if export:
        from codekiln.cli.tasks import export_tasks

        export_tasks(out, export)


app.command()(mine)

if __name__ == "__main__":
    from codekiln.cli.common import run

    run(app)
