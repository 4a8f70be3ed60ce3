"""Flags mean one thing everywhere, through the real `codekiln` entry point (`run(app)` on argv): `-o` is
--out in every command (the old `-o KEY=VALUE` of `formats eval`, `sri eval` and `model chat` still
works for one release, with a warning saying what to type), and an `--option` may not set what the
command's own flag sets. No sandbox starts: a scripted model answers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from cli_support import Codekiln

from codekiln import cli

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "tests" / "fixtures" / "recorded" / "toolz-1.2.0.tasks.jsonl"


@pytest.fixture(scope="module")
def root() -> Any:
    cli._register()
    return typer.main.get_command(cli.app)


def commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += commands(sub, (*path, name))
    return found


def test_minus_o_is_out_in_every_command(root: Any) -> None:
    owners = {
        " ".join(path): param.opts[0]
        for path, command in commands(root)
        for param in command.params
        if "-o" in param.opts
    }
    assert {"synth", "rollout", "eval", "mine", "curriculum", "formats eval", "sri eval"} <= set(owners)
    assert {path: flag for path, flag in owners.items() if flag != "--out"} == {}


@pytest.fixture
def script(tmp_path: Path) -> str:
    (tmp_path / "script.json").write_text('["hi"]')
    return "scripted:script.json"


def test_format_eval_writes_its_report_to_minus_o(codekiln: Codekiln, tmp_path: Path, script: str) -> None:
    argv = [
        "formats",
        "eval",
        "--model",
        script,
        "--formats",
        "hermes",
        "--limit",
        "1",
        "--option",
        "cycle=true",
    ]
    done = codekiln(*argv, "-o", "f.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads((tmp_path / "f.json").read_text())["scores"][0]["format"] == "hermes"


def test_the_old_minus_o_option_spelling_works_with_a_warning(
    codekiln: Codekiln, tmp_path: Path, script: str
) -> None:
    argv = ["formats", "eval", "--model", script, "--formats", "hermes", "--limit", "1", "-o", "cycle=true"]
    done = codekiln(*argv, "--out", "f.json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr.splitlines()[0] == (
        "warning: `-o cycle=true` is the old spelling of --option in `formats eval` (-o means --out in every "
        "command now; the old spelling goes in the next release): write --option cycle=true"
    )
    assert (tmp_path / "f.json").is_file()
    # model chat has no --out: any -o there is the old spelling (the option reaches the backend)
    done = codekiln("model", "chat", "x", "--model", script, "-o", "colour=red", cwd=tmp_path)
    assert "write --option colour=red" in done.stderr and "error: bad options" in done.stderr


@pytest.mark.parametrize(
    ("flags", "error"),
    [  # --option temperature=0.2 used to override --temperature silently
        (
            ["--temperature", "0.7", "--option", "temperature=0.2"],
            "--option temperature=0.2 sets what --temperature sets",
        ),
        (["--option", "seed=3"], "--option seed=3 sets what --seed sets"),
        (["--option", "format=hermes"], "--option format=hermes sets what --format sets"),
    ],
)
def test_rollout_refuses_an_option_its_own_flag_sets(
    codekiln: Codekiln, tmp_path: Path, flags: list[str], error: str
) -> None:
    done = codekiln("rollout", "--tasks", TASKS, "--model", "embedded", "--out", "r", *flags, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.splitlines()[0] == f"error: {error}", done.stderr
    assert "hint: drop the option and write --" in done.stderr and not (tmp_path / "r").exists()


def test_model_chat_refuses_an_option_its_own_flag_sets(
    codekiln: Codekiln, tmp_path: Path, script: str
) -> None:
    # It was a TypeError traceback: make_model() got multiple values for keyword argument 'max_tokens'.
    done = codekiln("model", "chat", "x", "--model", script, "--option", "max_tokens=5", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.splitlines()[0] == "error: --option max_tokens=5 sets what --max-tokens sets"
