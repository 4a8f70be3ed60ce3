"""`codekiln model`: talk to a model, serve the embedded one, and (`codekiln formats eval`) measure format following.

    codekiln model list                                   # backends and the model spec syntax
    codekiln model chat "List the files" --tool bash --format hermes
    codekiln model chat "hi" --model openai:smollm2@http://127.0.0.1:8000/v1 --option mode=raw
    codekiln model serve --port 8000                      # the embedded model as an OpenAI-compatible server
    codekiln formats eval --model embedded --formats all --out eval.json

Model specs are `BACKEND[:ARG][@URL]` (see `codekiln.models`); `--option key=value` passes backend options
(mode=raw, n_ctx=4096, timeout=30, ...), and `--option preset.yaml` reads them from a file.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from codekiln.cli.common import flagged_options, parse_options
from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.core.records import atomic_write_json
from codekiln.models import BACKENDS

app = typer.Typer(no_args_is_help=True, add_completion=False)
console = Console()

SPEC_HELP = "Model spec BACKEND[:ARG][@URL]: " + ", ".join(b.spec for b in BACKENDS.values()) + "."
OPTION_HELP = (
    "Backend option key=value (repeatable), e.g. mode=raw, n_ctx=4096, timeout=30; or a YAML file of them."
)


@app.command("list")
def list_backends() -> None:
    """Model backends, their spec syntax and options."""
    table = Table("backend", "spec", "what", "options (--option key=value)")
    for name, backend in BACKENDS.items():
        table.add_row(name, backend.spec, backend.what, backend.options)
    console.print(table)
    console.print(
        "All backends also take max_tokens, temperature and seed; all but native openai take format."
    )


def _eval_tools(names: list[str]) -> list[dict[str, Any]]:
    from importlib import resources

    data = json.loads(resources.files("codekiln.models").joinpath("data/format_eval.json").read_text())
    unknown = [n for n in names if n not in data["tools"]]
    if unknown:
        raise ConfigError(
            f"unknown tools: {', '.join(unknown)}", hint=f"choose from: {', '.join(data['tools'])}"
        )
    return [data["tools"][n] for n in names]


@app.command("chat")
def chat(
    message: str = typer.Argument(..., help="The user message."),
    model: str = typer.Option("embedded", "--model", "-m", help=SPEC_HELP),
    format: str | None = typer.Option(
        None, "--format", "-f", help="Chat format (default qwen3_coder; not for native openai)."
    ),
    tool: list[str] = typer.Option(
        [],
        "--tool",
        "-t",
        help="Offer a tool from the eval set: bash, read_file, write_file, edit_file, search, find_files, run_tests, python, str_replace_editor, submit.",
    ),
    system: str | None = typer.Option(None, "--system", help="A system message."),
    max_tokens: int = typer.Option(256, "--max-tokens"),
    temperature: float = typer.Option(0.0, "--temperature"),
    seed: int = typer.Option(0, "--seed"),
    option: list[str] = typer.Option([], "--option", help=OPTION_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print the whole response as JSON."),
) -> None:
    """Send one message (with optional tools) and show the raw output, the parsed calls and the usage."""
    from codekiln.models import make_model

    flags = {
        "format": "--format",
        "max_tokens": "--max-tokens",
        "temperature": "--temperature",
        "seed": "--seed",
    }
    options = flagged_options(parse_options(option), flags)
    if format:
        options["format"] = format
    backend = make_model(model, max_tokens=max_tokens, temperature=temperature, seed=seed, **options)
    messages = ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": message}
    ]
    response = backend.chat(messages, _eval_tools(tool) or None)
    if as_json:
        typer.echo(response.model_dump_json(indent=2))
        return
    console.rule(f"{backend.name} ({response.format or 'native'})")
    console.print(response.text, markup=False, highlight=False)
    console.rule()
    for call in response.tool_calls:
        console.print(f"[green]call[/] {call['name']}({json.dumps(call['arguments'], ensure_ascii=False)})")
    if response.parse_error:
        console.print(f"[yellow]parse error:[/] {response.parse_error}", markup=True, highlight=False)
    usage = response.usage
    console.print(
        f"[dim]{usage.prompt_tokens} prompt + {usage.completion_tokens} completion tokens, "
        f"{response.latency_s:.2f} s, finish: {response.finish_reason}[/]"
    )


@app.command("serve")
def serve(
    port: int = typer.Option(8000, "--port"),
    host: str = typer.Option("127.0.0.1", "--host"),
    gguf: Path | None = typer.Option(None, "--gguf", help="Model file (default: the embedded SmolLM2 GGUF)."),
    n_ctx: int = typer.Option(8192, "--n-ctx"),
    alias: str = typer.Option("smollm2", "--alias", help="The model name clients use."),
    chat_format: str | None = typer.Option(
        None,
        "--chat-format",
        help="llama-cpp-python chat format, e.g. chatml-function-calling for native tool calls.",
    ),
) -> None:
    """Serve a GGUF model (default: the embedded one) as an OpenAI-compatible server, in the foreground."""
    from codekiln.models.embedded import embedded_gguf

    path = gguf or embedded_gguf()
    argv = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(path),
        "--host",
        host,
        "--port",
        str(port),
    ]
    argv += ["--n_ctx", str(n_ctx), "--model_alias", alias]
    if chat_format:
        argv += ["--chat_format", chat_format]
    console.print(
        f"serving {path.name} as {alias!r} at http://{host}:{port}/v1  (use --model openai:{alias}@http://{host}:{port}/v1)"
    )
    sys.stdout.flush()
    os.execv(sys.executable, argv)


def eval_formats(
    model: str = typer.Option("embedded", "--model", "-m", help=SPEC_HELP),
    formats: str = typer.Option("all", "--formats", help="'all' or a comma-separated list of format names."),
    out: Path | None = typer.Option(
        None, "--out", "-o", help="JSON report path (default: $CODEKILN_HOME/evals/formats-<model>.json)."
    ),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N prompts."),
    max_tokens: int = typer.Option(256, "--max-tokens"),
    temperature: float = typer.Option(0.0, "--temperature"),
    seed: int = typer.Option(0, "--seed"),
    option: list[str] = typer.Option([], "--option", help=OPTION_HELP),
) -> None:
    """Format following: per format, the share of turns answered with a valid call of an offered tool."""
    from codekiln.models.eval import evaluate, load_prompts, resolve_formats

    names = resolve_formats(formats)
    total = len(names) * len(load_prompts(limit))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("format eval", total=total)

        def advance(turn: Any) -> None:
            progress.update(task, advance=1, description=f"{turn.format} {turn.prompt}")

        report = evaluate(
            model, names, limit=limit, max_tokens=max_tokens, temperature=temperature, seed=seed,
            options=parse_options(option), on_turn=advance,
        )  # fmt: skip
    columns_ = ("format", "turns", "valid", "rate", "parse errors", "no call", "bad calls", "errors")
    table = Table(*columns_, title=f"format following: {model}")
    for s in report.scores:
        r = s.reasons
        bad = r.get("unknown_tool", 0) + r.get("bad_arguments", 0)
        table.add_row(
            s.format,
            str(s.turns),
            str(s.valid),
            f"{s.rate:.1%}",
            str(r.get("parse_error", 0)),
            str(r.get("no_call", 0)),
            str(bad),
            str(r.get("error", 0)),
        )
    console.print(table)
    path = (
        out
        or state_dir("evals")
        / f"formats-{model.replace('/', '_').replace(':', '_').replace('@', '_')[:80]}.json"
    )
    atomic_write_json(path, report)
    console.print(f"wrote {path}  ({report.duration_s:.1f} s)")


def register_eval(formats_app: typer.Typer) -> None:
    """Add `eval` to the `codekiln formats` command group."""
    formats_app.command("eval")(eval_formats)
