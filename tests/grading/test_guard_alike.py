"""Two files importable under one name (semver 3.2.0: `tests/semverwithvprefix.py`, which the tests
load through `pythonpath = src tests`, and `docs/advanced/semverwithvprefix.py`, a copy the docs show):
the guard held the name to the docs' copy, so the run that loaded the tests' copy was `tampered` ("is not
the module loaded from it") and no shared gold run of the library counted. The guard now holds the name
to the file the module was loaded from, each read before the tests run; a module made to look like one
of them is still evidence. Real pytest in a bwrap sandbox, through `run_tests`."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.support import held_modules
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

HELPER = b"def check(value):\n    assert value == 2\n"
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "pytest.ini": b"[pytest]\npythonpath = . tests\n",
    "demo/__init__.py": b"def two():\n    return 2\n\n\ndef swap():\n    import sys, types\n"
    b"    fake = types.ModuleType('helper')\n    fake.__file__ = sys.modules['helper'].__file__\n"
    b"    fake.check = lambda value: None\n    sys.modules['helper'] = fake\n",
    "docs/helper.py": HELPER,
    "tests/helper.py": HELPER,
    "tests/test_demo.py": b"import helper\n\nimport demo\n\n\ndef test_two():\n    helper.check(demo.two())\n",
    "tests/test_swapped.py": b"import helper\n\nimport demo\n\ndemo.swap()\n\n\ndef test_one():\n"
    b"    import helper\n\n    helper.check(1)\n",
}


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("alike"), PROJECT)


@pytest.mark.root  # a bwrap sandbox
def test_the_loaded_one_of_two_same_named_helpers_is_held(snapshot: Path) -> None:
    assert "docs/helper.py" in held_modules(snapshot, ["tests/test_demo.py"])
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        honest = run_tests(sb, TestCommand(args=["tests"]), ["tests/test_demo.py::test_two"])
        assert honest.statuses == {"tests/test_demo.py::test_two": "passed"}, honest.log_tail
        assert honest.evidence == []
        swapped = run_tests(sb, TestCommand(args=["tests"]), ["tests/test_swapped.py::test_one"])
    assert any("helper.py: " in e for e in swapped.evidence), (swapped.statuses, swapped.evidence)
