"""References in the code point at things that exist: every `codekiln GROUP [COMMAND]` quoted in a
message or docstring is a real command, and every Markdown file named is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import typer

import codekiln
import codekiln.cli

SRC = Path(codekiln.__file__).parent
REPO = SRC.parent.parent
QUOTED = re.compile(r"[`(]codekiln ([a-z][a-z-]*)(?: ([a-z][a-z-]*)(?=[ `]))?")
MARKDOWN = re.compile(r"\b([A-Z][A-Z_]+\.md)\b")  # project documents (README.md), not files tasks hold


def _subcommands(command: object) -> dict[str, object]:
    return dict(getattr(command, "commands", None) or {})


def _commands() -> dict[str, object]:
    if hasattr(codekiln.cli, "_register") and not codekiln.cli.app.registered_groups:
        codekiln.cli._register()
    return _subcommands(typer.main.get_command(codekiln.cli.app))


def _sources() -> list[tuple[Path, str]]:
    return [(path, path.read_text()) for path in sorted(SRC.rglob("*.py"))]


def test_every_quoted_cli_command_exists() -> None:
    top = _commands()
    assert {"synth", "env", "tasks"} <= set(top)
    wrong = []
    for path, text in _sources():
        for match in QUOTED.finditer(text):
            name, sub = match.groups()
            command = top.get(name)
            if command is None:
                wrong.append(f"{path.relative_to(SRC)}: `codekiln {name}` (no such command)")
            elif sub and _subcommands(command) and sub not in _subcommands(command):
                wrong.append(f"{path.relative_to(SRC)}: `codekiln {name} {sub}` (no such command)")
    assert wrong == []


def test_every_markdown_file_named_in_the_code_exists() -> None:
    known = {p.name for p in REPO.rglob("*.md") if ".git" not in p.parts and ".venv" not in p.parts}
    missing = sorted(
        f"{path.relative_to(SRC)}: {name}"
        for path, text in _sources()
        for name in set(MARKDOWN.findall(text))
        if name not in known
    )
    assert missing == []
