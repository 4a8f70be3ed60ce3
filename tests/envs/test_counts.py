"""What codekiln records of a suite against what pytest's own summary says, on one small real project run
both ways: guarded in a real bwrap sandbox and plainly as bench/envbuild.py runs it. Two classes the
bench found: a module skipped at collection (pytest counts it; codekiln kept no trace of it) and a test
with an error at teardown (pytest counts its pass or failure and the error; codekiln one status per id)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from envcompare import PLAIN_REPORT, plain_counts, triple_codekiln, triple_plain

KINDS = """\
import pytest


@pytest.fixture
def breaks_on_teardown():
    yield
    raise RuntimeError("teardown broke")


def test_pass_then_teardown_error(breaks_on_teardown):
    pass


def test_fail_then_teardown_error(breaks_on_teardown):
    assert False


@pytest.mark.xfail(strict=True)
def test_xpass_strict():
    pass


@pytest.mark.xfail
def test_xpass():
    pass


@pytest.mark.xfail
def test_xfail():
    assert False


@pytest.mark.skip(reason="not here")
def test_skipped():
    pass


def test_ok():
    pass
"""
PROJECT = {
    "pyproject.toml": b"[project]\nname='kinds'\nversion='0'\n",
    "tests/test_kinds.py": KINDS.encode(),
    "tests/test_modskip.py": b"import pytest\n\npytest.skip('no backend here', allow_module_level=True)\n\n\n"
    b"def test_never():\n    pass\n",
    "tests/test_importskip.py": b"import pytest\n\npytest.importorskip('codekiln_absent_mod')\n\n\n"
    b"def test_never():\n    pass\n",
}
K = "tests/test_kinds.py::"


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("kinds"), PROJECT)


@pytest.mark.root  # a bwrap sandbox
def test_codekiln_counts_what_pytest_counts_one_status_per_test(snapshot: Path, tmp_path: Path) -> None:
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        run = run_tests(sb, TestCommand(args=["tests"]))
    assert run.error is None and not run.evidence, run.log_tail
    assert run.statuses == {
        K + "test_pass_then_teardown_error": "error",
        K + "test_fail_then_teardown_error": "error",
        K + "test_xpass_strict": "failed",
        K + "test_xpass": "passed",
        K + "test_xfail": "skipped",
        K + "test_skipped": "skipped",
        K + "test_ok": "passed",
    }
    assert run.collection_skips == {
        "tests/test_modskip.py": "no backend here",
        "tests/test_importskip.py": "could not import 'codekiln_absent_mod': "
        "No module named 'codekiln_absent_mod'",
    }
    # pytest's summary for the same run: 11 reports for 9 outcomes (2 tests reported twice)
    assert "2 failed, 2 passed, 3 skipped, 1 xfailed, 1 xpassed, 2 errors" in run.log_tail_full

    # The bench's plain side, real pytest on a copy of the same project, read per test as codekiln records.
    tree = shutil.copytree(snapshot, tmp_path / "plain", ignore=shutil.ignore_patterns(".git"))
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", PLAIN_REPORT],
        cwd=tree, capture_output=True, text=True, timeout=120, check=False,
    ).stdout  # fmt: skip
    counts, _ = plain_counts(out)
    assert counts["counted_twice"] == 2
    c = run.counts()
    ck = {"ok": True, **c, "collection_skips": len(run.collection_skips), "collection_errors": 0}
    assert triple_plain(counts) == triple_codekiln(ck) == (2, 3, 4)


@pytest.mark.root  # a bwrap sandbox
def test_a_run_pytest_ends_with_an_internal_error_says_so_not_that_the_counts_differ(tmp_path: Path) -> None:
    """pydantic-settings: pytest crashed rendering a failure (INTERNALERROR, exit code 3) after counting
    it, and the build said "codekiln recorded 63 tests but pytest counted 64", then hinted at the test
    command. The crash is the cause: the run's error names it."""
    crash = "def pytest_runtest_logreport(report):\n    if report.failed:\n        raise RuntimeError('cannot render')\n"
    files = {
        "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
        "tests/conftest.py": crash.encode(),
        "tests/test_x.py": b"def test_ok():\n    pass\n\n\ndef test_bad():\n    assert 0\n",
    }
    with BwrapSandbox(SandboxSpec(snapshot=make_repo(tmp_path, files), venv=Path(sys.prefix))) as sb:
        run = run_tests(sb, TestCommand(args=["tests"]))
    assert run.error == (
        "pytest stopped with an internal error (exit code 3): RuntimeError: cannot render "
        "(raised in tests/conftest.py, line 3, in pytest_runtest_logreport)"
    )
