"""README.md runs as written: every `codekiln ...` line in its shell blocks names a real command with
real options, and every Python block of "The Python API" runs in a fresh interpreter and prints what
its `print(...)  # "TEXT"` comments say. A block that opens a sandbox is marked `root`; one that
synthesizes tasks is also `slow`.
"""

from __future__ import annotations

import itertools
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

import codekiln.cli

README = Path(__file__).resolve().parent.parent / "README.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
PRINTED = re.compile(r'^\s*print\(.*\)\s+# "(.+)"$', re.M)


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _blocks(text: str, lang: str) -> list[str]:
    return [body for kind, body in FENCE.findall(text) if kind == lang]


def _command_lines() -> list[str]:
    """Each `codekiln ...` line of README's shell blocks, comments cut off."""
    lines = []
    for block in _blocks(README.read_text(), "bash"):
        for line in block.splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith("codekiln "):
                lines.append(line)
    return lines


def _root() -> Any:
    """The CLI's root command (typer's own click types, hence duck-typed: groups have `commands`)."""
    if hasattr(codekiln.cli, "_register") and not codekiln.cli.app.registered_groups:
        codekiln.cli._register()
    return typer.main.get_command(codekiln.cli.app)


def _resolve(root: Any, words: list[str]) -> tuple[Any, list[str]]:
    """The (sub)command the words name, and the words left for it."""
    command = root
    while words and hasattr(command, "commands") and words[0] in command.commands:
        command = command.commands[words.pop(0)]
    return command, words


def test_the_readme_quotes_cli_commands() -> None:
    lines = _command_lines()
    assert any(line.startswith("codekiln synth ") for line in lines), "no shell block with `codekiln synth`"
    assert any(line.startswith("codekiln rollout ") for line in lines)


@pytest.mark.parametrize("line", _command_lines())
def test_every_readme_command_line_names_a_real_command_and_real_options(line: str) -> None:
    command, words = _resolve(_root(), shlex.split(line)[1:])
    if hasattr(command, "commands"):
        assert command.invoke_without_command, f"`{line}`: `{command.name}` needs a subcommand"
    options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
    unknown = [w for w in words if w.startswith("-") and w.split("=")[0] not in options]
    assert unknown == [], f"`{line}`: no such option(s) {unknown}; the command takes {sorted(options)}"
    given = shlex.split(line)
    old = [v for flag, v in itertools.pairwise(given) if flag == "-o" and "=" in v]
    assert old == [], f"`{line}`: -o is --out in every command; model options are --option {old[0]}"


def _api_blocks() -> list[object]:
    params = []
    for i, block in enumerate(_blocks(_section("The Python API"), "python")):
        marks = []
        if "build_env" in block or "env_sandbox" in block:
            marks.append(pytest.mark.root)  # builds and runs the toolz environment in bwrap sandboxes
        if "synthesize(" in block:
            marks.append(pytest.mark.slow)  # synthesizes and validates tasks, then runs rollouts
        params.append(pytest.param(block, marks=marks, id=f"block{i}"))
    return params


def test_the_python_api_section_has_blocks_that_check_their_output() -> None:
    blocks = _blocks(_section("The Python API"), "python")
    assert len(blocks) >= 3
    assert all(PRINTED.search(block) for block in blocks), "each block should print what it promises"


@pytest.mark.parametrize("block", _api_blocks())
def test_python_api_block_runs_and_prints_what_it_says(block: str, tmp_path: Path) -> None:
    """Run in a fresh interpreter from an empty directory (the block's `out/` lands there), with this
    session's CODEKILN_HOME (tests/conftest.py) and code, so the toolz snapshot and environment are reused."""
    src = str(Path(codekiln.__file__).resolve().parents[1])  # this checkout's code, whatever the cwd
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))}
    done = subprocess.run(
        [sys.executable, "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800
    )
    assert done.returncode == 0, f"the block failed:\n{block}\n{done.stderr[-3000:]}"
    out = done.stdout
    for expected in PRINTED.findall(block):
        assert expected in out, f"expected {expected!r} in the block's output:\n{out}"
        out = out[out.index(expected) + len(expected) :]
