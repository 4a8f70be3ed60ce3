"""A project whose own pytest-cov runs with every session (`--cov` in its addopts, as aiohappyeyeballs
2.7.1 has; zipp 4.1.2 gets it from pytest-enabler): the coverage map's run switches it off, or its
tracer stands in for the map's for the whole session and the map holds no line at all (every candidate
then selected the whole suite). A real build with pytest-cov from the package index, in bwrap."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import built_with_map, plugin_pyproject

pytestmark = pytest.mark.root  # an environment and its coverage run in bwrap sandboxes

PROJECT = {
    "pyproject.toml": plugin_pyproject("covpkg", "pytest-cov", "--cov=covpkg --cov-report=term-missing"),
    "covpkg/__init__.py": """
def half(x):
    if x < 0:
        raise ValueError("negative")
    return x / 2


def double(x):
    return x * 2
""",
    "tests/test_half.py": """
import pytest

from covpkg import double, half


def test_half():
    assert half(4) == 2


def test_negative():
    with pytest.raises(ValueError):
        half(-1)


def test_double():
    assert double(2) == 4
""",
}


def test_the_project_s_own_coverage_does_not_blank_the_map(tmp_path: Path) -> None:
    _, cmap, passed = built_with_map(tmp_path / "covpkg-src", PROJECT)
    assert passed == [
        "tests/test_half.py::test_double",
        "tests/test_half.py::test_half",
        "tests/test_half.py::test_negative",
    ]
    assert cmap.engine == "coverage"
    assert cmap.tests_for({"covpkg/__init__.py": {3}}) == {
        "tests/test_half.py::test_half",
        "tests/test_half.py::test_negative",
    }
    assert cmap.tests_for({"covpkg/__init__.py": {4}}) == {"tests/test_half.py::test_negative"}
    assert cmap.tests_for({"covpkg/__init__.py": {9}}) == {"tests/test_half.py::test_double"}
