"""`codekiln COMMAND --help` ends with the examples of the command module's docstring (one place for
them), for every top-level command, and every example names a real command with real options."""

from __future__ import annotations

import importlib
import os
import shlex
import subprocess
import sys
from typing import Any

import pytest
import typer

from codekiln import cli
from codekiln.cli.common import run

TOP = [(name, module) for name, module, _ in cli.GROUPS] + [
    (name, module) for name, module, _ in cli.COMMANDS
]


@pytest.fixture(scope="module")
def root() -> Any:
    cli._register()
    return typer.main.get_command(cli.app)


def example_lines(name: str, module: str) -> list[str]:
    epilog = cli.examples(importlib.import_module(module), name)
    assert epilog is not None, f"{module}'s docstring has no `codekiln ...` example line"
    return epilog.split("\n\n", 1)[1].replace("\\[", "[").splitlines()


@pytest.mark.parametrize(("name", "module"), TOP)
def test_help_ends_with_the_docstrings_examples(
    root: Any, name: str, module: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one example per line
    monkeypatch.setattr(sys, "argv", ["codekiln", name, "--help"])
    with pytest.raises(SystemExit) as stop:
        run(cli.app)
    shown = capsys.readouterr().out
    assert stop.value.code == 0 and "Examples:" in shown
    examples = example_lines(name, module)
    assert [line for line in examples if line not in shown] == []


@pytest.mark.parametrize(("name", "module"), TOP)
def test_every_example_names_real_options(root: Any, name: str, module: str) -> None:
    for line in example_lines(name, module):
        words = shlex.split(line.split(" #")[0])[1:]
        command = root
        while words and words[0] in getattr(command, "commands", {}):
            command = command.commands[words.pop(0)]
        options = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}
        unknown = [w for w in words if w.startswith("-") and w.split("=")[0] not in options]
        assert unknown == [], f"`{line}`: no such option(s) {unknown}"


def test_python_dash_m_codekiln_is_the_codekiln_command() -> None:
    """`python -m codekiln` (a checkout run with PYTHONPATH=src, no console script) runs the same CLI."""

    out = subprocess.run(
        [sys.executable, "-m", "codekiln", "env", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert out.returncode == 0, out.stderr
    assert (
        "Usage: python -m codekiln env" in out.stdout and "codekiln env show pypi:toolz==1.2.0" in out.stdout
    )
