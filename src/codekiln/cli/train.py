"""`codekiln train grpo`: GRPO (or GSPO) on codekiln tasks with TRL, real sandboxes and real rewards.

    codekiln train grpo --tasks out/toolz --out runs/grpo --steps 2 --group-size 4
    codekiln train grpo --tasks curriculum/ --out runs/gspo --gspo --max-turns 8 --max-tokens 256

Each step plays GROUP-SIZE episodes per task with the model being trained (the agent loop in a sandbox
of the task, graded in a fresh one), then takes one optimizer step. Writes OUT/rollouts.jsonl (every
episode, as it finishes), OUT/result.json and the trained model in OUT/model. See
`codekiln.training.trl_env`; for GPUs and vLLM, docs/gpu_recipe.md.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from codekiln.core.records import atomic_write_json
from codekiln.rewards import RewardConfig

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, no_args_is_help=True)
console = Console()


@app.callback()
def train() -> None:
    """RL training on codekiln tasks (GRPO / GSPO with TRL)."""


@app.command()
def grpo(
    tasks: Path = typer.Option(
        ..., "--tasks", help="a synth output directory or a tasks .jsonl/.parquet file"
    ),
    out: Path = typer.Option(..., "--out", "-o", help="output directory"),
    model: str = typer.Option(
        "embedded-torch", help="embedded-torch (SmolLM2-135M in torch) or a HF model dir"
    ),
    steps: int = typer.Option(2, min=1, help="optimizer steps"),
    group_size: int = typer.Option(4, min=2, help="rollouts per task (one GRPO group)"),
    tasks_per_step: int = typer.Option(1, min=1, help="task groups per step"),
    scaffold: str = typer.Option("mini", help="agent scaffold: mini, swe, terminus or package.module:Class"),
    format: str = typer.Option("hermes", "--format", help="chat format the policy speaks"),
    max_turns: int = typer.Option(2, min=1, help="model calls per episode"),
    max_tokens: int = typer.Option(64, min=1, help="tokens sampled per model call"),
    temperature: float = typer.Option(1.0, help="sampling temperature"),
    learning_rate: float = typer.Option(1e-5, help="AdamW learning rate"),
    gspo: bool = typer.Option(False, "--gspo", help="GSPO: sequence-level importance ratios"),
    no_std: bool = typer.Option(False, "--no-std", help="do not divide advantages by the group std"),
    outcome: str = typer.Option("resolved", help="reward outcome term: resolved (1/0) or graded (fraction)"),
    unfinished_penalty: float = typer.Option(-0.5, help="added when the agent never submits"),
    format_penalty: float = typer.Option(-1.0, help="per-token penalty on turns that break the format"),
    limit: int | None = typer.Option(None, min=1, help="use only the first LIMIT tasks"),
    seed: int = typer.Option(0, help="base seed"),
    save_model: bool = typer.Option(True, "--save-model/--no-save-model", help="save OUT/model"),
    vllm_server: str | None = typer.Option(None, help="sample through a `trl vllm-serve` at this base URL"),
) -> None:
    """Train the policy with GRPO on real codekiln episodes and print each step's reward."""
    from codekiln.tasks import load_tasks

    load_tasks(tasks)  # a bad --tasks is told at once, not after torch and TRL load (~20 s)
    from codekiln.training.trl_env import GRPORunConfig, train_grpo

    config = GRPORunConfig(
        tasks=tasks, out=out, model=model, format=format, scaffold=scaffold, steps=steps,
        group_size=group_size, tasks_per_step=tasks_per_step, max_turns=max_turns, max_tokens=max_tokens,
        temperature=temperature, learning_rate=learning_rate, gspo=gspo, scale="none" if no_std else "std",
        limit=limit, seed=seed, save_model=save_model, vllm_server=vllm_server,
        reward=RewardConfig(
            outcome=outcome, unfinished_penalty=unfinished_penalty, format_penalty=format_penalty  # type: ignore[arg-type]
        ),
    )  # fmt: skip
    columns = (
        TextColumn("grpo"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Progress(*columns, console=console) as progress:
        bar = progress.add_task("grpo", total=steps, info="loading the model")

        def on_log(step: int, logs: dict[str, float]) -> None:
            if "reward" in logs:
                info = f"reward {float(logs['reward']):.3f} loss {float(logs.get('loss', 0.0)):.3f}"
                progress.update(bar, completed=step, info=info)

        result = train_grpo(config, on_log=on_log)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "result.json", result)
    scored = [r for r in result.rewards if r is not None]
    mean = sum(scored) / len(scored) if scored else float("nan")
    console.print(
        f"[bold green]{result.steps} steps[/], {result.episodes} episodes ({result.masked} masked), "
        f"mean reward {mean:.3f}, weight change {result.weight_change:.4g}; rollouts in {out / 'rollouts.jsonl'}"
        + (f", model in {result.model_dir}" if result.model_dir else "")
    )
