"""`codekiln model ...` commands, driven through their Typer app (scripted backend: no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from codekiln.cli.models import app
from codekiln.core.errors import ConfigError, ModelError


def test_list_shows_every_backend() -> None:
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for backend in ("embedded", "openai", "transformers", "scripted"):
        assert backend in result.output


def test_chat_shows_output_calls_and_usage(tmp_path: Path) -> None:
    script = tmp_path / "out.json"
    script.write_text(
        json.dumps(
            [{"tool_calls": [{"name": "bash", "arguments": {"command": "ls -a"}}]}, "<tool_call>\n{oops"]
        )
    )
    args = [
        "chat",
        "List the files",
        "-m",
        f"scripted:{script}",
        "-t",
        "bash",
        "-t",
        "submit",
        "-f",
        "hermes",
    ]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert '<tool_call>\n{"name": "bash", "arguments": {"command": "ls -a"}}' in result.output
    assert 'call bash({"command": "ls -a"})' in result.output and "finish: stop" in result.output
    # The same model replays its second output: here, as JSON, with the parse error.
    script.write_text(json.dumps(["<tool_call>\n{oops"]))
    result = CliRunner().invoke(app, [*args, "--json"])
    data = json.loads(result.output)
    assert data["parse_error"] and data["message"]["tool_calls"] == [] and data["format"] == "hermes"


def test_chat_rejects_unknown_tools_and_options(tmp_path: Path) -> None:
    script = tmp_path / "out.json"
    script.write_text('["hi"]')
    result = CliRunner().invoke(app, ["chat", "x", "-m", f"scripted:{script}", "-t", "rm_rf"])
    assert isinstance(result.exception, ConfigError) and "unknown tools: rm_rf" in str(result.exception)
    result = CliRunner().invoke(app, ["chat", "x", "-m", f"scripted:{script}", "--option", "colour=red"])
    assert isinstance(result.exception, ConfigError) and "bad options" in str(result.exception)


def test_a_server_given_as_backend_colon_url_is_the_one_asked() -> None:
    # `--model openai:http://127.0.0.1:9/v1` asked http://127.0.0.1:8000/v1 for a model named "http".
    result = CliRunner().invoke(app, ["chat", "hi", "--model", "openai:http://127.0.0.1:9/v1"])
    assert result.exit_code != 0
    assert isinstance(result.exception, ModelError), result.output
    assert "cannot reach http://127.0.0.1:9/v1/models" in result.exception.message
