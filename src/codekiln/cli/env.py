"""`codekiln env`: build a snapshot's environment automatically, inspect it, run its tests.

codekiln env build pypi:toolz==1.2.0          # snapshot, detect, venv, install, baseline (cached)
codekiln env build pypi:toolz==1.2.0 --rebuild   # rebuild from scratch (a failed build too)
codekiln env build ./proj --agent embedded     # if the rules fail: an agent writes the profile
codekiln env list
codekiln env show pypi:toolz==1.2.0
codekiln env test pypi:toolz==1.2.0 --tests toolz/tests/test_itertoolz.py::test_get
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Column, Table

from codekiln.agents import AgentLimits
from codekiln.agents.envbuild import ProfileRejected, agent_build_env
from codekiln.core.errors import ConfigError, EnvBuildError, RepoError
from codekiln.envs import EnvRecord, build_env, ensure_env, env_sandbox, list_envs, load_env
from codekiln.envs.build import find_env_failure
from codekiln.envs.failures import FailedEnv
from codekiln.envs.recipe import Recipe
from codekiln.grading import run_tests
from codekiln.sandbox import DEFAULT_BACKEND

app = typer.Typer(no_args_is_help=True, add_completion=False)


class _Steps:
    """Prints one status line per build step, with a spinner while a step runs."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.status = console.status("")
        self.t0 = time.monotonic()

    def __call__(self, step: str, info: str) -> None:
        if info == "start":
            self.status.update(f"[bold]{step}[/] ...")
            self.status.start()
            return
        self.status.stop()
        self.console.print(f"[green]{step:>9}[/]  {escape(info)}")


def cutoff_line(recipe: Recipe) -> str:
    """Which dependency cutoff the build applied, or why none (see envs.cutoff)."""
    return recipe.cutoff_note or "none: no date given, dependencies as of the build"


def _summary(console: Console, env: EnvRecord) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("[bold]env[/]", env.id)
    table.add_row("[bold]snapshot[/]", f"{env.name} {env.version or ''} ({env.snapshot_id})")
    table.add_row("[bold]python[/]", env.python)
    table.add_row("[bold]venv[/]", escape(env.venv))
    table.add_row(
        "[bold]tests[/]",
        escape(f"pytest {' '.join(env.test.args)}".strip() + f"   ({env.recipe.test_source})"),
    )
    table.add_row("[bold]baseline[/]", env.summary_line())
    table.add_row("[bold]deps cutoff[/]", escape(cutoff_line(env.recipe)))
    if env.skipped_deps:
        table.add_row("[bold]skipped deps[/]", escape(", ".join(env.skipped_deps)))
    for dist, why in env.added_deps.items():
        table.add_row("[bold]added dep[/]", escape(f"{dist}: {why}"))
    for path, why in env.left_out.items():
        table.add_row("[bold yellow]left out[/]", escape(f"{path}: {why}"))
    if env.wheelhouse or env.wheelhouse_problem:
        offline = f"{len(env.wheelhouse)} file(s) pip finds offline" + (
            f"; {env.wheelhouse_problem}" if env.wheelhouse_problem else ""
        )
        table.add_row("[bold]wheelhouse[/]", escape(offline))
    others = [path for path in env.collection_errors if path not in env.left_out]
    if others:
        table.add_row("[bold yellow]collection errors[/]", escape(", ".join(others)))
    table.add_row("[bold]built in[/]", f"{env.duration_s:.1f} s")
    console.print(table)


def _show_failure(console: Console, failed: FailedEnv) -> None:
    recipe = failed.recipe
    table = Table(show_header=False, box=None)
    table.add_row("[bold]env[/]", f"{failed.id}   [bold red]build failed[/] at step '{failed.step}'")
    table.add_row("[bold]snapshot[/]", escape(f"{failed.name} {failed.version or ''} ({failed.snapshot_id})"))
    table.add_row("[bold]python[/]", recipe.python.version)
    table.add_row(
        "[bold]tests[/]",
        escape(f"pytest {' '.join(recipe.test.args)}".strip() + f"   ({recipe.test_source})"),
    )
    table.add_row("[bold]deps cutoff[/]", escape(cutoff_line(recipe)))
    table.add_row("[bold]reason[/]", escape(failed.message.split("\n--- log tail ---")[0]))
    table.add_row("[bold]log[/]", escape(failed.log or "(none)"))
    table.add_row("[bold]profile[/]", escape(failed.profile_file))
    table.add_row("[bold]failed on[/]", failed.created)
    console.print(table)
    deps = Table("requirement", "found in", title="test dependencies")
    for dep in recipe.required + recipe.deps:
        deps.add_row(escape(dep), escape(recipe.dep_sources.get(dep, "")))
    console.print(deps)
    console.print("[bold]log tail[/]\n" + escape(failed.log_tail))
    console.print("[bold]hint[/]: " + escape(failed.hint))


@app.command("build")
def build(
    spec: str = typer.Argument(
        ..., help="a snapshot id or a repo spec (pypi:NAME==VERSION, git URL, directory)"
    ),
    redo: bool = typer.Option(
        False, "--rebuild", "--redo", help="rebuild even if a built (or failed) environment is recorded"
    ),
    backend: str = typer.Option(DEFAULT_BACKEND, "--backend", help="sandbox backend to build in"),
    profile: Path | None = typer.Option(
        None, "--profile", help="a profile YAML file to use instead of the built-in one"
    ),
    agent: str | None = typer.Option(
        None,
        "--agent",
        help="when the rule-based build fails, let an agent with this model (e.g. embedded, "
        "openai:NAME@URL) write the profile; it is kept only if a fresh build reproduces a baseline",
    ),
    agent_turns: int = typer.Option(30, "--agent-turns", help="model calls the agent may make"),
) -> None:
    """Build the environment for a snapshot (adding the repository first if needed)."""
    console = Console()
    steps = _Steps(console)
    try:
        env = build_env(spec, redo=redo, backend=backend, profile=profile, on_step=steps)
    except EnvBuildError as err:
        steps.status.stop()
        if agent is None:
            raise
        console.print(f"[yellow]rules failed[/]: {escape(err.message.splitlines()[0])}")
        env = _agent_build(console, spec, agent, backend, agent_turns)
    finally:
        steps.status.stop()
    _summary(console, env)


def _agent_build(console: Console, spec: str, model: str, backend: str, turns: int) -> EnvRecord:
    with console.status(f"the environment-building agent ({model}) is at work ..."):
        result = agent_build_env(
            spec, model, backend=backend, limits=AgentLimits(max_turns=turns, command_timeout_s=600)
        )
    if result.env is None:
        raise ProfileRejected(
            f"the agent's profile was rejected: {result.reason}",
            hint=f"its trajectory: {result.record.trajectory}; write a profile by hand (see `codekiln env "
            "show`) or try a stronger model with --agent",
        )
    console.print(f"[green]    agent[/]  profile accepted ({escape(result.reason)}): {result.profile_file}")
    return result.env


@app.command("list")
def list_() -> None:
    """List built environments."""
    console = Console()
    envs = list_envs()
    if not envs:
        console.print("no environments yet: build one with `codekiln env build pypi:NAME==VERSION`")
        return
    table = Table(
        Column("env", no_wrap=True, min_width=16),
        "name",
        "version",
        "snapshot",
        "python",
        "baseline",
        "built",
    )
    for env in envs:
        table.add_row(
            env.id, env.name, env.version or "", env.snapshot_id, env.python, env.summary_line(), env.created
        )
    console.print(table)


@app.command("show")
def show(spec_or_id: str = typer.Argument(..., help="an env id, a snapshot id or a repo spec")) -> None:
    """Show an environment: recipe (with where each dep came from), test command, baseline."""
    console = Console()
    try:
        env = load_env(spec_or_id)
    except (ConfigError, RepoError, EnvBuildError):
        failed = find_env_failure(spec_or_id)
        if failed is None:
            raise
        _show_failure(console, failed)
        return
    _summary(console, env)
    deps = Table("requirement", "found in", title="test dependencies")
    for dep in env.recipe.required + env.recipe.deps:
        deps.add_row(escape(dep), escape(env.recipe.dep_sources.get(dep, "")))
    console.print(deps)
    bad = {t: s for t, s in env.baseline.items() if s in ("failed", "error")}
    if bad:
        table = Table("test", "status", title="failing on the clean snapshot")
        for test, status in sorted(bad.items()):
            table.add_row(escape(test), status)
        console.print(table)


@app.command("test")
def test(
    spec: str = typer.Argument(..., help="an env id, a snapshot id or a repo spec"),
    test_ids: list[str] = typer.Argument(None, help="test ids to run (default: the full suite)"),
    tests: list[str] = typer.Option(None, "--tests", "-t", help="a test id to run (repeatable)"),
    backend: str = typer.Option(DEFAULT_BACKEND, "--backend", help="sandbox backend to run in"),
    redo: bool = typer.Option(False, "--rebuild", help="rebuild the environment first (a failed one too)"),
) -> None:
    """Run tests in a fresh sandbox of the environment; ends with the line `N passed, M failed`."""
    console = Console()
    chosen = [*(tests or []), *(test_ids or [])] or None
    steps = _Steps(console)
    try:
        env = ensure_env(spec, backend=backend, redo=redo, on_step=steps)
    finally:
        steps.status.stop()
    with (
        console.status(f"running {'the full suite' if chosen is None else f'{len(chosen)} tests'} ..."),
        env_sandbox(env, backend) as sb,
    ):
        run = run_tests(sb, env.test, chosen)
    run.raise_for_error()
    failing = {t: s for t, s in run.statuses.items() if s in ("failed", "error")} | dict.fromkeys(
        run.missing, "missing"
    )
    if failing:
        # a long id folds (unwrapped, it left the other columns no width in 80 columns)
        table = Table(Column("test", overflow="fold"), "status", "message", title="failures")
        for test_id, status in sorted(failing.items()):
            table.add_row(
                escape(test_id),
                status,
                escape((run.messages.get(test_id) or " ").splitlines()[0][:100]),
            )
        console.print(table)
        known = sum(env.baseline.get(test_id) in ("failed", "error") for test_id in failing)
        if known:
            console.print(f"{known} of them also failed in the environment's baseline (the clean snapshot)")
    for name, message in run.collection_errors.items():
        console.print(
            f"[yellow]collection error[/] {escape(name)}: {escape(message.splitlines()[0] if message else '')}"
        )
    counts = run.counts()
    console.print(f"{counts['skipped']} skipped, {run.duration_s:.1f} s")
    if run.repeated_ids:  # pytest's own summary counts items, more than these ids
        console.print(escape(run.items_note()))
    passed, failed = counts["passed"], counts["failed"] + counts["error"] + len(run.missing)
    typer.echo(f"{passed} passed, {failed} failed")
    if failed:
        raise typer.Exit(1)
