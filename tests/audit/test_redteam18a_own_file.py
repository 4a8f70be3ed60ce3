"""The eighteenth red team (part A): a suite whose tests hand their own file to the library loses every task.

Library code that opens a file of the tests' source while running is refused and read as tampering
(`guard_plugin_reads`). Tests often use their own file as a handy existing input: a line counter, a
hash, a file-type guess, a reader given `__file__` (`assert count_lines(__file__) == 13`). The
library then opens the test file through its own, honest code, the guard reads it as a table of
answers parsed from the tests, and the shared gold run on the snapshot is `tampered`: synthesis makes
no task of the library at all ("the shared gold run on filelib gave tampered ... opened from
/testbed/filelib/__init__.py"), not only none of the functions that read the file. The fixture's
third test (a file of its own under `tmp_path`) shows the library works without it. Real synthesis,
bwrap sandboxes, the real grader.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import setuptools_pyproject, synth_cached

from codekiln.core.config import state_dir
from codekiln.tasks.export.datasets import read_tasks

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

LIBRARY = {
    "filelib/__init__.py": (
        'def count_lines(path):\n    """How many lines the file at `path` holds."""\n    n = 0\n'
        "    with open(path) as fh:\n        for _ in fh:\n            n += 1\n    return n\n\n\n"
        "def first_word(path):\n    with open(path) as fh:\n        return fh.read().split()[0]\n"
    ),
    "tests/test_files.py": (
        "from filelib import count_lines, first_word\n\n\n"
        "def test_count_own_lines():\n    assert count_lines(__file__) == 13\n\n\n"
        "def test_count_tmp(tmp_path):\n    p = tmp_path / 'x.txt'\n    p.write_text('a\\nb\\n')\n"
        "    assert count_lines(p) == 2\n\n\n"
        "def test_first_word():\n    assert first_word(__file__) == 'from'\n"
    ),
    "pyproject.toml": setuptools_pyproject("filelib"),
}


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="open: the gold run reads as tampered")
def test_a_library_whose_tests_pass_it_their_own_file_makes_tasks() -> None:
    root = state_dir("test-cache") / "file-library"
    for rel, text in LIBRARY.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    out = synth_cached(
        str(root), "audit-tasks-filelib", 3, functions=["count_lines", "first_word"],
        mutators=["change_constant", "off_by_one", "change_arith_op"],
    )  # fmt: skip
    made = out / "tasks.jsonl"
    assert made.is_file() and read_tasks(made), f"no task made of filelib in {out}"  # gold tampered
