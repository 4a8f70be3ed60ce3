"""The tenth red team's open attacks, closed: a failure's evidence comes from the test's own code.

The guard announced failures from a pluggy hook given pytest's report, and code under test that
controls the report chain controlled the announcement: pluggy's record of the announcer's hook
pointed at a no-op (`announce-mute-hookimpl`), a makereport hook wrapper registered mid-run
(`announce-report-wrapper`), the report flipped through the frames of pytest's call
(`announce-report-frames`). Now the guard compiles each test function's body wrapped, so that an
exception leaving a test that pytest called prints `codekiln-guard-raised <nonce> <keys>` before any
report exists (`grading.guard_plugin_bodies`), and the grader counts those lines against the cases the
results hold not passed (`guard_check.raised_evidence`). Honest runs of every shape that raises out of
a test body, or calls one more than once, must stay free of evidence.
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_redteam9_walk import GOOD, RUN, TEST

from codekiln.audit import announcements, walks
from codekiln.core.protocols import Sandbox
from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard_check import check_run, function_name, nodeid_key
from codekiln.grading.guard_plugin_bodies import PLACEHOLDER, key, wrap_tests, wrapped
from codekiln.testing import make_repo, open_test_sandbox

RAISED = re.compile(r"^codekiln-guard-raised \S+ (\S+)$", re.M)

HONEST = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "demo/__init__.py": b"def zero():\n    return 1\n",
    "tests/__init__.py": b"",
    "tests/conftest.py": b"import functools\n\n\ndef once(f):\n    @functools.wraps(f)\n"
    b"    def inner(*a, **k):\n        return f(*a, **k)\n\n    return inner\n",
    "tests/test_shapes.py": b'''import unittest
from unittest import mock

import pytest
from hypothesis import given, strategies as st

import demo
from tests.conftest import once


@pytest.mark.parametrize("n", range(6))
def test_param(n):
    """Half the cases fail."""
    assert n % 2 == 0


def test_skip_inside():
    pytest.skip("inside the body")


@pytest.mark.xfail(reason="known")
def test_xfail_marked():
    assert demo.zero() == 0


def test_xfail_called():
    pytest.xfail("called")


def test_catches_its_own():
    try:
        raise ValueError("caught")
    except ValueError:
        pass
    with pytest.raises(ZeroDivisionError):
        1 / 0


def test_fails():
    assert demo.zero() == 0


def test_calls_a_failing_test():
    test_fails()


test_alias = test_fails


@pytest.fixture
def test_data():
    raise RuntimeError("a fixture named like a test")


def test_uses_broken_fixture(test_data):
    pass


@mock.patch("os.getcwd", return_value="/x")
def test_patched(getcwd):
    assert demo.zero() == 0


@once
def test_decorated_in_conftest():
    assert demo.zero() == 0


@given(st.integers())
def test_hypothesis(x):
    assert x < 10


class TestBase:
    def test_inherited(self):
        assert demo.zero() == 0


class TestChild(TestBase):
    pass


class TestCase(unittest.TestCase):
    def test_fails(self):
        self.assertEqual(demo.zero(), 0)

    def test_skips(self):
        self.skipTest("unittest skip")

    @unittest.expectedFailure
    def test_expected(self):
        self.assertEqual(demo.zero(), 0)

    def test_subtests(self):
        for i in range(3):
            with self.subTest(i=i):
                self.assertEqual(i, 0)

    def test_passes(self):
        self.assertEqual(demo.zero(), 1)
''',
}


@pytest.fixture()
def honest(tmp_path: Path) -> Iterator[Sandbox]:
    with open_test_sandbox(
        make_repo(tmp_path / "honest", HONEST), "bwrap", timeout_s=300, venv=Path(sys.prefix)
    ) as sb:
        yield sb


@pytest.mark.root  # a bwrap sandbox
def test_honest_runs_that_raise_out_of_test_bodies_are_no_evidence(honest: Sandbox) -> None:
    run = run_tests(honest, TestCommand(args=["tests"]), ["tests/test_shapes.py"])
    statuses = run.statuses
    assert not run.evidence, (run.evidence, run.log_tail)
    lines = RAISED.findall(run.log_tail_full)
    counted = {
        k: sum(k in line.split(",") for line in lines) for k in {key(n) for n in map(function_name, statuses)}
    }
    named = {function_name(n): counted[key(function_name(n))] for n in statuses}
    # each case pytest called that raised, once; not the inner calls (a test calling a test, hypothesis's
    # examples, mock's and conftest's wrappers once each) nor a fixture named like a test
    assert named["test_param"] == 3 and named["test_skip_inside"] == 1 and named["test_xfail_called"] == 1
    assert named["test_xfail_marked"] == 1 and named["test_catches_its_own"] == 0
    assert named["test_fails"] == 3  # itself, its alias, and unittest's method of the same name
    assert named["test_calls_a_failing_test"] == 1 and named["test_uses_broken_fixture"] == 0
    assert named["test_hypothesis"] == 0 and named["test_patched"] == 0
    assert named["test_inherited"] == 2 and named["test_skips"] == 1 and named["test_expected"] == 1
    assert named["test_subtests"] == 0 and named["test_passes"] == 0
    assert statuses["tests/test_shapes.py::test_param[1]"] == "failed"
    assert statuses["tests/test_shapes.py::TestCase::test_expected"] == "skipped"


def test_raised_lines_are_counted_against_the_not_passed_cases_of_their_names() -> None:
    def check(statuses: dict[str, str], *names: str) -> list[str]:
        data = {**GOOD, "statuses": statuses}
        raw = json.dumps(data).encode()
        lines = "".join(
            f"\ncodekiln-guard-raised n {','.join(sorted(key(x) for x in n.split('|')))}\n" for n in names
        )
        marker = f"\ncodekiln-guard n exit=1 results={hashlib.sha256(raw).hexdigest()} junit=-\n"
        return [e for e in check_run(lines + marker, 1, "n", raw, None)[1] if "raised" in e]

    cases = {f"t.py::test_p[{i}]": "passed" if i % 2 else "failed" for i in range(4)}
    assert check(cases, "test_p", "test_p") == []
    assert len(check(cases, "test_p", "test_p", "test_p")) == 1  # three raised, two not passed
    assert (
        check({"t.py::TestA::test_m": "skipped", "u.py::test_b": "failed"}, "test_m|test_b", "test_m|test_b")
        == []
    )
    assert len(check({TEST: "passed"}, "test_sum")) == 1
    assert len(check({}, "test_sum")) == 1
    assert function_name("t/[x]/a.py::TestA::test_m[a::b[c]") == "test_m"
    assert key("test_sum") == nodeid_key("test_sum")


@pytest.mark.root  # a bwrap sandbox
@pytest.mark.parametrize(
    ("silence", "forge"), [("MUTE_HOOKIMPL", "FORGE"), ("REPORT_WRAPPER", "RACE"), ("REPORT_FRAMES", "RACE")]
)
def test_the_report_chain_attacks_are_evidence(walk_sandbox: Sandbox, silence: str, forge: str) -> None:
    """The corpus attacks, as the red team wrote them: the report chain is theirs (the statuses say
    passed, the report announcer printed nothing), and the test's own code announced its raise."""
    module = getattr(walks, forge) % ([TEST], walks.PLAIN) + getattr(announcements, silence)
    walk_sandbox.write_file("demo/_ck_walk.py", module)
    walk_sandbox.write_file("demo/__init__.py", "from . import _ck_walk\n\n\ndef zero():\n    return 1\n")
    run = run_tests(walk_sandbox, TestCommand(args=["tests"]), RUN)
    assert run.statuses == dict.fromkeys(RUN, "passed"), run.log_tail
    assert f" failed {nodeid_key(TEST)}\n" not in run.log_tail_full  # the report chain was silenced
    assert f" {key('test_sum')}\n" in run.log_tail_full
    assert any("raised, called by pytest, more often" in e for e in run.evidence), run.evidence


def test_kept_code_without_the_wrap_is_not_used() -> None:
    """The warm runner of validation exports the code pytest rewrote for it, unwrapped, into the same
    cache (`guard_rewrites`): the guard compiles such a test module afresh (a module with no function
    named like a test needs no wrap)."""
    source = "def test_a():\n    assert 0\n\n\nclass TestB:\n    def test_c(self):\n        pass\n"
    plain = compile(source, "t.py", "exec")
    tree = ast.parse(source)
    wrap_tests(tree, ["test"])
    wrapped_code = compile(tree, "t.py", "exec")
    assert not wrapped(plain, None) and wrapped(wrapped_code, None)
    assert wrapped(compile("def helper():\n    pass\n", "t.py", "exec"), None)
    assert ast.unparse(tree).count(f"{PLACEHOLDER!r}.__call__") == 2
