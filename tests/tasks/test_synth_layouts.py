"""Synthesis on libraries whose failing tests include doctests (`--doctest-modules`), in a src layout and
a flat one: a doctest's id names the source module the bug changes, which must never be hidden from the
agent (it used to stop the whole run with "patch changes src/PKG/MODULE.py, which was not given")."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.validate import ValidateConfig, hidden_test_files

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

MODULE = '''
def double(x):
    """Twice x.

    >>> double(2)
    4
    """
    return x * 2


def clamp(x, low, high):
    """x limited to [low, high].

    >>> clamp(5, 0, 3)
    3
    >>> clamp(-1, 0, 3)
    0
    """
    if x < low:
        return low
    if x > high:
        return high
    return x
'''
TESTS = "from dtpkg import clamp, double\n\n\ndef test_double():\n    assert double(3) == 6\n\n\n" \
    "def test_clamp_inside():\n    assert clamp(2, 0, 3) == 2\n"  # fmt: skip


def write_library(root: Path, src_layout: bool) -> tuple[Path, str]:
    package = "src/dtpkg" if src_layout else "dtpkg"
    files = {
        f"{package}/__init__.py": MODULE,
        "tests/test_dt.py": TESTS,
        "pyproject.toml": textwrap.dedent(f"""
            [build-system]
            requires = ["setuptools"]
            build-backend = "setuptools.build_meta"
            [project]
            name = "dtpkg"
            version = "0.1"
            [tool.setuptools]
            packages = ["dtpkg"]
            {'package-dir = {"" = "src"}' if src_layout else ""}
            [tool.pytest.ini_options]
            addopts = "--doctest-modules"
            testpaths = ["{package.split("/")[0]}", "tests"]
        """),
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root, f"{package}/__init__.py"


def test_hidden_files_are_unchanged_test_modules() -> None:
    bug = "--- a/src/p/m.py\n+++ b/src/p/m.py\n@@ -1 +1 @@\n-a\n+b\n"
    failing = ["src/p/m.py::p.m.f", "src/p/other.py::p.other.g", "tests/test_m.py::test_f", "t/m_test.py::t"]
    assert hidden_test_files(failing, bug) == ["t/m_test.py", "tests/test_m.py"]


@pytest.mark.parametrize("src_layout", [True, False], ids=["src-layout", "flat"])
def test_doctest_failures_make_tasks_and_never_stop_the_run(tmp_path: Path, src_layout: bool) -> None:
    root, module = write_library(tmp_path / "lib", src_layout)
    config = SynthConfig(
        spec=str(root), out=tmp_path / "out", max_tasks=20, workers=1, batch_size=16,
        validation=ValidateConfig(engine="fresh"),
    )  # fmt: skip
    result = synthesize(config)
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert len(tasks) == result.funnel.validated > 0, result.funnel.rejected
    with_doctests = [t for t in tasks if any(x.startswith(f"{module}::") for x in t.FAIL_TO_PASS)]
    assert with_doctests, "no task is caught by a doctest"
    for task in tasks:
        assert module not in task.hidden_tests
        assert all(h == "tests/test_dt.py" for h in task.hidden_tests)
