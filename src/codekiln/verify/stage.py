"""`codekiln verify` as a resumable stage: labelled pools, every selector at every K, the metrics table.

    config = VerifyConfig(problems="humaneval", limit=5, selectors=["random", "mbr", "search"])
    summary = run_verify(config, Path("out/verify"))

The output directory (see `codekiln.core.stage`): `pools.jsonl` (one labelled `Pool` per problem),
`results.jsonl` (one `KResult` per problem x selector x K), `trajectories.jsonl` (the agent
selector's conversations, turns and rewards, one per selection), `cache.jsonl` (every execution's output,
keyed by program and input, so a resumed run re-executes nothing it already ran) and `summary.json`
(the table of `metrics.summarise`). A rerun with the same configuration skips the finished pools and
results; `--redo` starts over.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field

from codekiln.core.errors import ConfigError
from codekiln.core.stage import Layout, StageManifest, open_stage
from codekiln.verify.agent import AgentSelector, AgentTrajectory
from codekiln.verify.metrics import KResult, evaluate_pool, summarise
from codekiln.verify.pools import Pool, build_pool
from codekiln.verify.problems import Example, Problem, load_problems, public_examples
from codekiln.verify.runner import Runner
from codekiln.verify.selectors import SELECTORS, Selector

LAYOUT = Layout(
    "verification results",
    logs=("pools.jsonl", "results.jsonl"),
    derived=("cache.jsonl", "summary.json", "trajectories.jsonl"),
)


class VerifyConfig(StageManifest):
    """What one `codekiln verify` run computes."""

    problems: str = "humaneval"
    """"humaneval" or a JSONL file in HumanEval's layout."""
    ids: list[str] | None = None
    """Only these problem ids (all when None)."""
    limit: int | None = None
    """At most this many problems (after `ids`)."""
    mutants: int = 15
    """Mutants of the reference per pool."""
    hard: bool = True
    """Keep only mutants that pass every public example (near misses the public filter cannot tell)."""
    model: str | None = None
    """A model spec (`codekiln.models`) to sample candidates from; None: mutants only."""
    samples: int = 0
    """Candidates sampled from `model` per problem."""
    test_model: str | None = None
    """A model spec that writes tests for the CodeT selector (it is skipped without one)."""
    agent_model: str | None = None
    """A model spec driving the agent selector (`agent` in `selectors`)."""
    agent_turns: int = 3
    selectors: list[str] = Field(default_factory=lambda: ["random", "public", "majority", "mbr", "search"])
    ks: list[int] = Field(default_factory=lambda: list(range(2, 17)))
    subsets: int = 20
    """Random K-subsets per (problem, K)."""
    budget: int = 64
    """Calls per candidate each selection may request (K x budget in all)."""
    random_inputs: int = 200
    """Generated inputs added to each problem's tests for labelling."""
    timeout_s: float = 0.5
    """Wall-clock limit per call (HumanEval's references take milliseconds)."""
    memory_mb: int = 512
    seed: int = 0
    sandbox: str | None = None
    """Sandbox backend (bwrap where available, else local)."""

    informational = frozenset({"sandbox"})


def _check(config: VerifyConfig) -> None:
    unknown = [s for s in config.selectors if s not in SELECTORS and s != "agent"]
    if unknown:
        raise ConfigError(
            f"unknown selector(s): {', '.join(unknown)}", hint=f"choose from {', '.join(SELECTORS)}, agent"
        )
    if "codet" in config.selectors and not config.test_model:
        raise ConfigError(
            "the codet selector needs model-written tests", hint="pass --test-model SPEC, or drop codet"
        )
    if "agent" in config.selectors and not config.agent_model:
        raise ConfigError("the agent selector needs a model", hint="pass --agent-model SPEC, or drop agent")
    if config.samples and not config.model:
        raise ConfigError("--samples needs --model", hint="pass --model SPEC (e.g. embedded)")
    if any(k < 1 for k in config.ks):
        raise ConfigError("K must be at least 1", hint="e.g. --k 2..16")


TEST_PROMPT = (
    "Write 5 test cases for this Python function, one per line, as `assert {entry}(...) == expected`.\n\n"
    "```python\n{statement}```"
)


TEST_TOKENS = 256
"""Enough for five one-line asserts; a small model that rambles on stops there."""


def model_tests(problem: Problem, model: Any) -> list[Example]:
    """CodeT's tests: `assert entry(args) == expected` lines a model writes, parsed and normalised."""
    from codekiln.verify.exec_worker import normalise

    prompt = TEST_PROMPT.format(entry=problem.entry_point, statement=problem.statement)
    reply = model.chat([{"role": "user", "content": prompt}], None, max_tokens=TEST_TOKENS)
    found = public_examples(reply.text, problem.entry_point)
    return [Example(input=repr(args), output=normalise(out)) for args, out in found]


def run_verify(
    config: VerifyConfig,
    out: Path,
    *,
    redo: bool = False,
    progress: Callable[[str], None] = lambda _msg: None,
) -> list[dict[str, Any]]:
    """Run (or resume) the stage; returns the summary table (also written to summary.json)."""
    _check(config)
    problems, skipped = load_problems(config.problems, config.ids)
    problems = problems[: config.limit] if config.limit is not None else problems
    if not problems:
        raise ConfigError(
            f"no usable problems in {config.problems} (skipped: {len(skipped)})",
            hint="check --ids against the set's task_id values",
        )
    models: dict[str, Any] = {}
    if config.model or config.test_model or config.agent_model:
        from codekiln.models import make_model

        for spec in {s for s in (config.model, config.test_model, config.agent_model) if s}:
            models[spec] = make_model(spec)
    with open_stage(out, LAYOUT, redo=redo) as stage:
        selectors: list[Selector] = []
        for name in config.selectors:
            if name == "agent":

                def save(trajectory: AgentTrajectory) -> None:
                    stage.append("trajectories.jsonl", [trajectory])

                model = models[config.agent_model or ""]
                selectors.append(AgentSelector(model, turns=config.agent_turns, save=save))
            else:
                selectors.append(SELECTORS[name]())
        stage.match(config)
        pools = {
            k: Pool.model_validate(v)
            for k, v in stage.finished("pools.jsonl", key=lambda r: r["problem_id"]).items()
        }
        done = stage.finished("results.jsonl", key=lambda r: (r["problem_id"], r["selector"], r["k"]))
        with Runner(
            backend=config.sandbox,
            timeout_s=config.timeout_s,
            memory_mb=config.memory_mb,
            cache_path=stage.path("cache.jsonl"),
        ) as runner:
            for n, problem in enumerate(problems, 1):
                pool = pools.get(problem.problem_id)
                if pool is None:
                    pool = build_pool(
                        problem,
                        runner,
                        mutants_n=config.mutants,
                        hard=config.hard,
                        model=models.get(config.model or ""),
                        model_name=config.model or "",
                        samples=config.samples,
                        random_inputs=config.random_inputs,
                        seed=config.seed,
                    )
                    stage.append("pools.jsonl", [pool])
                todo = [
                    s
                    for s in selectors
                    if any((problem.problem_id, s.name, k) not in done for k in config.ks)
                ]
                if todo:
                    # one candidate needs no tests: every selector picks it
                    tests = (
                        model_tests(problem, models[config.test_model])
                        if config.test_model and len(pool.candidates) > 1
                        else None
                    )
                    rows = evaluate_pool(
                        pool,
                        problem,
                        todo,
                        ks=config.ks,
                        subsets=config.subsets,
                        per_candidate=config.budget,
                        runner=runner,
                        tests=tests,
                        seed=config.seed,
                    )
                    fresh = [r for r in rows if (r.problem_id, r.selector, r.k) not in done]
                    stage.append("results.jsonl", fresh)
                    done.update({(r.problem_id, r.selector, r.k): r.model_dump() for r in fresh})
                progress(
                    f"{n}/{len(problems)} {problem.problem_id}: {len(pool.candidates)} candidates, "
                    f"{sum(c.correct for c in pool.candidates)} correct, {runner.executions} executions"
                )
        rows_all = [KResult.model_validate(r) for r in done.values()]
        wanted = {p.problem_id for p in problems}
        table = summarise([r for r in rows_all if r.problem_id in wanted and r.selector in config.selectors])
        stage.write("summary.json", {"table": table, "skipped": skipped, "problems": len(problems)})
    return table
