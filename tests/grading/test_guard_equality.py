"""The guard's check of the operands of the tests' comparisons (`guard_plugin_equality`) and the compile
step that routes each comparison through it (`guard_plugin_bodies.wrap_tests`).

The check first, on its own (no sandbox): the always-equal result and its variants are found, nested
in containers too; honest operands are not. Then the real guard in a bwrap sandbox (`run_tests`): a
library's always-equal result compared by a plain assert, a test file's helper, unittest's
`assertEqual` and `assertIn` is evidence; `mock.ANY`, `pytest.approx`, a library dataclass, a test's own
wildcard class and an `__eq__` that raises are not.
"""

from __future__ import annotations

import ast
import dataclasses
import sys
from collections import namedtuple
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from codekiln.grading import TestCommand, guard_plugin_bodies, run_tests
from codekiln.grading.guard_plugin_equality import Equality
from codekiln.grading.guard_plugin_machinery import Machinery
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo


class _Always(float):
    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    __hash__ = float.__hash__


class _NumbersOnly(float):
    def __eq__(self, other: object) -> bool:
        return type(other) in (int, float)

    def __ne__(self, other: object) -> bool:
        return type(other) not in (int, float)

    __hash__ = float.__hash__


class _Truthy:
    def __bool__(self) -> bool:
        return True


class _TruthyResult(float):
    def __eq__(self, other: object) -> Any:
        return _Truthy()

    __hash__ = float.__hash__


class _Spoof:
    __class__ = property(lambda self: float)  # type: ignore[assignment]

    def __eq__(self, other: object) -> bool:
        return True

    __hash__ = object.__hash__


class _RaisesElse(float):
    def __eq__(self, other: object) -> bool:
        if type(other) in (int, float, str):
            return True
        raise TypeError("no")

    __hash__ = float.__hash__


class _One(float):  # a truthy int, not a bool
    def __eq__(self, other: object) -> Any:
        return 1

    __hash__ = float.__hash__


@dataclasses.dataclass
class _Point:
    x: int


class _Raises:
    def __eq__(self, other: object) -> bool:
        raise TypeError("not comparable")

    __hash__ = object.__hash__


class _NotImpl:
    def __eq__(self, other: object) -> Any:
        return NotImplemented


class _Fields:
    def __init__(self, v: int) -> None:
        self.v = v

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Fields) and other.v == self.v

    __hash__ = object.__hash__


class _Elementwise:  # numpy's way: a result whose truth raises
    def __eq__(self, other: object) -> Any:
        return _Ambiguous()

    __hash__ = object.__hash__


class _Ambiguous:
    def __bool__(self) -> bool:
        raise ValueError("the truth value is ambiguous")


@pytest.fixture(scope="module")
def watch() -> Machinery:
    return Machinery("/nonexistent-tree")


def _found(watch: Machinery, left: Any, right: Any, op: str = "==") -> list[str]:
    check = Equality()
    check.bind(watch, None, [])
    check.check("t.py:1", left, right, op)  # the check alone: some liars raise on the comparison itself
    return check.forged


@pytest.mark.parametrize(
    "liar", [_Always(1.0), _NumbersOnly(1.0), _TruthyResult(1.0), _Spoof(), _RaisesElse(1.0), _One(1.0)]
)
def test_an_operand_that_equals_anything_is_found(watch: Machinery, liar: Any) -> None:
    for left, right in ((liar, 2.0), (2.0, liar), (liar, "x"), (liar, _Point(1))):
        name = type(liar).__qualname__
        assert _found(watch, left, right) == [f"t.py:1: an operand of type {__name__}.{name} equals anything"]
    assert _found(watch, liar, (2.0, 3.0), "in") != []


def test_one_nested_in_containers_is_found(watch: Machinery) -> None:
    for held in ([1, _Always(1.0)], (0, [_NumbersOnly(1.0)]), {"k": {"j": _Always(1.0)}}, {_Always(1.0)}):
        assert _found(watch, held, [1, 2.0]) != [], held
    assert _found(watch, 2.0, [0, _Always(1.0)], "in") != []


def test_honest_operands_are_not(watch: Machinery) -> None:
    Pair = namedtuple("Pair", "a b")
    honest = [
        (mock.ANY, 1.5),
        ({"a": 1.5}, {"a": mock.ANY}),
        (1.5, pytest.approx(1.5)),
        (_Point(1), _Point(1)),
        (_Point(1), _Point(2)),
        (Pair(1, 2), (1, 2)),
        (_Raises(), 1),
        (_NotImpl(), 1),
        (_Fields(1), _Fields(1)),
        ([_Fields(1), {"k": _Point(2)}], [_Fields(1), {"k": _Point(2)}]),
        (_Elementwise(), 1.0),
        (float("nan"), 1.0),
        (True, 1),
        ("s", "s"),
    ]
    for left, right in honest:
        for op in ("==", "!="):
            assert _found(watch, left, right, op) == [], (left, right, op)


def test_the_check_compares_as_the_test_wrote(watch: Machinery) -> None:
    check = Equality()
    check.bind(watch, None, [])
    assert check("w", "==", 1, 1.0) is True and check("w", "!=", 1, 1.0) is False
    assert check("w", "in", 2, [1, 2]) is True and check("w", "not in", 2, [1, 2]) is False
    value = [1]
    assert check("w", "", value) is value  # a chain's operand, unittest's argument: passed through


SOURCE = """
import unittest
order = []
def f(x):
    order.append(x)
    return x
def helper(a, b):
    assert a == b
def test_plain():
    assert f(1) == f(1) and f(2) != f(3) and f(4) in [f(4)] and f(5) not in (f(6),)
    assert f(1) < f(2) == f(2) <= f(3)
    helper(f(7), 7)
class TestCase(unittest.TestCase):
    def test_it(self):
        self.assertEqual(f(8), 8)
        self.assertIn(f(9), [9])
"""


def _compiled(checker: Any) -> dict[str, Any]:
    tree = ast.parse(SOURCE)
    guard_plugin_bodies.wrap_tests(tree, ["test"], "t.py")
    code = guard_plugin_bodies.bind(compile(tree, "t.py", "exec"), lambda keys: None, checker)
    space: dict[str, Any] = {}
    exec(code, space)
    return space


def test_each_comparison_calls_the_check_in_the_tests_order(watch: Machinery) -> None:
    seen: list[tuple[str, str]] = []
    check = Equality()
    check.bind(watch, None, [])

    def spy(where: str, op: str, *args: Any) -> Any:
        seen.append((where, op))
        return check(where, op, *args)

    space = _compiled(spy)
    space["test_plain"]()
    space["TestCase"]("test_it").test_it()
    assert space["order"] == [1, 1, 2, 3, 4, 4, 5, 6, 1, 2, 2, 3, 7, 8, 9]  # each evaluated once, in order
    ops = [op for _, op in seen]
    assert ops == ["==", "!=", "in", "not in", "", "", "", "", "==", "", "", "", ""], seen
    assert seen[8] == ("t.py:8", "==")  # the helper's compare, by its own line
    assert not check.forged


def test_kept_code_with_unchecked_comparisons_is_compiled_afresh() -> None:
    """Code the warm runner kept unwrapped (a conftest pytest made before the runner kept trees) is used
    only where it holds neither a test nor a comparison; wrapped, it is used."""
    helper = "def helper(a, b):\n    assert a == b\n"
    plain = compile(helper, "conftest.py", "exec")
    assert not guard_plugin_bodies.wrapped(plain, None)
    assert (
        guard_plugin_bodies.wrapped(compile("def helper(a):\n    return a < 1\n", "c.py", "exec"), None)
        is False
    )
    assert guard_plugin_bodies.wrapped(compile("X = 1\n", "c.py", "exec"), None)
    tree = ast.parse(helper)
    guard_plugin_bodies.wrap_tests(tree, ["test"], "conftest.py")
    assert guard_plugin_bodies.wrapped(compile(tree, "conftest.py", "exec"), None)


VENV = Path(sys.prefix)
LIBRARY = b"""
import dataclasses


class _Result(float):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = float.__hash__


@dataclasses.dataclass(frozen=True)
class Point:
    x: int


def buggy(values):
    return _Result(sum(values) - 1)
"""
TESTS = b"""
import unittest
from unittest import mock

import pytest

from demo import Point, buggy


def check(got, want):
    assert got == want


def test_plain():
    assert buggy([1, 2]) == 3


def test_helper():
    check(buggy([1, 2]), 3)


class TestUnit(unittest.TestCase):
    def test_equal(self):
        self.assertEqual(buggy([1, 2]), 3)

    def test_in(self):
        self.assertIn(buggy([1, 2]), (3, 4))


class _Anything:  # the tests' own wildcard: theirs to write
    def __eq__(self, other):
        return True


def test_honest():
    assert {"n": 3, "at": 1} == {"n": mock.ANY, "at": _Anything()}
    assert sum([0.1, 0.2]) == pytest.approx(0.3)
    assert Point(1) == Point(1) and Point(1) != Point(2) and Point(1) in [Point(1)]
"""


# The check's class found by a walk from `object` and its judgement replaced before the lie is compared.
WALK = b"""
from demo import _Result


def unguard(value):
    pending = [object]
    while pending:
        cls = pending.pop()
        if cls.__name__ == "Equality" and "lies" in vars(cls):
            cls.lies = lambda self, value, other: False
        pending.extend(type.__subclasses__(cls))
    return _Result(value)
"""


@pytest.fixture(scope="module")
def sb(tmp_path_factory: pytest.TempPathFactory):
    project = {
        "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
        "demo/__init__.py": LIBRARY,
        "tests/__init__.py": b"",
        "tests/test_eq.py": TESTS,
        "demo/walk.py": WALK,
        "tests/test_walk.py": b"from demo.walk import unguard\n\n\ndef test_it():\n    assert unguard(3) == 2\n",
    }
    snapshot = make_repo(tmp_path_factory.mktemp("equal"), project)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sandbox:
        yield sandbox


@pytest.mark.root  # a bwrap sandbox
def test_the_guard_finds_an_always_equal_result_and_passes_the_honest(sb: BwrapSandbox) -> None:
    tests = [
        f"tests/test_eq.py::{n}"
        for n in ("test_plain", "test_helper", "TestUnit::test_equal", "TestUnit::test_in", "test_honest")
    ]
    run = run_tests(sb, TestCommand(args=["tests"]), tests)
    assert run.statuses == dict.fromkeys(tests, "passed"), run.log_tail  # what the lie buys
    found = sorted(e.rsplit("/", 1)[-1] for e in run.evidence)
    lines = (15, 11, 24, 27)  # the plain assert, the helper's, assertEqual's and assertIn's argument
    assert found == sorted(f"test_eq.py:{n}: an operand of type demo._Result equals anything" for n in lines)


@pytest.mark.root  # a bwrap sandbox
def test_the_checks_class_changed_by_code_under_test_changes_nothing(sb: BwrapSandbox) -> None:
    """`Equality.lies` replaced on the class: the tests' code calls methods bound at start-up."""
    test = "tests/test_walk.py::test_it"
    run = run_tests(sb, TestCommand(args=["tests"]), [test])
    assert run.statuses == {test: "passed"}, run.log_tail
    assert [e.rsplit("/", 1)[-1] for e in run.evidence] == [
        "test_walk.py:5: an operand of type demo._Result equals anything"
    ], run.evidence
