"""Fixtures for environment tests: the real toolz 1.2.0 environment, built once per CODEKILN_HOME."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from codekiln.envs import EnvRecord, build_env


@pytest.fixture(scope="session")
def toolz_env() -> EnvRecord:
    """Built in bwrap sandboxes: tests that use it are marked `root`."""
    return build_env("pypi:toolz==1.2.0")


def write_tiny(root: Path, expected: int = 5) -> Path:
    """A one-module project whose second test fails unless `expected` is 4."""
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "__init__.py").write_text("def double(x):\n    return x * 2\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_tiny.py").write_text(
        "from tiny import double\n\n\ndef test_ok():\n    assert double(2) == 4\n\n\n"
        f"def test_wrong():\n    assert double(2) == {expected}, 'two doubled is not {expected}'\n"
    )
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "tiny"\nversion = "0.1"\n[tool.setuptools]\npackages = ["tiny"]\n'
    )
    return root


@pytest.fixture
def make_tiny() -> Callable[..., Path]:
    """`make_tiny(root, expected=5)`: write a tiny project with one passing and one failing test."""
    return write_tiny
