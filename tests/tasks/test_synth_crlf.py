"""Synthesis on a library whose files end their lines with `\\r\\n` (pytweening 1.2.0): the mutators
read sources with universal newlines, so every bug's patch was made against `\\n` lines and none applied
to the file's bytes (302 of 302 candidates `patch_failed`, no task). A bug's patch now keeps the file's
line ends, and the tasks it makes grade as any other: the gold patch resolves, the empty one does not."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from codekiln.envs import load_env
from codekiln.grading import grade_patch
from codekiln.tasks.records import RejectedCandidate, TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

MODULE = '''
def ease(n):
    """n, clamped to [0, 1], squared."""
    if n < 0:
        return 0.0
    if n > 1:
        return 1.0
    return n * n


def steps(count):
    return [ease(i / count) for i in range(count + 1)]
'''
TESTS = """
import unittest

import crlib


class LineTests(unittest.TestCase):
    def test_ends(self):
        self.assertEqual(crlib.ease(0), 0.0)
        self.assertEqual(crlib.ease(1), 1.0)

    def test_middle(self):
        self.assertEqual(crlib.ease(0.5), 0.25)

    def test_clamped(self):
        self.assertEqual(crlib.ease(-2), 0.0)
        self.assertEqual(crlib.ease(3), 1.0)

    def test_steps(self):
        self.assertEqual(crlib.steps(2), [0.0, 0.25, 1.0])
"""
PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "crlib"
version = "0.1"
[tool.setuptools]
packages = ["crlib"]
"""


def test_a_library_with_windows_line_ends_makes_tasks(tmp_path: Path) -> None:
    root = tmp_path / "crlib"
    files = {"crlib/__init__.py": MODULE, "tests/test_crlib.py": TESTS, "pyproject.toml": PYPROJECT}
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(textwrap.dedent(text).lstrip().replace("\n", "\r\n").encode())
    result = synthesize(SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=2, workers=1))
    decisions = list(read_decisions(result.out))
    failed = [d.detail for d in decisions if isinstance(d, RejectedCandidate) and d.reason == "patch_failed"]
    assert not failed, failed[:3]
    tasks = [d for d in decisions if isinstance(d, TaskRecord)]
    assert tasks, [(d.reason, d.detail) for d in decisions if isinstance(d, RejectedCandidate)]
    task = tasks[0]
    assert "\r\n" in task.patch  # the fix is made in the file's own line ends
    env = load_env(task.environment_id or "")
    assert grade_patch(task, env, task.patch).resolved
    assert not grade_patch(task, env, "").resolved
