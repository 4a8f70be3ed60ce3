"""Every file-reading command, given a path that does not exist, an empty file or a directory where it
reads a file, stops with `error:` + `hint:` and exit 1, through the real entry point (`run(app)` in
this process): never a traceback, and never an exit 0 with an empty result (`export sft`,
`curriculum`, `sri eval` and `audit rollouts` of an empty file exited 0 having done nothing; `audit
rollouts` of a line that is not a rollout was a pydantic traceback). None starts a sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Codekiln


def commands(p: str) -> list[list[str]]:
    """A command line per file-reading command, reading `p`."""
    return [
        ["tasks", "show", p, "x"],
        ["tasks", "export", p, "--format", "hf"],
        ["rollout", "--tasks", p, "--out", "o", "--model", "oracle"],
        ["thirdparty", "mini-swe-agent", "--tasks", p, "--out", "o", "--model", "oracle"],
        ["eval", "--tasks", p, "--predictions", p, "--out", "o"],
        ["eval", "--rollouts", p],
        ["report", p, "--out", "r.html"],
        ["export", "sft", p, "--out", "o"],
        ["export", "pack", p, "--seq-len", "64"],
        ["train", "grpo", "--tasks", p, "--out", "o"],
        ["curriculum", p, "--tasks", p, "--out", "o"],
        ["sri", "eval", p, "--out", "o"],
        ["sri", "tasks", p, "--out", "o"],
        ["audit", "grader", "--tasks", p],
        ["audit", "rollouts", p],
        ["verify", "--out", "o", "--problems", p],
        ["synth", "--repos", p, "--out", "o"],
        ["mine", p, "--out", "o"],
    ]


@pytest.mark.parametrize("kind", ["missing", "empty", "directory"])
def test_a_bad_path_is_an_error_with_a_hint_in_every_command(
    codekiln: Codekiln, tmp_path: Path, kind: str
) -> None:
    (tmp_path / "empty.jsonl").write_text("")
    (tmp_path / "adir").mkdir()
    path = {"missing": "nope.jsonl", "empty": "empty.jsonl", "directory": "adir"}[kind]
    wrong = []
    for argv in commands(path):
        done = codekiln(*argv, cwd=tmp_path)
        lines = done.stderr.splitlines()
        if (
            done.returncode != 1
            or not lines
            or not lines[-2:][0].startswith("error: ")
            or "  hint: " not in done.stderr
        ):
            wrong.append(
                f"codekiln {' '.join(argv)} -> exit {done.returncode}: {(done.stdout + done.stderr)[-300:]}"
            )
    assert wrong == []


def test_audit_names_a_line_that_is_not_a_rollout(codekiln: Codekiln, tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "rollouts.jsonl").write_text('{"a": 1}\n')
    done = codekiln("audit", "rollouts", "r", cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.startswith("error: r/rollouts.jsonl:1: not a Rollout"), (
        done.stderr
    )
