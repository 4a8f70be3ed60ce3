"""A suite with an item of a directory (pytest-checkdocs' `.::project`, which zipp 4.1.2 runs): pytest
refuses such an id as an argument and then runs nothing, so validation must never ask for it. Bugs no
test is known to reach select the whole clean-passing suite, which held it: every such candidate came
back `infra_error` "no tests collected". A real build and synthesis of a small project made here."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.envs import build_env
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.selection import passing_sample
from codekiln.testing.git import write_files

pytestmark = pytest.mark.root  # environments and validation in bwrap sandboxes

PROJECT = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "diritem"
version = "0.1"
[tool.setuptools]
packages = ["diritem"]
""",
    # pytest-checkdocs' shape: an item collected from pyproject.toml, its parent the root directory
    "conftest.py": """
import pytest


class ProjectItem(pytest.Item):
    def runtest(self):
        pass


def pytest_collect_file(file_path, parent):
    if file_path.name == "pyproject.toml":
        return ProjectItem.from_parent(parent, name="project")
""",
    "diritem/__init__.py": """
def add(a, b):
    return a + b


def unused(items):
    total = 0
    for item in items:
        total += item
    return total
""",
    "test_add.py": """
from diritem import add


def test_add():
    assert add(2, 3) == 5


def test_add_negative():
    assert add(-2, 1) == -1
""",
}


def test_an_item_of_a_directory_is_never_selected(tmp_path: Path) -> None:
    root = write_files(tmp_path / "diritem-src", PROJECT)
    env = build_env(str(root))
    assert env.baseline.get(".::project") == "passed", env.baseline
    assert passing_sample(env.baseline, Path(env.snapshot_path)) == {
        "test_add.py::test_add",
        "test_add.py::test_add_negative",
    }
    result = synthesize(
        SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=20, workers=1, batch_size=8)
    )
    decisions = list(read_decisions(result.out))
    reasons = [str(getattr(d, "reason", "task")) for d in decisions]
    assert "infra_error" not in reasons, [(d.candidate_id, getattr(d, "detail", "")) for d in decisions]
    # `unused` is reached by no test: its bugs selected the whole suite, and are now decided
    unused = [d for d in decisions if any("unused" in e for e in getattr(d, "entities", []))]
    assert unused and all(str(getattr(d, "reason", "")) == "no_failing_test" for d in unused), unused
    tasks = [d for d in decisions if isinstance(d, TaskRecord)]
    assert tasks and all(".::project" not in d.PASS_TO_PASS for d in tasks)
