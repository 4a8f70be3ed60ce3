"""`codekiln rollout`: run an agent on tasks in N-sample groups, grade and reward every episode, resumably.

    codekiln rollout --tasks out/toolz --model embedded --scaffold swe --format qwen3_coder --n 4 --out runs/r1
    codekiln rollout --tasks out/toolz --model oracle --out runs/oracle      # must resolve every valid task
    codekiln rollout --tasks out/toolz --model noop --out runs/noop          # must resolve none
    codekiln rollout --tasks out/toolz --model openai:NAME@http://HOST:8000/v1 --executor ray \
        --ray-address 10.0.0.1:6379 --out runs/r2                            # episodes as Ray tasks
    codekiln rollout export runs/r1 --to atif --out runs/r1/atif             # or --to mini

Interrupt it at any time (Ctrl-C, even `kill -9`) and rerun the same command: finished episodes are kept
and interrupted ones restart. It ends with `resolved: X/Y` (X resolved of Y graded episodes;
infrastructure failures are masked and counted apart). Also `python -m codekiln.cli.rollout ...`.
"""

from __future__ import annotations

import time
import typing
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codekiln.cli.common import (
    EXECUTOR_HELP,
    RAY_ADDRESS_HELP,
    executor_config,
    flagged_options,
    nodes_table,
    parse_options,
)
from codekiln.core.errors import ConfigError
from codekiln.rewards import RewardConfig
from codekiln.rollouts.engine import RolloutConfig, RolloutStats, run_rollouts
from codekiln.rollouts.export import EXPORTERS, export_rollouts
from codekiln.rollouts.outdir import load_rollouts
from codekiln.sandbox import DEFAULT_BACKEND

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, invoke_without_command=True)
# Model settings with their own flag: `--option` may not set them too (see `flagged_options`).
ROLLOUT_FLAGS = {"temperature": "--temperature", "format": "--format", "seed": "--seed"}
console = Console()


def run_with_progress(config: RolloutConfig, redo: bool) -> RolloutStats:
    """Run the rollouts under a live progress bar: episodes done, resolved so far, steps/s."""
    columns = (
        TextColumn("[bold]rollouts[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("resolved [green]{task.fields[resolved]}[/]/{task.fields[graded]}"),
        TextColumn("masked {task.fields[masked]}"),
        TextColumn("{task.fields[rate]:.1f} steps/s"),
        TimeElapsedColumn(),
    )
    last = [0.0]
    with Progress(*columns, console=console, transient=False) as progress:
        bar = progress.add_task("rollouts", total=None, resolved=0, graded=0, masked=0, rate=0.0)

        def show(stats: RolloutStats) -> None:
            now = time.monotonic()
            if now - last[0] < 0.2 and stats.done < stats.total:
                return
            last[0] = now
            progress.update(
                bar, total=stats.total, completed=stats.done, resolved=stats.resolved,
                graded=stats.graded, masked=stats.masked, rate=stats.steps_per_s,
            )  # fmt: skip

        stats = run_rollouts(config, redo=redo, on_progress=show)
        show(stats)
    return stats


def reward_config(outcome: str) -> RewardConfig:
    """`--reward` as a RewardConfig; a bad value names --reward (its field is `outcome`)."""
    choices = typing.get_args(RewardConfig.model_fields["outcome"].annotation)
    if outcome not in choices:
        raise ConfigError(f"bad value for --reward {outcome!r}", hint=f"--reward {'|'.join(choices)}")
    return RewardConfig.model_validate({"outcome": outcome})


@app.callback()
def rollout(
    ctx: typer.Context,
    tasks: Path | None = typer.Option(None, "--tasks", "-t", help="synth output directory or tasks .jsonl"),
    out: Path | None = typer.Option(None, "--out", "-o", help="output directory (rollouts.jsonl, episodes/)"),
    model: str = typer.Option(
        "embedded", "--model", "-m", help="model spec (see `codekiln model list`), oracle or noop"
    ),
    option: list[str] = typer.Option(
        [], "--option", help="backend option key=value (repeatable; dotted keys nest) or a YAML file of them"
    ),
    scaffold: str = typer.Option("swe", help="agent scaffold: swe, mini or terminus"),
    format: str | None = typer.Option(None, "--format", "-f", help="chat format (default: the backend's)"),
    n: int = typer.Option(1, "--n", "-n", help="samples per task (one GRPO group)"),
    workers: int = typer.Option(1, help="episodes at once (sandbox slots; on Ray the cap in flight)"),
    max_turns: int = typer.Option(50, help="model calls per episode"),
    temperature: float = typer.Option(1.0, help="sampling temperature"),
    seed: int = typer.Option(0, help="base seed; each (task, sample) derives its own"),
    limit: int | None = typer.Option(None, help="use only the first LIMIT tasks"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend"),
    reward: str = typer.Option("resolved", help="outcome term of the reward: resolved or graded"),
    redo: bool = typer.Option(False, "--redo", help="discard this directory's rollouts and start over"),
    executor: str = typer.Option("local", help=EXECUTOR_HELP),
    ray_address: str | None = typer.Option(None, "--ray-address", help=RAY_ADDRESS_HELP),
) -> None:
    """Run an agent on tasks x N samples; grade, reward and save every episode (resumable)."""
    if ctx.invoked_subcommand is not None:
        return
    if tasks is None or out is None:
        raise ConfigError("codekiln rollout needs --tasks and --out", hint="see codekiln rollout --help")
    config = RolloutConfig(
        tasks=tasks, out=out, model=model, scaffold=scaffold,
        model_options=flagged_options(parse_options(option), ROLLOUT_FLAGS),
        format=format, n=n, workers=workers, max_turns=max_turns, temperature=temperature, seed=seed,
        limit=limit, backend=backend, reward=reward_config(reward),
        executor=executor_config(executor, ray_address),
    )  # fmt: skip
    stats = run_with_progress(config, redo)
    new = stats.done - stats.resumed
    console.print(
        f"{stats.done}/{stats.total} episodes ({stats.resumed} from earlier runs, {new} new) in {out}"
    )
    if set(stats.per_node) - {"local"}:
        console.print(nodes_table(stats.per_node, "episodes"))
    if stats.masked:
        console.print(f"masked (infrastructure failures, not scored): {stats.masked}")
    for line in stats.errors:
        console.print(f"[red]failed[/]: {line}")
    typer.echo(stats.summary_line())
    if stats.infra_cause:
        console.print(
            f"[red]error:[/] every episode of this run failed for the same infrastructure reason: "
            f"{stats.infra_cause}\n  hint: fix it, then rerun with --redo (masked episodes are not redone otherwise)"
        )
    if stats.errors or stats.infra_cause:
        raise typer.Exit(1)


@app.command("export")
def export(
    rollouts: Path = typer.Argument(..., help="a rollout output directory or rollouts.jsonl"),
    to: str = typer.Option(..., "--to", help=f"trajectory format: {', '.join(EXPORTERS)}"),
    out: Path = typer.Option(..., "--out", "-o", help="directory for the exported files"),
) -> None:
    """Export rollouts as mini-swe-agent or ATIF (Harbor) trajectory files."""
    paths = export_rollouts(load_rollouts(rollouts), to, out)
    console.print(f"{len(paths)} {to} trajectories in {out}")


if __name__ == "__main__":
    from codekiln.cli.common import run

    run(app)
