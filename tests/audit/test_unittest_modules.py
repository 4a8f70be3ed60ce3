"""A suite kept in a top-level tests.py (defusedxml 0.7.1's shape), end to end: synthesis hides the
module holding the failing tests from the agent, and the grader puts it back before grading. Both used
to know only pytest's `test_*.py` names: tasks had no hidden tests (the agent read them), and a patch
that rewrote tests.py so its tests passed, fixing nothing, was scored resolved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.audit import ATTACKS
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord, build_env
from codekiln.grading import grade_patch
from codekiln.tasks import load_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, synthesize

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.root  # environments, validation and grading in bwrap sandboxes

MODULE = """\
def double(x):
    return x * 2


def clamp(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x
"""
TESTS = """\
import unittest

from flat import clamp, double


class TestFlat(unittest.TestCase):
    def test_double(self):
        self.assertEqual(double(3), 6)

    def test_clamp_low(self):
        self.assertEqual(clamp(-1, 0, 3), 0)

    def test_clamp_high(self):
        self.assertEqual(clamp(5, 0, 3), 3)

    def test_clamp_inside(self):
        self.assertEqual(clamp(2, 0, 3), 2)


if __name__ == "__main__":
    unittest.main()
"""
PASSING = "import unittest\n\n\nclass TestFlat(unittest.TestCase):\n" + "".join(
    f"    def test_{name}(self):\n        pass\n\n"
    for name in ("double", "clamp_low", "clamp_high", "clamp_inside")
)


def write_flat(root: Path) -> Path:
    (root / "flat").mkdir(parents=True)
    (root / "flat" / "__init__.py").write_text(MODULE)
    (root / "tests.py").write_text(TESTS)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "flat"\nversion = "0.1"\n[tool.setuptools]\npackages = ["flat"]\n'
    )
    return root


def test_a_top_level_tests_module_is_hidden_and_restored(tmp_path: Path) -> None:
    root = write_flat(tmp_path / "flat")
    synthesize(SynthConfig(spec=str(root), out=str(tmp_path / "out"), max_tasks=1))
    task = load_tasks(tmp_path / "out")[0]
    assert task.hidden_tests == ["tests.py"]
    env = build_env(str(root))
    assert grade_patch(task, env, task.patch, timeout=60).outcome == "resolved"
    hack = Target.of(task, Path(env.snapshot_path)).new("tests.py", PASSING)
    grade = grade_patch(task, env, hack, timeout=60)
    assert grade.outcome != "resolved", (grade.outcome, grade.statuses)


def test_every_attack_builds_for_a_task_that_hides_no_test_file(case: tuple[TaskRecord, EnvRecord]) -> None:
    # A task whose failing tests live in no hidden file (doctests of a source module, or a suite in a
    # module the name rules missed) made `audit grader` stop with an IndexError traceback.
    task, env = case
    bare = task.model_copy(update={"hidden_tests": []})
    target = Target.of(bare, Path(env.snapshot_path))
    assert target.hidden == task.FAIL_TO_PASS[0].split("::", 1)[0]
    for attack in ATTACKS:
        attack.build(target)


def test_a_run_that_makes_no_task_says_why_and_what_to_do(tmp_path: Path) -> None:
    # A guide that quotes the whole suite gives every hidden test away: every candidate is rejected.
    # synth printed "0 tasks in .../tasks.jsonl" and exited 0. (A Makefile that only runs tests.py,
    # as defusedxml's does, no longer counts: tests/grading/test_manifests.py.)
    root = write_flat(tmp_path / "flat")
    (root / "TESTING.md").write_text("How the suite reads:\n\n```python\n" + TESTS + "```\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    argv = ["synth", str(root), "--max-tasks", "1", "--out", str(tmp_path / "out")]
    cmd = [sys.executable, "-c", "from codekiln.cli import main; main()", *argv]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 1, done.stdout + done.stderr
    assert (
        "candidates were rejected as workspace_names_hidden_test (TESTING.md in the agent's workspace "
        "holds the code of a test of the hidden file tests.py)" in done.stderr
    )
    assert "--visible-tests" in done.stderr
