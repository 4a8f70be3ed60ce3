"""`codekiln thirdparty`: run scaffolds codekiln did not write on codekiln tasks, graded like its own.

    codekiln thirdparty mini-swe-agent --tasks out/toolz --out runs/mini --model oracle     # resolves all
    codekiln thirdparty mini-swe-agent --tasks out/toolz --out runs/mini --model embedded --n 2
    codekiln thirdparty mini-swe-agent ... --config mini.yaml       # another of mini-swe-agent's configs

The real mini-swe-agent package (`pip install 'codekiln[thirdparty]'`) runs unchanged with its own prompts;
its commands run in codekiln's sandbox and its model calls go through codekiln's interception proxy to the
`--model` backend (see `codekiln.rollouts.thirdparty`). Rollouts land in OUT/rollouts.jsonl, the same
records `codekiln rollout` writes, so `codekiln rollout export`, `eval` and `report` read them. Rerun the
same command to resume: finished (task, sample) pairs are skipped. Ends with `resolved: X/Y`.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codekiln.cli.common import parse_options
from codekiln.rewards import RewardConfig, summarize
from codekiln.rollouts.engine import finished_pairs, read_rollouts
from codekiln.rollouts.records import Rollout
from codekiln.rollouts.thirdparty import DEFAULT_CONFIG, run_mini_rollouts
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks import load_tasks

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
console = Console()


@app.callback()
def thirdparty() -> None:
    """Run third-party agent scaffolds on codekiln tasks (their model calls recorded by codekiln's proxy)."""


@app.command("mini-swe-agent")
def mini_swe_agent(
    tasks: Path = typer.Option(..., "--tasks", "-t", help="synth output directory or tasks .jsonl"),
    out: Path = typer.Option(..., "--out", "-o", help="output directory (rollouts.jsonl, episodes/)"),
    model: str = typer.Option(
        "embedded", "--model", "-m", help="model spec (see `codekiln model list`), oracle or noop"
    ),
    option: list[str] = typer.Option(
        [], "--option", help="backend option key=value (repeatable; dotted keys nest) or a YAML file of them"
    ),
    config: str = typer.Option(DEFAULT_CONFIG, help="mini-swe-agent config: a builtin name or a YAML path"),
    n: int = typer.Option(1, "--n", "-n", help="samples per task"),
    max_turns: int = typer.Option(50, help="model calls per episode (mini's step_limit)"),
    limit: int | None = typer.Option(None, help="use only the first LIMIT tasks"),
    seed: int = typer.Option(0, help="base seed; each (task, sample) derives its own"),
    backend: str = typer.Option(DEFAULT_BACKEND, help="sandbox backend"),
    reward: str = typer.Option("resolved", help="outcome term of the reward: resolved or graded"),
    redo: bool = typer.Option(False, "--redo", help="discard this directory's rollouts and start over"),
) -> None:
    """Run the real mini-swe-agent on tasks x N samples through codekiln's proxy and sandbox."""
    todo = [t for t in load_tasks(tasks)[:limit] for s in range(n)]
    earlier = 0 if redo else len(finished_pairs(out))
    done: list[Rollout] = []
    columns = (TextColumn("[bold]mini-swe-agent[/]"), BarColumn(), MofNCompleteColumn(),
               TextColumn("resolved [green]{task.fields[resolved]}[/]"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("episodes", total=len(todo), completed=earlier, resolved=0)

        def on_done(rollout: Rollout) -> None:
            done.append(rollout)
            resolved = sum(r.reward.resolved and not r.reward.masked for r in done)
            progress.update(bar, advance=1, resolved=resolved)

        run_mini_rollouts(
            tasks, out, model, n=n, limit=limit, seed=seed, redo=redo, on_done=on_done, config=config,
            max_turns=max_turns, backend=backend, model_options=parse_options(option),
            reward=RewardConfig.model_validate({"outcome": reward}),
        )  # fmt: skip
    stats = summarize([r.reward for r in read_rollouts(out)])
    console.print(f"{len(done)} new episodes in {out} ({earlier} from earlier runs)")
    if stats["masked"]:
        console.print(f"masked (infrastructure failures, not scored): {stats['masked']}")
    typer.echo(f"resolved: {stats['resolved']}/{stats['graded']}")
