"""The guard's check that a test runs its source's code, on tests wrapped by a decorator library that
renames its proxy to the test's file (hypothesis's `@given`: `impersonate`). attrs 26.1.0's suite has
59 such tests; every grader run of them was `tampered` ("a test was replaced"), so the gold patch of
every attrs task whose tests include one was rejected as `gold_failed`. A proxy that runs code of the
tree itself under the test's file name is still evidence. Real pytest and hypothesis in a bwrap sandbox."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from codekiln.grading import TestCommand, run_tests
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
CMD = TestCommand(args=["tests"])
GIVEN = (
    b"from hypothesis import given, settings, strategies as st\n\n\n"
    b"class TestGiven:\n    @settings(max_examples=5, database=None)\n    @given(st.booleans())\n"
    b"    def test_method(self, flag):\n        assert flag in (True, False)\n\n\n"
    b"@settings(max_examples=5, database=None)\n@given(st.integers())\ndef test_function(n):\n"
    b"    assert n == n\n"
)
# The same renaming done by the tree's own code: a proxy that never calls the test.
DISGUISE = (
    b"def skipping(test):\n    def run(*args):\n        return None\n\n"
    b"    def proxy(*args):\n        return run(*args)\n\n"
    b"    proxy.__code__ = proxy.__code__.replace(co_filename=test.__code__.co_filename)\n"
    b"    proxy.__wrapped__ = test\n    return proxy\n"
)
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "demo/__init__.py": DISGUISE,
    "tests/__init__.py": b"",
    "tests/test_given.py": GIVEN,
    "tests/test_disguised.py": b"import demo\n\n\n@demo.skipping\ndef test_fails():\n    assert False\n",
}


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory):
    snapshot = make_repo(tmp_path_factory.mktemp("proxies"), PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


@pytest.mark.root  # a bwrap sandbox
def test_hypothesis_given_tests_are_their_sources_code(sb: BwrapSandbox) -> None:
    tests = ["tests/test_given.py::TestGiven::test_method", "tests/test_given.py::test_function"]
    run = run_tests(sb, CMD, tests)
    assert run.statuses == dict.fromkeys(tests, "passed"), run.log_tail
    assert run.evidence == []


@pytest.mark.root  # a bwrap sandbox
def test_a_proxy_of_the_trees_own_code_renamed_to_the_test_file_is_evidence(sb: BwrapSandbox) -> None:
    test = "tests/test_disguised.py::test_fails"
    run = run_tests(sb, CMD, [test])
    assert run.statuses == {test: "passed"}  # what the disguise buys, and why it is evidence
    assert any(
        e.startswith(f"a test was replaced: {test}: runs proxy() from") and "not the test's source" in e
        for e in run.evidence
    ), run.evidence
