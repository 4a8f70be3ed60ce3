"""`codekiln formats`: the tool-call chat formats codekiln can render and parse.

codekiln formats list        # one format name per line
codekiln formats eval --model embedded --formats hermes,qwen3_coder --limit 5 -o formats.json
"""

from __future__ import annotations

import typer

from codekiln.formats import list_formats

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    help="Tool-call chat formats (render tools, calls, results; parse output).",
)


@app.callback()
def main() -> None:
    """Tool-call chat formats."""


@app.command("list")
def list_cmd() -> None:
    """Print the registered chat format names, one per line."""
    for name in list_formats():
        typer.echo(name)


# `formats eval` needs the model backends, which live a layer above the formats.
from codekiln.cli.models import register_eval  # noqa: E402

register_eval(app)
