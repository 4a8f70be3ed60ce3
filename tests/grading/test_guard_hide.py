"""The held test files out of a child process's reach from the guard plugin's load on
(`grading.guard_plugin_hide`) and
put back by the grader after the run (`grading.hidden_tests`): real guarded runs in bwrap sandboxes.

Each test of the fixture suite checks one side from inside the guarded run (its status is the check):
a child's `cat` of the test file gets nothing (it is emptied, kept as a file: pytest imports a test
package's `__init__.py` again at its setup), nor does one the library runs at import, during
collection; a failed assertion still carries pytest's rewritten explanation (the module rewritten from
the bytes kept in memory); a child cannot open its parent's `/proc/<ppid>/mem`;
a data file beside the tests is still there; a held helper first imported in a test's body still
imports (from the test process's memory); a test that opens its own file after collection fails (the
price: on the clean snapshot too, so validation makes no task of it), its report still showing its
lines. After the run, and after a run
killed at its limit, every held file is back in the tree with its bytes."""

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
LIBRARY = """import os, subprocess, sys


def double(x):
    return 2 * x


def cat(path):
    return subprocess.run(["cat", path], capture_output=True, text=True).stdout


def parent_memory():
    code = "import os\\ntry:\\n    open('/proc/%d/mem' % os.getppid(), 'rb').close()\\n    print('opened')\\n" \\
        "except OSError as e:\\n    print('refused', e.errno)\\n"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip()


# a child run at import, while pytest collects (the twenty-first red team's child-at-import)
AT_IMPORT = subprocess.run(["cat", "tests/test_demo.py", "tests/conftest.py"], capture_output=True, text=True).stdout
"""
TESTS = """import os
import time
from pathlib import Path

import pytest

from demo import AT_IMPORT, cat, double, parent_memory


def test_double():
    assert double(2) == 4


def test_a_child_reads_nothing():
    assert cat(__file__) == ""
    assert cat(os.path.join(os.path.dirname(__file__), "conftest.py")) == ""


def test_a_child_at_import_read_nothing():
    assert AT_IMPORT == ""


def test_asserts_rewritten_from_memory():
    with pytest.raises(AssertionError) as caught:
        assert double(2) == 5
    assert "where 4 = double(2)" in str(caught.value)


def test_the_parent_memory_refused():
    assert parent_memory().startswith("refused"), parent_memory()


def test_data_beside_the_tests():
    assert (Path(__file__).parent / "data.txt").read_text() == "1 2\\n"


def test_a_helper_imported_late():
    from tests import helpers

    assert helpers.THREE == 3


def test_own_file_read_after_collection():
    assert open(__file__).read()


def test_hangs():
    if os.environ.get("HANG"):
        Path("/tmp/hidden-seen").write_text(str(os.path.getsize(__file__)))
        time.sleep(600)
"""
PROJECT = {
    "demo/__init__.py": LIBRARY,
    "tests/test_demo.py": TESTS,
    "tests/__init__.py": "PACKAGE = 1\n",  # pytest imports a test package's again at its setup
    "tests/conftest.py": "MARK = 1\n",
    "tests/helpers.py": "THREE = 3\n",
    "tests/data.txt": "1 2\n",
    "pytest.ini": "[pytest]\npythonpath = .\n",
}
IDS = [
    f"tests/test_demo.py::{name}"
    for name in (
        "test_double",
        "test_a_child_reads_nothing",
        "test_a_child_at_import_read_nothing",
        "test_asserts_rewritten_from_memory",
        "test_the_parent_memory_refused",
        "test_data_beside_the_tests",
        "test_a_helper_imported_late",
        "test_own_file_read_after_collection",
        "test_hangs",
    )
]


def _held_back(sb: BwrapSandbox) -> None:
    for rel in ("tests/test_demo.py", "tests/__init__.py", "tests/conftest.py", "tests/helpers.py"):
        assert sb.read_file(f"{sb.workdir}/{rel}") == PROJECT[rel].encode(), rel


def test_a_child_process_finds_no_test_file_and_the_grader_puts_them_back(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "demo", PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        run = run_tests(sb, CMD, IDS, timeout=300)
        assert not run.error and not run.evidence, (run.error, run.evidence, run.log_tail)
        failed = {t.split("::")[1] for t, status in run.statuses.items() if status != "passed"}
        assert failed == {"test_own_file_read_after_collection"}, run.log_tail
        assert "assert open(__file__).read()" in run.log_tail_full  # the report shows the test's lines
        _held_back(sb)
        again = run_tests(sb, CMD, IDS[:1], timeout=300)  # a later run on the same tree
        assert again.statuses == {IDS[0]: "passed"}, again.log_tail


def test_a_run_killed_at_its_limit_has_them_put_back(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "demo", PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        run = run_tests(
            sb, TestCommand(args=["tests"], env={"HANG": "1"}), IDS[-1:], timeout=10
        )  # the whole suite runs in ~3 s
        assert run.timed_out, run.log_tail
        assert sb.read_file("/tmp/hidden-seen") == b"0"  # the file was empty while the test ran
        _held_back(sb)
