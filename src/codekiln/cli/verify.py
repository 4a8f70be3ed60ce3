"""`codekiln verify`: labelled candidate pools, every selector at every K, Best@K with intervals.

codekiln verify --out out/verify --limit 10                      # HumanEval, mutant pools, K = 2..16
codekiln verify --out out/verify --ids HumanEval/0,HumanEval/3 --k 2,4,8 --selectors random,mbr,search
codekiln verify --out out/verify --problems my_set.jsonl --model embedded --samples 8

Resumable: a rerun with the same options skips finished pools and results (`--redo` starts over).
See `codekiln.verify` for what each selector does and what the metrics mean.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from codekiln.core.errors import ConfigError

app = typer.Typer(
    add_completion=False, pretty_exceptions_enable=False, context_settings={"allow_interspersed_args": True}
)
console = Console()


def parse_ks(text: str) -> list[int]:
    """`2..16` or `2,4,8` (or a mix: `2..4,8`)."""
    out: list[int] = []
    try:
        for part in text.split(","):
            lo, sep, hi = part.partition("..")
            out += list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
    except ValueError as err:
        raise ConfigError(f"cannot read K values from {text!r}", hint="write e.g. 2..16 or 2,4,8") from err
    return sorted(set(out))


@app.callback(invoke_without_command=True)
def verify(
    out: Path = typer.Option(..., "--out", "-o", help="output directory (pools, results, cache, summary)"),
    problems: str = typer.Option("humaneval", help="humaneval, or a JSONL file in HumanEval's layout"),
    ids: str = typer.Option("", help="comma-separated problem ids (default: all)"),
    limit: int = typer.Option(0, help="at most this many problems (0: no limit)"),
    mutants: int = typer.Option(15, help="mutants of the reference per pool"),
    hard: bool = typer.Option(True, help="keep only mutants that pass every public example"),
    model: str = typer.Option("", help="model spec to sample candidates from (see `codekiln model list`)"),
    samples: int = typer.Option(0, help="candidates sampled from --model per problem"),
    test_model: str = typer.Option("", help="model spec writing tests for the codet selector"),
    agent_model: str = typer.Option(
        "", help="model spec driving the agent selector (add agent to --selectors)"
    ),
    agent_turns: int = typer.Option(3, help="model turns per agent selection"),
    selectors: str = typer.Option(
        "random,public,majority,mbr,search",
        help="comma-separated: random,public,majority,mbr,codet,search,agent",
    ),
    k: str = typer.Option("2..16", "--k", help="K values: 2..16 or 2,4,8"),
    subsets: int = typer.Option(20, help="random K-subsets per problem and K"),
    budget: int = typer.Option(64, help="calls per candidate each selection may use"),
    seed: int = typer.Option(0),
    sandbox: str = typer.Option("", help="sandbox backend (default: bwrap where it works, else local)"),
    redo: bool = typer.Option(False, help="start over instead of resuming"),
) -> None:
    """Build labelled pools, run the selectors on random K-subsets, print Best@K against Pass@K."""
    from codekiln.verify.metrics import format_table
    from codekiln.verify.stage import VerifyConfig, run_verify

    config = VerifyConfig(
        problems=problems,
        ids=[i.strip() for i in ids.split(",") if i.strip()] or None,
        limit=limit or None,
        mutants=mutants,
        hard=hard,
        model=model or None,
        samples=samples,
        test_model=test_model or None,
        agent_model=agent_model or None,
        agent_turns=agent_turns,
        selectors=[s.strip() for s in selectors.split(",") if s.strip()],
        ks=parse_ks(k),
        subsets=subsets,
        budget=budget,
        seed=seed,
        sandbox=sandbox or None,
    )
    table = run_verify(config, out, redo=redo, progress=lambda msg: console.print(msg, highlight=False))
    console.print(format_table(table), highlight=False)
    console.print(f"[bold green]summary[/] in {out / 'summary.json'}")
