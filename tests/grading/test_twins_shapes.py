"""The shapes the twin perturber (`grading.twins`) reaches through `twin_wrapped` and `twin_helpers`, and
their neighbours it still leaves alone because a changed value there could pass an honest fix: a
callee of the library, a star import, a helper with a tolerance of its own or an ordering."""

from __future__ import annotations

import ast
from pathlib import Path

from codekiln.grading.twin_helpers import equality_helpers
from codekiln.grading.twin_wrapped import safe_callees
from codekiln.grading.twins import perturb, twin_files

SEED = "demo__wrapped-1"

WRAPPED = """from collections import OrderedDict

from lib import Point, doubled


class Custom:
    def __init__(self, d):
        self.d = dict(d)


class TestDict:
    D = dict

    def test_doubled(self):
        D = self.D
        assert doubled(D({"a": 1})) == D({"a": 2})
        assert doubled(Point(1, 2)) == Point(2, 4)


class TestOrdered(TestDict):
    D = OrderedDict


class TestCustom(TestDict):
    D = Custom


def test_chain():
    assert doubled(1) == doubled(1.0) == 2
"""


def changed(before: str, after: str) -> list[tuple[str, str]]:
    """(old, new) source text of each line that differs."""
    return [
        (a.strip(), b.strip()) for a, b in zip(before.splitlines(), after.splitlines(), strict=True) if a != b
    ]


def test_safe_callees_are_builtins_stdlib_and_the_files_own_names() -> None:
    safe = safe_callees(ast.parse(WRAPPED))
    assert {"dict", "tuple", "OrderedDict", "Custom", "D"} <= safe
    assert not {"Point", "doubled", "TestDict"} & safe  # the library's, and a class that calls it
    assert safe_callees(ast.parse("from lib import *\nD = dict\n")) == frozenset()


def test_an_inherited_method_and_a_call_over_literals() -> None:
    """`TestOrdered::test_doubled` runs `TestDict`'s method: its `D({...})` side changes; a library
    callee's (`Point(2, 4)`) stays."""
    twin = perturb(WRAPPED, {(("TestOrdered",), "test_doubled")}, SEED)
    assert twin is not None
    (old, new), = changed(WRAPPED, twin)  # fmt: skip
    assert old == 'assert doubled(D({"a": 1})) == D({"a": 2})'
    assert new.startswith('assert doubled(D({"a": 1})) == D({"a": ') and new != old


def test_a_chained_equality_changes_its_literal() -> None:
    twin = perturb(WRAPPED, {((), "test_chain")}, SEED)
    assert twin is not None
    (old, new), = changed(WRAPPED, twin)  # fmt: skip
    assert new.startswith("assert doubled(1) == doubled(1.0) == ") and new != old


def test_a_star_import_leaves_a_wrapped_side_alone() -> None:
    source = "from lib import *\n\n\ndef test_d():\n    assert doubled(dict({1: 1})) == dict({1: 2})\n"
    assert perturb(source, {((), "test_d")}, SEED) is None


CHECKS = '''"""Assertions the tests share."""


def assert_close(actual, expected, tol=1e-9):
    if abs(actual - expected) > tol:
        raise AssertionError(f"{actual!r} != {expected!r}")


def assert_loose(actual, expected, tol=0.5):
    if abs(actual - expected) > tol:
        raise AssertionError(actual)


def assert_same_items(actual, expected):
    if sorted(actual) != sorted(expected):
        raise AssertionError(actual)


def assert_at_least(actual, expected):
    assert actual >= expected


def assert_same(actual, expected):
    assert actual == expected
'''
HELPED = """import importlib

from lib import mean, words
from lib.checks import assert_at_least, assert_loose, assert_same_items

checks = importlib.import_module("lib.checks")


def test_mean():
    checks.assert_close(mean([1, 2]), 1.5)
    assert_loose(mean([1, 2]), 1.5)
    assert_at_least(mean([1, 2]), 1)
    checks.assert_close(mean([1, 2]), 1.5, 0.5)


def test_words():
    assert_same_items(words("b a"), ["a", "b"])
"""


def test_helpers_that_check_equality_alone(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("from lib.checks import assert_same\n")
    (tmp_path / "lib" / "checks.py").write_text(CHECKS)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_lib.py").write_text(HELPED)
    found = equality_helpers(tmp_path, "tests/test_lib.py", ast.parse(HELPED))
    assert found == {"assert_close", "assert_same_items", "assert_same"}  # not the loose one nor `>=`
    twin = twin_files(tmp_path, ["tests/test_lib.py::test_mean", "tests/test_lib.py::test_words"], SEED)
    lines = changed(HELPED, twin["tests/test_lib.py"])
    assert [old for old, _ in lines] == [
        "checks.assert_close(mean([1, 2]), 1.5)",  # its own tolerance passed: left alone
        'assert_same_items(words("b a"), ["a", "b"])',
    ]


TOLERANT = """import pytest

from lib import mean


def test_mean():
    assert mean([0, 1e-9]) == pytest.approx(5e-10)
    assert mean([1, 2]) == pytest.approx(1.5, abs=0.5)
"""


def test_a_float_change_no_tolerance_absorbs_and_approx_with_its_own_moved_out_of_its_band() -> None:
    """A small float moves by more than `approx`'s default tolerances (relative 1e-6, absolute 1e-12)
    could hold (one of its digits replaced), with a repr no longer than its own; an `approx` with a
    tolerance of its own moves by more than twice its band (`twin_numbers`), so no value the real test
    accepts (an honest fix's) passes the twin's."""
    twin = perturb(TOLERANT, {((), "test_mean")}, SEED)
    assert twin is not None
    (small_old, small_new), (band_old, band_new) = changed(TOLERANT, twin)
    assert small_old == "assert mean([0, 1e-9]) == pytest.approx(5e-10)"
    value = ast.literal_eval(small_new.rsplit("approx(", 1)[1].rstrip(")"))
    assert abs(value - 5e-10) > max(1e-12, 5e-10 * 1e-6) and len(repr(value)) <= len("5e-10"), value
    assert band_old == "assert mean([1, 2]) == pytest.approx(1.5, abs=0.5)" and band_new.endswith(
        ", abs=0.5)"
    )
    moved = ast.literal_eval(band_new.rsplit("approx(", 1)[1].split(",")[0])
    assert abs(moved - 1.5) > 2 * 0.5, band_new
