"""A suite whose run lints its own test modules (jaraco.functools 4.6.0's shape: its tox run enables
pytest-ruff and pytest-mypy through pytest-enabler, so `test_functools.py::ruff` and `::mypy` are items
of the suite). The grader appended its canary tests (`assert 1167518 == 1167518`) to the hidden test
module, the linter's item of that module failed, and no gold patch resolved: 32 of 102 candidates
were rejected gold_failed and no task came out. The canaries now go to a module no graded test lints.
The linter here is a conftest plugin that flags constant comparisons, as ruff's PLR0133 does.

pytest-ruff's second item of a module, `test_functools.py::ruff::format`, is named with `::`: pytest
never finds it by id, so it was missing from every grade that named it (the hidden file's passing
tests are graded) and no gold patch resolved either. Such ids are neither selected nor graded."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.core.testnames import named_inside_an_item
from codekiln.envs import build_env
from codekiln.grading import grade_patch
from codekiln.grading.graded import canary_module
from codekiln.grading.guard_check import checks_module_text
from codekiln.tasks import load_tasks
from codekiln.tasks.synth import SynthConfig, synthesize

pytestmark = pytest.mark.root  # environments, validation and grading in bwrap sandboxes

MODULE = """\
def clamp(x, low, high):
    if x < low:
        return low
    if x > high:
        return high
    return x
"""
TESTS = """\
from linted import clamp


def test_clamp_low():
    assert clamp(-1, 0, 3) == 0


def test_clamp_high():
    assert clamp(5, 0, 3) == 3


def test_clamp_inside():
    assert clamp(2, 0, 3) == 2
"""
LINTER = """\
import ast

import pytest


class Lint(pytest.Item):
    def runtest(self):
        for node in ast.walk(ast.parse(self.path.read_text())):
            if isinstance(node, ast.Compare) and all(
                isinstance(n, ast.Constant) for n in (node.left, *node.comparators)
            ):
                raise AssertionError(f"line {node.lineno}: two constants compared")


class Formatted(pytest.Item):
    def runtest(self):
        pass


class Linted(pytest.File):
    def collect(self):
        yield Lint.from_parent(self, name="lint")
        yield Formatted.from_parent(self, name="lint::format")


def pytest_collect_file(file_path, parent):
    if file_path.name.startswith("test_") and file_path.suffix == ".py":
        return Linted.from_parent(parent, path=file_path)
"""


def write_linted(root: Path) -> Path:
    (root / "linted").mkdir(parents=True)
    (root / "linted" / "__init__.py").write_text(MODULE)
    (root / "tests").mkdir()
    (root / "tests" / "test_clamp.py").write_text(TESTS)
    (root / "conftest.py").write_text(LINTER)
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "linted"\nversion = "0.1"\n[tool.setuptools]\npackages = ["linted"]\n'
    )
    return root


def test_a_linted_test_module_gets_no_canaries_and_an_honest_gold_resolves(tmp_path: Path) -> None:
    root = write_linted(tmp_path / "linted")
    synthesize(SynthConfig(spec=str(root), out=str(tmp_path / "out"), max_tasks=1))
    out = tmp_path / "out"
    assert (out / "tasks.jsonl").is_file(), (out / "rejected.jsonl").read_text()  # was: all gold_failed
    task = load_tasks(out)[0]
    assert task.hidden_tests == ["tests/test_clamp.py"]
    env = build_env(str(root))
    assert env.baseline["tests/test_clamp.py::lint"] == "passed"
    assert env.baseline["tests/test_clamp.py::lint::format"] == "passed"
    assert "tests/test_clamp.py::lint" in task.PASS_TO_PASS
    assert "tests/test_clamp.py::lint::format" not in task.tests  # pytest cannot be asked for it
    module, existing = canary_module(task, Path(env.snapshot_path), ["tests/test_clamp.py::lint"])
    assert module.startswith("tests/test_") and module != "tests/test_clamp.py" and existing == ""
    grade = grade_patch(task, env, task.patch, timeout=60)
    assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.statuses)
    assert grade.statuses["tests/test_clamp.py::lint"] == "passed"


def test_which_ids_name_an_item_inside_an_item(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("class TestB:\n    def test_c(self): ...\n")
    assert named_inside_an_item("t.py::ruff::format", tmp_path)
    for test_id in ("t.py::TestB::test_c", "t.py::ruff", "t.py::t.TestB", "u.py::x::y", "d/::x::y"):
        assert not named_inside_an_item(test_id, tmp_path)  # a class's test, one part, a doctest, unread


def test_which_items_check_a_modules_text() -> None:
    ids = ["t.py::test_a", "t.py::TestB::test_c", "t.py::test_d[1-2]", "t.py::t.helper", "t.py::imported"]
    source = "from x import imported\n\ndef test_a(): ...\nclass TestB: ...\ntest_d = 1\n"
    assert not checks_module_text("t.py", source, ids)  # functions, classes, names, doctests
    for lint in ("t.py::ruff", "t.py::ruff::format", "t.py::mypy", "t.py::flake-8::FLAKE8"):
        assert checks_module_text("t.py", source, [*ids, lint])
    assert not checks_module_text("u.py", source, ["t.py::mypy"])  # another module's item
    assert not checks_module_text("t.py", "def (:\n", ["t.py::mypy"])  # pytest cannot collect it either
