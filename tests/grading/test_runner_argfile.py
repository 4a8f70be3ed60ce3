"""Test ids passed through an `@file` argument or not: a run of more than 100 test ids on an
environment whose pytest predates `@file` arguments (8.2) puts them on the command line (tomlkit 0.15.2
pins pytest 7.4.4, and every such run collected nothing, so synthesis made no task there; a real
environment, built with that pytest); an id too long for the command line goes in a file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codekiln.envs import build_env, env_sandbox
from codekiln.grading import TestCommand, run_tests
from codekiln.grading.runner import reads_argfiles
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo
from codekiln.testing.git import write_files

pytestmark = pytest.mark.root  # an environment built and run in bwrap sandboxes

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "oldpytest"
version = "0.1"
[project.optional-dependencies]
test = ["pytest==7.4.4"]
[tool.setuptools]
packages = ["oldpytest"]
"""


def test_more_than_100_ids_run_under_a_pytest_without_argfiles(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "oldpytest-src",
        {
            "pyproject.toml": PYPROJECT,
            "oldpytest/__init__.py": "def double(x):\n    return 2 * x\n",
            "tests/test_double.py": "import pytest\n\nfrom oldpytest import double\n\n\n"
            "@pytest.mark.parametrize('x', range(150))\ndef test_double(x):\n    assert double(x) == x + x\n",
        },
    )
    env = build_env(str(root))
    assert "pytest==7.4.4" in env.packages, env.packages
    tests = sorted(t for t, s in env.baseline.items() if s == "passed")
    assert len(tests) == 150
    with env_sandbox(env) as sb:
        assert not reads_argfiles(sb)
        run = run_tests(sb, env.test, tests[:120], timeout=300)
    assert run.error is None, run.log_tail
    assert set(run.statuses) == set(tests[:120]) and set(run.statuses.values()) == {"passed"}


def test_an_id_longer_than_one_argument_may_be_is_run(tmp_path: Path) -> None:
    """semver 3.2.0 parametrizes a test with a 200,000-character string, and pytest makes its id of
    it: a run asking for it by name did not start ("Argument list too long": Linux caps one argument
    at 128 KiB), so every shared gold run of its tasks failed. Long ids go through an @argfile."""
    snapshot = make_repo(
        tmp_path / "longid",
        {
            "pyproject.toml": b"[project]\nname='longid'\nversion='0'\n",
            "tests/test_long.py": b"import pytest\n\n\n@pytest.mark.parametrize('text', ['b', pytest.param('a', id='a' * 200_000)])\n"
            b"def test_length(text):\n    assert len(text) == 1\n",
        },
    )
    tests = [f"tests/test_long.py::test_length[{'a' * 200_000}]", "tests/test_long.py::test_length[b]"]
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        run = run_tests(sb, TestCommand(args=["tests"]), tests, timeout=300)
    assert run.error is None, run.log_tail
    assert run.statuses == dict.fromkeys(tests, "passed")
