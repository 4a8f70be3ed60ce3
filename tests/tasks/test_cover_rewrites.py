"""The coverage run's rewritten test code, handed to validation's warm session (`pytest_patches.GIVEN`),
in a real bwrap sandbox: the session runs that code instead of rewriting the same bytes, only for the
bytes it was made from, and exports the coverage run's guard entries, equal to the ones it makes itself."""

from __future__ import annotations

import marshal
import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand
from codekiln.grading.guard_rewrites import PLAIN, REWRITES, rewrite_key
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.tasks.validation.coverage_map import DATA, keep_rewritten
from codekiln.tasks.validation.testexec import BASE_OPTIONS, COVER_RUNNER, Job, WarmExecutor, install_runners
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
TEST = "tests/test_c.py::test_sum"
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "tests/test_c.py": b"def test_sum():\n    assert 1 + 1 == 2\n",
}


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory):
    snapshot = make_repo(tmp_path_factory.mktemp("cover-rewrites"), dict(PROJECT))
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


def warm_run(sb: BwrapSandbox) -> tuple[str, dict[str, tuple[object, ...]]]:
    """The test's status in a new warm session on the snapshot as it is (no byte-code written by
    earlier runs), and the guard entries the session exported."""
    sb.reset()
    executor = WarmExecutor(sb, CMD, collect=["tests/test_c.py"])
    try:
        result = executor.run([Job("clean", [TEST])])["clean"]
    finally:
        executor.stop()
    key = rewrite_key(str(VENV), sb.workdir)
    return result.runs[0].statuses[TEST], marshal.loads(REWRITES.get(key) or b"")


@pytest.mark.root  # a bwrap sandbox
def test_the_warm_session_starts_from_the_coverage_runs_test_code(sb: BwrapSandbox) -> None:
    key, path = rewrite_key(str(VENV), sb.workdir), f"{sb.workdir}/tests/test_c.py"
    before = REWRITES.get(key), PLAIN.get(key)
    try:
        install_runners(sb)
        res = sb.exec(["python", COVER_RUNNER, DATA, "--", *BASE_OPTIONS, "tests"], timeout=120)
        assert res.exit_code == 0, res.output
        keep_rewritten(sb, VENV)
        plain = marshal.loads(PLAIN.get(key) or b"")[path]
        guard = marshal.loads(REWRITES.get(key) or b"")[path]
        sha, hook, code = plain
        assert hook is False and code.co_filename == path and guard[:2] == (sha, hook)
        assert len(guard) == 4 and guard[3] == ("test",)

        # given nothing, the session rewrites and wraps the module itself: the same code
        PLAIN.keep(key, marshal.dumps({}))
        REWRITES.keep(key, marshal.dumps({}))
        status, own = warm_run(sb)
        assert status == "passed" and own[path] == guard

        # given code under the real bytes' hash is what the session runs, and its guard entry is exported
        failing = compile("def test_sum():\n    assert 1 + 1 == 3\n", path, "exec", dont_inherit=True)
        marked = (*guard[:2], guard[2].replace(co_name="<given>"), guard[3])
        PLAIN.keep(key, marshal.dumps({path: (sha, hook, failing)}))
        REWRITES.keep(key, marshal.dumps({path: marked}))
        status, exported = warm_run(sb)
        assert status == "failed" and exported[path] == marked

        # code given for other bytes is not run: the module is rewritten (and wrapped) as usual
        PLAIN.keep(key, marshal.dumps({path: ("0" * 64, hook, failing)}))
        status, exported = warm_run(sb)
        assert status == "passed" and exported[path] == guard
    finally:  # other tests of this process share the caches (and this path)
        REWRITES.keep(key, before[0] or marshal.dumps({}))
        PLAIN.keep(key, before[1] or marshal.dumps({}))
