"""Test modules named only by the project's `python_files` are tests, not code to put bugs in: jsonpatch
1.48's pytest.ini collects `tests.py property_tests.py`, and synthesis mutated `property_tests.py` (its
hypothesis tests): every such candidate failed only tests the agent would read (`no_hidden_failing_test`)
or took minutes to decide. Real environment (bwrap sandbox) and the real candidate plan."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.envs import build_env
from codekiln.tasks.synth import SynthConfig, plan_candidates
from codekiln.testing.git import write_files

FILES = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "propslib"
version = "0.1"
[tool.setuptools]
packages = ["propslib"]
[tool.pytest.ini_options]
python_files = ["tests.py", "property_checks.py"]
""",
    "propslib/__init__.py": '''
def clamp(x, low, high):
    """
    >>> clamp(5, 0, 3)
    3
    """
    if x < low:
        return low
    return min(x, high)
''',
    "tests.py": """
from propslib import clamp


def test_clamp():
    assert clamp(-1, 0, 3) == 0
""",
    "property_checks.py": """
from propslib import clamp


def check_range(x):
    return 0 <= clamp(x, 0, 3) <= 3


def test_in_range():
    assert all(check_range(x) for x in range(-5, 6))
""",
}

pytestmark = pytest.mark.root  # the environment is built and run in a bwrap sandbox


def test_modules_the_config_names_as_tests_are_not_mutated(tmp_path: Path) -> None:
    root = write_files(tmp_path / "propslib", FILES)
    env = build_env(str(root))
    assert env.baseline == {"property_checks.py::test_in_range": "passed", "tests.py::test_clamp": "passed"}
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=str(root), out=tmp_path / "out"))
    assert candidates
    files = {e.file for e in entities} | {eid.split("::")[0] for c in candidates for eid in c.entities}
    assert files == {"propslib/__init__.py"}
