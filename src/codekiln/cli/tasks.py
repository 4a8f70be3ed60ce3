"""`codekiln tasks`: look at the tasks a synthesis run produced.

codekiln tasks list out/toolz                 # one row per task
codekiln tasks show out/toolz toolz.2fbed4f0.flip_comparison__1a2b3c4d5e
codekiln tasks stats out/toolz                # the funnel; the last line is "N tasks valid"
codekiln tasks export out/toolz --format harbor   # or hf (parquet), swebench (rows + a git repo of buggy commits)
codekiln tasks export out/toolz --max-f2p-share 0.5 --balance mutator --limit 50
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.syntax import Syntax
from rich.table import Table

from codekiln.core.errors import ConfigError, TaskError
from codekiln.tasks import load_tasks, valid_tasks
from codekiln.tasks.quality import TaskFilter, mix, select_tasks
from codekiln.tasks.synth import read_funnel

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()


@app.command("list")
def list_cmd(out: Path = typer.Argument(..., help="a synth output directory or tasks.jsonl")) -> None:
    """One row per task."""
    tasks = load_tasks(out, allow_empty=True)
    table = Table()
    for col in ("instance_id", "mutators", "F2P", "P2P", "difficulty", "hidden tests"):
        table.add_column(
            col, justify="right" if col in ("F2P", "P2P") else "left", no_wrap=col == "instance_id"
        )
    for t in tasks:
        level = t.difficulty.level if t.difficulty else "-"
        table.add_row(
            t.instance_id,
            ",".join(t.mutators),
            str(len(t.FAIL_TO_PASS)),
            str(len(t.PASS_TO_PASS)),
            level,
            ", ".join(t.hidden_tests),
        )
    console.print(table)
    console.print(f"{len(tasks)} tasks")


@app.command()
def show(
    out: Path = typer.Argument(..., help="a synth output directory or tasks.jsonl"),
    task_id: str = typer.Argument(..., help="instance id, candidate id, or a unique prefix of either"),
) -> None:
    """Everything about one task: statement, gold patch, tests."""
    tasks = load_tasks(out, allow_empty=True)
    hits = [t for t in tasks if t.instance_id == task_id or t.candidate_id == task_id]
    hits = hits or [
        t for t in tasks if t.instance_id.startswith(task_id) or (t.candidate_id or "").startswith(task_id)
    ]
    if len(hits) != 1:
        raise TaskError(
            f"{len(hits)} tasks match {task_id!r}", hint="`codekiln tasks list DIR` shows the ids"
        )
    t = hits[0]
    console.print(
        f"[bold]{t.instance_id}[/]  repo {t.repo}  snapshot {t.base_commit}  env {t.environment_id}"
    )
    console.print(f"mutators: {', '.join(t.mutators)}  entities: {', '.join(t.entities)}")
    if t.difficulty:
        d = t.difficulty
        console.print(
            f"difficulty: {d.level} ({d.lines_changed} lines, {d.hunks} hunks, {d.n_fail_to_pass} failing tests)"
        )
    console.print(f"hidden tests: {', '.join(t.hidden_tests) or '-'}")
    console.rule("problem statement")
    console.print(t.problem_statement, markup=False, highlight=False)
    console.rule("gold patch")
    console.print(Syntax(t.patch, "diff", theme="ansi_dark"))
    console.rule(f"FAIL_TO_PASS ({len(t.FAIL_TO_PASS)})")
    for test in t.FAIL_TO_PASS:
        console.print(f"  {test}", markup=False, highlight=False)
    console.print(f"PASS_TO_PASS: {len(t.PASS_TO_PASS)} tests")


@app.command()
def stats(out: Path = typer.Argument(..., help="a synth output directory")) -> None:
    """The funnel of a synthesis run. The last line is `N tasks valid`."""
    tasks = load_tasks(out, allow_empty=True)
    funnel = read_funnel(out)
    from codekiln.cli.synth import print_funnel

    print_funnel(funnel)
    if funnel.no_tasks and not tasks:
        console.print(f"no task: {funnel.no_tasks}\n  hint: {funnel.no_tasks_hint}", highlight=False)
    if tasks:
        console.print(mix_table(mix(tasks)))
    f2p = sorted(len(t.FAIL_TO_PASS) for t in tasks)
    if f2p:
        console.print(f"FAIL_TO_PASS per task: median {f2p[len(f2p) // 2]}, max {f2p[-1]}")
    console.print(f"{len(valid_tasks(tasks))} tasks valid", highlight=False)


def mix_table(table_mix: dict[str, dict[str, int]]) -> Table:
    """The difficulty mix (`quality.mix`): one row per feature, its values with their task counts."""
    table = Table(title="difficulty mix (tasks)", title_justify="left")
    table.add_column("feature")
    table.add_column("tasks per value")
    for feature, counts in table_mix.items():
        table.add_row(feature, ", ".join(f"{k} {v}" for k, v in counts.items()))
    return table


EXPORT_FORMATS = ("harbor", "hf", "swebench")


def check_export(fmt: str) -> None:
    """Refuse an unknown `--export` format before synthesis or mining runs (it was found after)."""
    if fmt and fmt not in EXPORT_FORMATS:
        raise ConfigError(f"unknown export format {fmt!r}", hint=f"choose {', '.join(EXPORT_FORMATS)}")


def export_tasks(out: Path, fmt: str, flt: TaskFilter | None = None, limit: int | None = None) -> Path:
    """Export a directory's tasks as Harbor task folders, a Hugging Face parquet dataset or SWE-bench
    rows: the valid ones `flt` keeps (import breakage kept unless a filter says otherwise), balanced."""
    from codekiln.tasks import export_harbor, export_swebench_bundle, write_parquet_dataset

    check_export(fmt or "?")
    tasks = valid_tasks(load_tasks(out, allow_empty=True))
    if flt is not None or limit is not None:
        tasks = select_tasks(tasks, flt or TaskFilter(allow_import_breakage=True), limit)
    skipped: dict[str, list[str]] = {}
    if fmt == "harbor":
        target = Path(out) / "harbor"
        export_harbor(tasks, target)
    elif fmt == "hf":
        target = write_parquet_dataset(tasks, Path(out) / "hf", skipped=skipped)
    else:
        target = export_swebench_bundle(tasks, Path(out) / "swebench", skipped=skipped)
    left = sum(len(ids) for ids in skipped.values())
    for reason, ids in sorted(skipped.items()):
        console.print(
            f"[yellow]warning:[/] {len(ids)} tasks left out of the {fmt} export ({reason}: "
            f"{EXPORT_SKIPS.get(reason, reason)}), e.g. {ids[0]}",
            highlight=False,
        )
    console.print(f"exported {len(tasks) - left} tasks to {target}")
    return target


EXPORT_SKIPS = {
    "not_utf8": "a patch holds bytes of a file that is not UTF-8, which a parquet string cannot hold; "
    "export them with --format swebench or harbor",
    "ambiguous_test_ids": "two test ids differ only by an object's address, which no test log tells apart",
    "graded_doctests": "FAIL_TO_PASS holds doctests of library modules, whose examples the harness's eval "
    "script cannot check a fix left alone; export them with --format harbor",
}


@app.command()
def export(
    out: Path = typer.Argument(..., help="a synth output directory"),
    fmt: str = typer.Option(
        "swebench",
        "--format",
        "-f",
        help="harbor, hf (parquet) or swebench (rows for swebench 5's harness + repos/*.git)",
    ),
    allow_import_breakage: bool = typer.Option(
        False, "--allow-import-breakage", help="keep tasks whose bug breaks the package at import"
    ),
    max_f2p_share: float | None = typer.Option(
        None, help="leave out tasks failing more than this share (0-1) of their selected tests"
    ),
    balance: str = typer.Option("", help="spread the tasks evenly across mutator, level, source or files"),
    limit: int | None = typer.Option(None, help="export at most this many tasks (balanced round-robin)"),
) -> None:
    """Export the tasks for other tools. Tasks whose bug breaks the package at import are left out
    unless `--allow-import-breakage`."""
    from codekiln.cli.synth import task_filter

    if out.is_file():  # it would have written OUT/hf/... beside nothing, and failed naming that path
        raise ConfigError(
            f"{out} is a file: tasks export reads a synth output directory and writes the export into it",
            hint="give the --out directory of codekiln synth or codekiln mine (DIR/tasks.jsonl inside)",
        )
    export_tasks(out, fmt, task_filter(allow_import_breakage, max_f2p_share, balance), limit)
