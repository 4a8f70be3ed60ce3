"""Rewritten test code shared between guarded runs (grading.guard_rewrites), in a real bwrap sandbox:
a run on a trusted tree (or validation's warm session) exports what it rewrote, later runs run that
code, and only for sources whose bytes hash as the entry says, wrapped for the run's patterns."""

from __future__ import annotations

import ast
import marshal
import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard_plugin_bodies import wrap_tests, wrapped
from codekiln.grading.guard_rewrites import REWRITES, rewrite_key
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.tasks.validation.testexec import Job, WarmExecutor
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
TEST = "tests/test_e.py::test_sum"
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "tests/test_e.py": b"def test_sum():\n    assert 1 + 1 == 2\n",
}


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory):
    snapshot = make_repo(tmp_path_factory.mktemp("rewrites"), dict(PROJECT))
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


def wrapped_compile(source: str, path: str) -> object:
    """Test code as the guard keeps it: each test function's body wrapped (`guard_plugin_bodies`)."""
    tree = ast.parse(source)
    wrap_tests(tree, ["test"])
    return compile(tree, path, "exec", dont_inherit=True)


@pytest.mark.root  # a bwrap sandbox
def test_a_trusted_run_exports_and_later_runs_use_only_entries_for_their_bytes(sb: BwrapSandbox) -> None:
    key = rewrite_key(str(VENV), sb.workdir)
    run = run_tests(sb, CMD, [TEST], export_rewrites=True)
    assert run.statuses == {TEST: "passed"} and not run.evidence, run.log_tail
    path = f"{sb.workdir}/tests/test_e.py"
    entries = marshal.loads(REWRITES.get(key) or b"")
    sha, hook, code, patterns = entries[path]
    assert hook is False and code.co_filename == path and patterns == ("test",)

    failing = wrapped_compile("def test_sum():\n    assert 1 + 1 == 3\n", path)
    try:
        # what a later run executes is the kept code: code that fails, under the real source's hash
        REWRITES.keep(key, marshal.dumps({path: (sha, hook, failing)}))
        run = run_tests(sb, CMD, [TEST])
        assert run.statuses == {TEST: "failed"} and not run.evidence, run.log_tail

        # kept code whose tests are not wrapped (the warm runner's export) is not run: rewritten as usual
        plain = compile("def test_sum():\n    assert 1 + 1 == 3\n", path, "exec", dont_inherit=True)
        REWRITES.keep(key, marshal.dumps({path: (sha, hook, plain)}))
        run = run_tests(sb, CMD, [TEST])
        assert run.statuses == {TEST: "passed"} and not run.evidence, run.log_tail

        # an entry made for other bytes is never run: the source is rewritten as usual
        REWRITES.keep(key, marshal.dumps({path: ("0" * 64, hook, failing)}))
        run = run_tests(sb, CMD, [TEST])
        assert run.statuses == {TEST: "passed"} and not run.evidence, run.log_tail

        # an entry names the python_functions its tests were wrapped for: used under those alone
        REWRITES.keep(key, marshal.dumps({path: (sha, hook, failing, ("test",))}))
        run = run_tests(sb, CMD, [TEST])
        assert run.statuses == {TEST: "failed"} and not run.evidence, run.log_tail
        REWRITES.keep(key, marshal.dumps({path: (sha, hook, failing, ("check",))}))
        run = run_tests(sb, CMD, [TEST])
        assert run.statuses == {TEST: "passed"} and not run.evidence, run.log_tail
    finally:  # other tests of this process share the cache (and this path)
        REWRITES.keep(key, marshal.dumps(entries))


@pytest.mark.root  # a bwrap sandbox
def test_the_warm_session_exports_its_test_code_as_the_guard_compiles_it(sb: BwrapSandbox) -> None:
    """Validation's warm session rewrote the test modules from source at start-up: it exports them
    wrapped for its `python_functions`, the very code a guarded run on the clean tree compiles, so the
    environment's first guarded run need not rewrite them (`pytest_patches.guard_entries`)."""
    key, path = rewrite_key(str(VENV), sb.workdir), f"{sb.workdir}/tests/test_e.py"
    before = REWRITES.get(key)
    try:
        REWRITES.keep(key, marshal.dumps({}))  # nothing kept: the guard compiles the module itself
        run = run_tests(sb, CMD, [TEST], export_rewrites=True)
        assert run.statuses == {TEST: "passed"} and not run.evidence, run.log_tail
        guard = marshal.loads(REWRITES.get(key) or b"")[path]

        executor = WarmExecutor(sb, CMD, collect=["tests/test_e.py"])
        result = executor.run([Job("clean", [TEST])])["clean"]
        executor.stop()
        assert result.runs[0].statuses == {TEST: "passed"}, result
        warm = marshal.loads(REWRITES.get(key) or b"")[path]
        assert len(warm) == 4 and warm[:2] == guard[:2] and warm[3] == guard[3] == ("test",)
        assert warm[2] == guard[2] and warm[2].co_filename == path and wrapped(warm[2], None)

        # and the guard runs it as given: kept code under the real bytes' hash is what runs
        failing = wrapped_compile("def test_sum():\n    assert 1 + 1 == 3\n", path)
        REWRITES.keep(key, marshal.dumps({path: (*warm[:2], failing, warm[3])}))
        run = run_tests(sb, CMD, [TEST])
        assert run.statuses == {TEST: "failed"} and not run.evidence, run.log_tail
    finally:  # other tests of this process share the cache (and this path)
        REWRITES.keep(key, before or marshal.dumps({}))
