"""The warm engine's re-import (a bug in code that runs at import time, or one it cannot swap in) on a
project whose conftest.py defines fixtures from the package's code, as click's does (`runner`, from
`click.testing`). With pytest >= 9.2 the second collection lost every conftest fixture: each test using
one failed with FixtureLookupError, so click tasks came out with 1,189 FAIL_TO_PASS tests that a real
grader run of the empty patch passes; and a conftest kept from the first session still held the old
modules' objects (the bug never reached its fixtures). Real pytest in a bwrap sandbox, with codekiln's
own venv (pytest 9.2)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.tasks.validation.testexec import Job, WarmExecutor
from codekiln.testing import make_repo

SOURCE = "def zero():\n    return 0\n"
PROJECT = {
    # not installed: pytest's `pythonpath` puts it on the path of guarded runs too (`python -P`)
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n[tool.pytest.ini_options]\npythonpath=['.']\n",
    "demo/__init__.py": SOURCE.encode(),
    "tests/conftest.py": b"import pytest\n\nfrom demo import zero\n\n\n@pytest.fixture()\ndef value():\n"
    b"    return zero()\n",
    "tests/test_value.py": b"def test_value(value):\n    assert value == 0\n",
}
TEST = "tests/test_value.py::test_value"


@pytest.mark.root  # a bwrap sandbox
def test_a_reimport_runs_conftest_fixtures_on_the_new_code(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path / "demo", PROJECT)
    same = {"demo/__init__.py": SOURCE.replace("return 0", "return  0")}  # alters no behaviour
    wrong = {"demo/__init__.py": SOURCE.replace("return 0", "return 1")}
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        executor = WarmExecutor(sb, TestCommand(args=["tests"]), collect=["tests/test_value.py"])
        results = executor.run(
            [
                Job("same", [TEST], same, repeat=2, reimport=True),
                Job("wrong", [TEST], wrong, repeat=2, reimport=True),
                # what validation gives a bug that runs at import time here: fresh processes beside
                # the session, the bug's files put back after
                Job("fresh", [TEST], wrong, repeat=2, timeout=60, fresh=True),
            ]
        )
        after = executor.run([Job("after", [TEST])])["after"]
        executor.stop()
    fresh = results["fresh"]
    assert [r.statuses.get(TEST) for r in fresh.runs] == ["failed", "failed"], fresh
    assert after.runs[0].statuses == {TEST: "passed"}, after  # the workspace is the snapshot again
    same_runs, wrong_runs = results["same"], results["wrong"]
    assert same_runs.reimported and wrong_runs.reimported
    assert [r.statuses.get(TEST) for r in same_runs.runs] == ["passed", "passed"], same_runs.runs[0].messages
    assert [r.statuses.get(TEST) for r in wrong_runs.runs] == ["failed", "failed"]
    assert "assert 1 == 0" in wrong_runs.runs[0].messages.get(TEST, ""), wrong_runs.runs[0].messages
    # the bug reached the fixture: the conftest's `from demo import zero` ran again


def _unchecked_pyc(source: str) -> bytes:
    """`source` compiled as a hash-based .pyc whose hash is never checked: what a stale cache, keyed on a
    size and an mtime second the bug shares with the original, amounts to, made deterministic."""
    import importlib.util
    import marshal

    flags = (1).to_bytes(4, "little")  # hash-based, check_source off
    return (
        importlib.util.MAGIC_NUMBER
        + flags
        + b"\0" * 8
        + marshal.dumps(compile(source, "__init__.py", "exec"))
    )


@pytest.mark.root  # a bwrap sandbox
@pytest.mark.parametrize("how", ["reimport", "fresh"])
def test_a_job_never_runs_the_byte_code_cached_for_its_files(tmp_path: Path, how: str) -> None:
    """A bug of the original's size written in the second the session's collection cached the original's
    byte-code once resolved tasks on a fast machine: the job's runs imported the original. The bug's files
    lose their cached byte-code first, in the warm runner and on the host (fresh processes)."""
    snapshot = make_repo(tmp_path / "demo", PROJECT)
    cache = snapshot / "demo" / "__pycache__"
    cache.mkdir()
    tag = sys.implementation.cache_tag
    (cache / f"__init__.{tag}.pyc").write_bytes(_unchecked_pyc(SOURCE))
    wrong = {"demo/__init__.py": SOURCE.replace("return 0", "return 1")}
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=Path(sys.prefix))) as sb:
        executor = WarmExecutor(sb, TestCommand(args=["tests"]), collect=["tests/test_value.py"])
        job = Job("wrong", [TEST], wrong, timeout=60, reimport=how == "reimport", fresh=how == "fresh")
        result = executor.run([job])["wrong"]
        executor.stop()
    assert [r.statuses.get(TEST) for r in result.runs] == ["failed"], result
