"""The `codekiln` fixture of the CLI tests (its type: `cli_support.Codekiln`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from cli_support import Codekiln

from codekiln import cli
from codekiln.cli.common import run


@pytest.fixture(scope="session")
def registered() -> None:
    cli._register()


@pytest.fixture
def codekiln(
    registered: None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Codekiln:
    """`codekiln ARGV...` run in `cwd` as `main()` runs it; its exit status and output."""

    def call(*argv: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
        monkeypatch.chdir(cwd)
        monkeypatch.setattr(sys, "argv", ["codekiln", *map(str, argv)])
        capsys.readouterr()
        try:
            run(cli.app)
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        out = capsys.readouterr()
        return subprocess.CompletedProcess(argv, code, out.out, out.err)

    return call
