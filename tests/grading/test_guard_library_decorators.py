"""The guard's check that a test runs its source's code, on tests decorated by the graded library's own
decorator (testfixtures 12.4.0's tests use its `@replace(...)`, a `functools.wraps` wrapper, `patched()`
of `src/testfixtures/utils.py`): 79 tests read as "a test was replaced", so the gate's shared gold run
was `tampered`. A wrapper is the source's doing when the test's source writes a decorator of that
package above it and the callable is still the one collection made; a test the library wraps after
collection is still evidence. Real pytest in a bwrap sandbox; `demo` stands in for testfixtures."""

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
# testfixtures' shape: `replace` in one module, the wrapper (`patched`, replacings shared) in another.
UTILS = b"""from functools import wraps


def wrap(before, after):
    def wrapper(func):
        if hasattr(func, "replacings"):
            func.replacings.append((before, after))
            return func

        @wraps(func)
        def patched(*args, **kw):
            for b, _ in patched.replacings:
                b()
            try:
                return func(*args, **kw)
            finally:
                for _, a in patched.replacings:
                    a()

        patched.replacings = [(before, after)]
        return patched

    return wrapper
"""
REPLACE = b"""from demo.utils import wrap

state = {}


def replace(name, value):
    return wrap(lambda: state.__setitem__(name, value), lambda: state.pop(name, None))
"""
# The library wrapping a test after collection: the item of the test named is given a wrapper of the
# library's own (found through the frames of pytest's run), one that never calls the test.
SWAP = b"""import sys
from functools import wraps


def swap_later(name):
    frame = sys._getframe(1)
    while frame is not None and "item" not in frame.f_locals:
        frame = frame.f_back
    for item in frame.f_locals["item"].session.items:
        if item.name == name:
            inner = item.obj

            @wraps(inner)
            def swapped(*args, **kw):
                return None

            item.obj = swapped
"""
TESTS = b"""import demo
from demo import replace
from demo.swap import swap_later


@replace("a", 1)
@replace("b", 2)
def test_twice():
    assert demo.state == {"a": 1, "b": 2}


class TestInClass:
    @demo.replace("a", 3)
    def test_method(self):
        assert demo.state == {"a": 3}


@replace("a", 4)
def test_fails():
    assert demo.state == {}
"""
SWAPPED = b"""from demo import replace
from demo.swap import swap_later


def test_arms():
    swap_later("test_later")


@replace("a", 1)
def test_later():
    assert False
"""
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "demo/__init__.py": b"from demo.replace import replace, state\n",
    "demo/utils.py": UTILS,
    "demo/replace.py": REPLACE,
    "demo/swap.py": SWAP,
    "tests/__init__.py": b"",
    "tests/test_decorated.py": TESTS,
    "tests/test_swapped.py": SWAPPED,
}


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory):
    snapshot = make_repo(tmp_path_factory.mktemp("decorators"), PROJECT)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


@pytest.mark.root  # a bwrap sandbox
def test_tests_decorated_by_the_librarys_own_decorator_are_their_sources_code(sb: BwrapSandbox) -> None:
    passing = ["tests/test_decorated.py::test_twice", "tests/test_decorated.py::TestInClass::test_method"]
    failing = "tests/test_decorated.py::test_fails"
    run = run_tests(sb, CMD, [*passing, failing])
    assert run.statuses == {**dict.fromkeys(passing, "passed"), failing: "failed"}, run.log_tail
    assert run.evidence == []


@pytest.mark.root  # a bwrap sandbox
def test_a_decorated_test_the_library_wraps_after_collection_is_evidence(sb: BwrapSandbox) -> None:
    tests = ["tests/test_swapped.py::test_arms", "tests/test_swapped.py::test_later"]
    run = run_tests(sb, CMD, tests)
    assert run.statuses == dict.fromkeys(tests, "passed")  # what the swap buys, and why it is evidence
    assert any(
        e.startswith(f"a test was replaced: {tests[1]}: runs swapped() from") and "not the test's source" in e
        for e in run.evidence
    ), run.evidence
