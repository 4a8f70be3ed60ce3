"""The `codekiln` command line. Each command group lives in its own module with an `app` Typer.

codekiln repo add pypi:toolz==1.2.0      # snapshot a repository
codekiln env build pypi:toolz==1.2.0     # build its environment, run its suite once
codekiln env test pypi:toolz==1.2.0      # run its tests in a sandbox
codekiln formats list                    # tool-call chat formats
"""

from __future__ import annotations

import importlib
from types import ModuleType

import typer
from rich.markup import escape

from codekiln.cli.common import run

app = typer.Typer(
    name="codekiln",
    help="Turn real repositories into verifiable coding tasks, run agents on them, score by execution.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (group name, module, one-line help). Modules are imported when the CLI starts.
GROUPS: list[tuple[str, str, str]] = [
    (
        "model",
        "codekiln.cli.models",
        "Chat models: list backends, chat with one, serve the embedded model as an OpenAI server.",
    ),
    ("repo", "codekiln.cli.repo", "Snapshot repositories: PyPI sdists, git URLs, local directories."),
    ("env", "codekiln.cli.env", "Build a snapshot's environment automatically, inspect it, run its tests."),
    ("tasks", "codekiln.cli.tasks", "Inspect synthesized tasks: list, show, stats, export."),
    ("formats", "codekiln.cli.formats", "Tool-call chat formats: list them, measure format following."),
    (
        "rollout",
        "codekiln.cli.rollout",
        "Run agents on tasks in N-sample groups; grade, reward and save every step; export trajectories.",
    ),
    (
        "thirdparty",
        "codekiln.cli.thirdparty",
        "Run third-party scaffolds (mini-swe-agent) on tasks through codekiln's proxy and sandbox.",
    ),
    (
        "eval",
        "codekiln.cli.eval",
        "Grade SWE-bench predictions or rollouts: per-instance results, pass@k, breakdowns.",
    ),
    (
        "report",
        "codekiln.cli.report",
        "One self-contained HTML report: funnel, resolved rates, formats, trajectory viewer.",
    ),
    (
        "export",
        "codekiln.cli.export",
        "Training data from rollouts: SFT rows in K chat formats, packed sequences.",
    ),
    (
        "train",
        "codekiln.cli.train",
        "RL training on codekiln tasks: GRPO / GSPO with TRL, real sandboxes and rewards.",
    ),
    (
        "curriculum",
        "codekiln.cli.curriculum",
        "Keep the tasks rollouts solve sometimes; drop those always or never solved.",
    ),
    (
        "sri",
        "codekiln.cli.sri",
        "Search-and-Replace Infilling: samples from real code, evaluation against FIM.",
    ),
    (
        "audit",
        "codekiln.cli.audit",
        "Red-team the grader with the attack corpus; find hacking attempts in saved rollouts.",
    ),
    (
        "verify",
        "codekiln.cli.verify",
        "Pick the right program among K candidates by execution: pools, selectors, Best@K.",
    ),
]

# Single top-level commands: (command name, module, function).
COMMANDS: list[tuple[str, str, str]] = [
    ("synth", "codekiln.cli.synth", "synth"),
    ("mine", "codekiln.cli.mine", "mine"),
]


def examples(module: ModuleType, name: str) -> str | None:
    """The `codekiln NAME ...` lines of a command module's docstring (a line ending in `\\` joined with the
    next), as its --help epilog: the examples live in one place, the docstring, and show in --help."""
    found: list[str] = []
    pending = ""
    for raw in (module.__doc__ or "").splitlines():
        line = " ".join(raw.split())
        if pending:
            line, pending = f"{pending} {line}", ""
        elif not line.startswith(f"codekiln {name} "):
            continue
        if line.endswith("\\"):
            pending = line[:-1].rstrip()
        else:
            found.append(line)
    return "Examples:\n\n" + "\n".join(escape(line) for line in found) if found else None


def _register() -> None:
    for name, module, help_text in GROUPS:
        mod = importlib.import_module(module)
        app.add_typer(mod.app, name=name, help=help_text, epilog=examples(mod, name))
    for name, module, func in COMMANDS:
        mod = importlib.import_module(module)
        app.command(name=name, epilog=examples(mod, name))(getattr(mod, func))


@app.command()
def version() -> None:
    """Print codekiln's version."""
    from codekiln import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point: codekiln errors print their message and hint, and exit 1 without a traceback."""
    _register()
    run(app)
