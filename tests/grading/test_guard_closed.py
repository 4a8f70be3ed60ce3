"""A guarded run whose sandbox its owner closed before the results were read back, and one whose code
deleted the guard's results file. A synth run that stopped at `max_tasks` closed the sandbox of an
audit grade still running (jaraco.functools 4.6.0): the results file read as gone, and an honest gold
patch was graded `tampered`. A closed sandbox is the host's doing, never a verdict on the code; a file
the code deleted is still evidence."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codekiln.core.errors import SandboxClosed
from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard import GuardSession, Isolation
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

pytestmark = pytest.mark.root  # bwrap sandboxes

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
TEST = "tests/test_demo.py::test_double"
PROJECT = {
    "demo/__init__.py": "def double(x):\n    return 2 * x\n",
    "tests/test_demo.py": "from demo import double\n\n\ndef test_double():\n    assert double(2) == 4\n",
}
# Code under test that deletes the guard's results once the session wrote them (pytest's last hook).
DELETES = (
    "import glob\nimport os\n\n\ndef pytest_unconfigure(config):\n"
    "    for path in glob.glob('/tmp/codekiln-grader/*/results.json'):\n        os.unlink(path)\n"
)


def test_a_sandbox_closed_before_the_read_back_raises_instead_of_grading(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "demo", PROJECT)
    sb = BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV))
    try:
        iso = Isolation.for_environment(snapshot, VENV, [TEST])
        guard = GuardSession.start(sb, iso)
        result = sb.exec(
            guard.python() + guard.pytest_args() + CMD.argv([TEST], None, guard.junit)[3:],
            timeout=300,
            env=guard.env(CMD.env),
            cwd=sb.workdir,
        )
        assert f"codekiln-guard {guard.nonce} " in result.stdout, result.stdout + result.stderr
    finally:
        sb.close()  # what the owner does while a unit it no longer waits for still runs
    with pytest.raises(SandboxClosed, match="closed"):
        guard.read(sb, result)


def test_results_the_code_deleted_are_still_evidence(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "demo", {**PROJECT, "tests/conftest.py": DELETES})
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        run = run_tests(sb, CMD, [TEST], timeout=300)
    assert "the guard's marker was printed but its results file is gone" in run.evidence, run.log_tail
    assert run.statuses == {}
