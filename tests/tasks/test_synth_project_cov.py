"""A project whose pytest config turns its own pytest-cov on over its tests (`addopts = --cov`, zipp
4.1.2's through pytest-enabler): at the session's end coverage.py read the held test files
(`tests/__init__.py`) to make its report, from a generator its caller steps through, which the guard's
callers rule refuses and notes. The clean snapshot's guarded run on the grader's id-list path was then
`tampered`, no gold resolved and the project made no task. The guard now switches the project's coverage
off (`grading.guard_plugin_coverage`). A real build with pytest-cov from the package index, synthesized,
validated and graded for real in bwrap."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import plugin_pyproject

from codekiln.envs import build_env
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.testing.git import write_files

pytestmark = pytest.mark.root  # environment, coverage, validation and grading in bwrap sandboxes

PROJECT = {
    # `--cov` with no source measures everything the run imports under the working directory, the
    # tests' package included; `--cov-fail-under` would fail the session, the tests measuring low.
    "pyproject.toml": plugin_pyproject("covlib", "pytest-cov", "--cov --cov-report=term-missing"),
    "covlib/__init__.py": '''
def clamp(x, low, high):
    """x kept within [low, high]."""
    if x < low:
        return low
    if x > high:
        return high
    return x


def mean(values):
    total = sum(values)
    return total / len(values)
''',
    "tests/__init__.py": "",
    "tests/test_covlib.py": """
from covlib import clamp, mean


def test_clamp_low():
    assert clamp(-3, 0, 10) == 0


def test_clamp_high():
    assert clamp(42, 0, 10) == 10


def test_clamp_inside():
    assert clamp(5, 0, 10) == 5


def test_mean():
    assert mean([1, 2, 3, 6]) == 3
""",
}


def test_a_project_whose_own_coverage_covers_its_tests_makes_tasks_whose_gold_resolves(
    tmp_path: Path,
) -> None:
    root = write_files(tmp_path / "covlib-src", PROJECT)
    env = build_env(str(root))
    assert sorted(t for t, s in env.baseline.items() if s == "passed") == [
        "tests/test_covlib.py::test_clamp_high",
        "tests/test_covlib.py::test_clamp_inside",
        "tests/test_covlib.py::test_clamp_low",
        "tests/test_covlib.py::test_mean",
    ]
    result = synthesize(SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=2, workers=1))
    decisions = list(read_decisions(result.out))
    tasks = [d for d in decisions if isinstance(d, TaskRecord)]
    assert tasks, [(getattr(d, "reason", ""), getattr(d, "detail", "")) for d in decisions]
    for task in tasks:
        gold = grade_patch(task, env, task.patch)
        assert gold.outcome == "resolved", (gold.outcome, gold.detail)
        assert not grade_patch(task, env, "").resolved
