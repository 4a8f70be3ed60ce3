"""Honest suites at collection under the held files emptied at the guard plugin's load
(`grading.guard_plugin_hide`): real guarded runs in bwrap sandboxes.

- `--doctest-modules --import-mode importlib` with a test package (`tests/__init__.py`: zipp 4.1.2's
  own pytest.ini, as jaraco's projects configure pytest): pytest's doctest collector imports the
  package by a spec it asks `sys.meta_path` for in the package's own folder; the held module's finder must serve it there, else the import system read the
  emptied `__init__.py` from disk and the run was a collection error with "a test was replaced" evidence
  (graded tampered) where plain pytest passes.
- a module that fails to collect: its report shows the module's lines (pytest read the emptied file:
  `???`), as plain pytest's does.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

pytestmark = pytest.mark.root  # bwrap sandboxes

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
PROJECT = {
    "demo/__init__.py": "def double(x):\n    return 2 * x\n",
    "tests/__init__.py": "PACKAGE = 1\n",
    "tests/helpers.py": "THREE = 3\n",
    "tests/test_demo.py": (
        "from demo import double\nfrom tests.helpers import THREE\n\n\n"
        "def test_double():\n    assert double(THREE) == 6\n\n\n"
        "def test_rewritten():\n    value = double(1)\n    assert value == 2, value\n"
    ),
    "pytest.ini": "[pytest]\npythonpath = .\naddopts = --doctest-modules --import-mode importlib\n",
}
IDS = ["tests/test_demo.py::test_double", "tests/test_demo.py::test_rewritten"]
BROKEN = {
    **PROJECT,
    "tests/test_broken.py": "VALUE = 1\n\n\ndef helper():\n    raise RuntimeError('broken at import')\n\n\nhelper()\n",
}


def test_a_test_package_imported_in_importlib_mode(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "demo", PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        run = run_tests(sb, CMD, IDS, timeout=300)
    assert not run.error and not run.evidence, (run.error, run.evidence, run.log_tail)
    assert not run.collection_errors, run.collection_errors
    assert run.statuses == dict.fromkeys(IDS, "passed"), run.log_tail


def test_a_collection_error_shows_the_module_lines(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "demo", BROKEN)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        run = run_tests(sb, CMD, [*IDS, "tests/test_broken.py"], timeout=300)
        assert sb.read_file(f"{sb.workdir}/tests/test_broken.py") == BROKEN["tests/test_broken.py"].encode()
    assert not run.evidence, run.evidence
    assert "RuntimeError: broken at import" in run.collection_errors.get("tests/test_broken.py", ""), (
        run.log_tail
    )
    log = run.log_tail_full
    assert "    helper()" in log and "raise RuntimeError('broken at import')" in log, log  # not `???`
