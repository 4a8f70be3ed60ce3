"""`codekiln sri`: Search-and-Replace Infilling samples from real code, and their evaluation against FIM.

codekiln sri make pypi:toolz==1.2.0 --out sri/toolz --per-kind 20 --corrupt 0.5 --tokenizer smollm2
codekiln sri eval sri/toolz --model embedded --option max_tokens=300 --out sri/toolz/eval   # SRI and FIM, test split
codekiln sri tasks out/toolz --out midtrain/ --targets sri,diff --tokenizer smollm2    # tasks as PR-style rows

`make` writes samples.jsonl, sft-train.jsonl / sft-test.jsonl (chat rows with loss masks) and report.json
(see `codekiln.sri.data`); `eval` writes results.jsonl and summary.json (see `codekiln.sri.evaluate`);
`tasks` writes each task's fix as SEARCH/REPLACE and as `git diff` SFT rows (see `codekiln.sri.midtrain`).
Both resume where they stopped; `--redo` starts over.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codekiln.cli.common import parse_options
from codekiln.core.errors import ConfigError
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.sri.data import MakeConfig, make_samples
from codekiln.sri.evaluate import RESULTS, SUMMARY, SriResult, evaluate_samples
from codekiln.sri.midtrain import ROWS, Target, export_task_rows
from codekiln.sri.spans import KINDS

app = typer.Typer(no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console()


@app.callback()
def main() -> None:
    """Search-and-Replace Infilling: samples from real code, evaluation against FIM."""


@app.command()
def make(
    spec: str = typer.Argument(..., help="repository spec or env id, e.g. pypi:toolz==1.2.0"),
    out: Path = typer.Option(..., "--out", help="output directory"),
    kinds: str = typer.Option(",".join(KINDS), help="comma-separated span kinds"),
    per_kind: int = typer.Option(20, "--per-kind", min=1, help="samples drawn per kind"),
    corrupt: float = typer.Option(0.0, min=0.0, max=1.0, help="share of samples whose window is corrupted"),
    window: int = typer.Option(10, min=1, help="lines in the editable window"),
    context: int = typer.Option(60, min=0, help="lines shown above and below the window"),
    test_share: float = typer.Option(0.2, "--test-share", min=0.0, max=1.0, help="share of files held out"),
    seed: int = typer.Option(0),
    format: str = typer.Option("qwen3_coder", help="chat format of the SFT rows"),
    tokenizer: str = typer.Option("none", help="none, byte, smollm2 or a .gguf path (adds ids + loss mask)"),
    fim: str = typer.Option("starcoder", help="FIM family of the FIM rows (fim.jsonl)"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend (environment, coverage map)"),
    redo: bool = typer.Option(False, "--redo", help="start over instead of resuming"),
) -> None:
    """Draw SRI samples by kind from a repository's covered code; write samples and SFT rows."""
    names = [k.strip() for k in kinds.split(",") if k.strip()]
    unknown = [k for k in names if k not in KINDS]
    if unknown or not names:
        raise ConfigError(
            f"unknown span kinds: {', '.join(unknown) or '(none)'}", hint=f"use {', '.join(KINDS)}"
        )
    config = MakeConfig(
        spec=spec, out=out, kinds=names, per_kind=per_kind, corrupt=corrupt, window=window,  # type: ignore[arg-type]
        context_lines=context, test_share=test_share, seed=seed, format=format, tokenizer=tokenizer,
        fim=fim, backend=backend,
    )  # fmt: skip
    with Progress(console=console, transient=True) as bar:
        job = bar.add_task("sampling", total=None)
        report = make_samples(config, redo=redo, progress=lambda d, t: bar.update(job, completed=d, total=t))
    console.print(
        f"{report['samples']} samples ({report['corrupted']} corrupted) from {report['covered']} covered spans "
        f"of {report['repo']}: {report['per_split']} -> {out}"
    )
    console.print(f"per kind: {report['per_kind']}; dropped: {report['dropped']}")


def summary_table(summary: dict[str, Any]) -> Table:
    table = Table("mode", "kind", "n", "exact", "edit sim", "apply", "repair", "pass@1", "p50 s",
                  title=f"{summary['model']} (FIM family: {summary['fim']}), split {summary['split']}")  # fmt: skip

    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    for mode, data in summary["modes"].items():
        for kind, row in [("all", data["all"]), *data["per_kind"].items()]:
            table.add_row(
                mode, kind, str(row["n"]), pct(row["exact_match"]), f"{row['edit_similarity']:.3f}",
                pct(row["apply_rate"]), pct(row["repair_rate"]), pct(row["pass_at_1"]), f"{row['latency_p50_s']:.2f}",
            )  # fmt: skip
    return table


@app.command("eval")
def evaluate(
    samples: Path = typer.Argument(..., help="a `sri make` directory or its samples.jsonl"),
    out: Path = typer.Option(..., "--out", "-o", help="output directory (results.jsonl, summary.json)"),
    model: str = typer.Option("embedded", "--model", "-m", help="model spec (codekiln model list)"),
    option: list[str] = typer.Option([], "--option", help="model option key=value"),
    modes: str = typer.Option("sri,fim", help="sri, fim or both"),
    split: str = typer.Option("test", help="test, train or all"),
    fim: str | None = typer.Option(None, help="FIM family (default: the model's)"),
    execute: bool = typer.Option(True, help="run the covering tests on each predicted file"),
    limit: int | None = typer.Option(None, min=1, help="only the first N samples"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend"),
    redo: bool = typer.Option(False, "--redo", help="start over instead of resuming"),
) -> None:
    """Answer each sample as SRI and as FIM with one model; score by text and by execution (resumable)."""
    chosen = [m.strip() for m in modes.split(",") if m.strip()]
    if not chosen or any(m not in ("sri", "fim") for m in chosen) or split not in ("test", "train", "all"):
        raise ConfigError(
            f"bad --modes {modes!r} or --split {split!r}", hint="--modes sri,fim --split test|train|all"
        )
    columns = (TextColumn("[bold]answering[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        job = bar.add_task("answering", total=None)

        def on_result(result: SriResult, done: int, total: int) -> None:
            bar.update(job, completed=done, total=total)

        summary = evaluate_samples(
            samples, out, model=model, options=parse_options(option), modes=chosen,  # type: ignore[arg-type]
            split=split, fim=fim, execute=execute, limit=limit, backend=backend, redo=redo, progress=on_result,
        )  # fmt: skip
    console.print(summary_table(summary))
    console.print(f"-> {out / RESULTS}, {out / SUMMARY}")


@app.command()
def tasks(
    tasks: Path = typer.Argument(..., help="synth output directory or tasks .jsonl/.parquet"),
    out: Path = typer.Option(..., "--out", help="output directory (rows.jsonl, report.json)"),
    targets: str = typer.Option("sri,diff", help="sri, diff or both"),
    format: str = typer.Option("qwen3_coder", help="chat format of the rows"),
    tokenizer: str = typer.Option("none", help="none, byte, smollm2 or a .gguf path (adds ids + loss mask)"),
    redo: bool = typer.Option(False, "--redo", help="start over instead of resuming"),
) -> None:
    """Render every task's fix as SEARCH/REPLACE blocks and as a git diff: mid-training SFT rows."""
    chosen = [t.strip() for t in targets.split(",") if t.strip()]
    if not chosen or any(t not in ("sri", "diff") for t in chosen):
        raise ConfigError(f"bad --targets {targets!r}", hint="--targets sri,diff (or one of them)")
    picked = cast(list[Target], chosen)
    report = export_task_rows(tasks, out, targets=picked, format_name=format, tokenizer=tokenizer, redo=redo)
    console.print(
        f"{report['tasks']} tasks -> rows {report['rows']}, skipped {report['skipped']} -> {out / ROWS}"
    )
