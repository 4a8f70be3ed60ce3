"""How a twin changes a number (`grading.twin_numbers`): in the spelling of the one it replaces, never
scaled, and, compared within a tolerance, out of every value the real test accepts, checked against the
libraries' own comparisons (pytest, math, unittest, numpy)."""

from __future__ import annotations

import ast
import math
import re
import unittest
from collections.abc import Callable

import pytest

from codekiln.grading.twin_numbers import Bands, changed
from codekiln.grading.twins import perturb

DRAWS = range(60)


def twins_of(source: str, text: str) -> set[str | None]:
    """Every twin text (over many draws) of the literal spelt `text` in the function of `source`."""
    tree = ast.parse(source)
    funcs = [f for f in tree.body if isinstance(f, ast.FunctionDef)]
    bands = Bands.of(funcs)
    node = max(
        (
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and ast.get_source_segment(source, n) == text
        ),
        key=lambda n: (n.lineno, n.col_offset),
    )
    out = set()
    for draw in DRAWS:
        new = changed(text.encode(), node.value, draw, bands.of_node(node))
        out.add(new.decode() if new is not None else None)
    return out


def shape(text: str) -> str:
    return re.sub(r"[0-9]", "d", text)


@pytest.mark.parametrize(
    "text", ["2.50", ".5", "1e-3", "1.5E+3", "1_000.5", "2.0", "7.0", "0.0", "5.", "0.30"]
)
def test_a_float_keeps_its_spelling_and_is_not_scaled(text: str) -> None:
    for new in twins_of(f"def test_x():\n    assert f(2) == {text}\n", text):
        assert new is not None and shape(new) == shape(text), new  # point, exponent, separators, length
        assert float(new) != float(text)
        assert sum(a != b for a, b in zip(new, text, strict=True)) == 1  # one digit of its own replaced
        if text not in ("0.0", "0.30"):
            assert new.count("0") == text.count("0")  # a nonzero digit by a nonzero one: no zero added


@pytest.mark.parametrize(
    ("text", "pattern"),
    [("0x7", r"0x[0-9a-f]+"), ("0XFF", r"0X[0-9A-F]+"), ("0x07", r"0x0[0-9a-f]"), ("1_000", r"1_00[1-3]"),
     ("0o17", r"0o2[0-2]"), ("0b101", r"0b1[01]{2,}"), ("9_999", r"10_00[0-2]"), ("7", r"8|9|10")],
)  # fmt: skip
def test_an_int_gets_k_in_its_own_spelling(text: str, pattern: str) -> None:
    value = ast.literal_eval(text)
    for new in twins_of(f"def test_x():\n    assert f(2) == {text}\n", text):
        assert new is not None and re.fullmatch(pattern, new), new
        assert ast.literal_eval(new) - value in (1, 2, 3)


def test_many_originals_give_each_float_twin() -> None:
    """No inverse: a whole float's twin is whole and as short, and each twin comes from several originals."""
    origins: dict[str, set[str]] = {}
    for whole in range(1, 10):
        text = f"{whole}.0"
        for new in twins_of(f"def test_x():\n    assert f(2) == {text}\n", text):
            assert new is not None and re.fullmatch(r"[1-9]\.0", new), new
            origins.setdefault(new, set()).add(text)
    assert all(len(texts) >= 3 for texts in origins.values()), origins


def approx_abs(x: float, e: float) -> bool:
    return x == pytest.approx(e, abs=0.08)


def approx_default(x: float, e: float) -> bool:
    return x == pytest.approx(e)


def isclose_rel(x: float, e: float) -> bool:
    return math.isclose(x, e, rel_tol=0.1)


def almost(**kw: float) -> Callable[[float, float], bool]:
    def accepts(x: float, e: float) -> bool:
        try:
            unittest.TestCase().assertAlmostEqual(x, e, **kw)  # type: ignore[call-overload]
        except AssertionError:
            return False
        return True

    return accepts


def numpy_check(name: str, **kw: float) -> Callable[[float, float], bool]:
    def accepts(x: float, e: float) -> bool:
        np = pytest.importorskip("numpy")
        if name == "isclose":
            return bool(np.isclose(x, e, **kw))
        try:
            getattr(np.testing, name)(x, e, **kw)
        except AssertionError:
            return False
        return True

    return accepts


def edge(accepts: Callable[[float, float], bool], e: float, sign: int) -> float:
    """The farthest value on one side of `e` that `accepts` takes (its band is an interval)."""
    near, far = e, e + sign * 10 * max(1.0, abs(e))
    for _ in range(200):
        mid = (near + far) / 2
        near, far = (mid, far) if accepts(mid, e) else (near, mid)
    return near


BANDED = [
    ("pytest.approx(0.39, abs=0.08)", "0.39", approx_abs, False),
    ("pytest.approx(0.3333333333)", "0.3333333333", approx_default, False),
    ("pytest.approx(3, abs=5)", "3", approx_abs, False),
    ("pytest.approx(-2.5, rel=0.2, abs=0.01)", "2.5", None, False),
    ("math.isclose(area(4), 0.39, rel_tol=0.1)", "0.39", isclose_rel, True),
    ("self.assertAlmostEqual(area(4), 0.39, places=2)", "0.39", almost(places=2), True),
    ("self.assertAlmostEqual(area(4), 0.39, delta=0.1)", "0.39", almost(delta=0.1), True),
    ("np.testing.assert_allclose(area(4), 0.39, rtol=0.1, atol=0.02)", "0.39",
     numpy_check("assert_allclose", rtol=0.1, atol=0.02), True),
    ("np.isclose(area(4), 0.39)", "0.39", numpy_check("isclose"), True),
    ("np.testing.assert_almost_equal(area(4), 0.39, decimal=1)", "0.39",
     numpy_check("assert_almost_equal", decimal=1), True),
]  # fmt: skip


@pytest.mark.parametrize(("call", "text", "accepts", "bare"), BANDED)
def test_a_number_within_a_tolerance_leaves_the_band(
    call: str, text: str, accepts: Callable[[float, float], bool] | None, bare: bool
) -> None:
    """No value the real comparison accepts is accepted by the twin's: both bands worked out by the
    library's own comparison."""
    line = f"    {call}\n" if bare else f"    assert area(4) == {call}\n"
    sign = -1 if f"-{text}" in call else 1
    accepts = accepts or (lambda x, e: x == pytest.approx(e, rel=0.2, abs=0.01))
    e = sign * float(text)
    low, high = edge(accepts, e, -1), edge(accepts, e, 1)
    assert low < e < high
    for new in twins_of(f"def test_x():\n{line}", text):
        assert new is not None
        t = sign * ast.literal_eval(new)
        assert not accepts(e, t)
        assert not any(accepts(low + (high - low) * i / 1000, t) for i in range(1001)), (new, low, high)


@pytest.mark.parametrize(
    "source",
    [
        "def test_x():\n    assert area(4) == pytest.approx(0.39, abs=TOL)\n",
        "def test_x():\n    assert my_close(area(4), 0.39, tol=0.1)\n",
        "def test_x():\n    assert area(4) == pytest.approx(0.39, rel=0.9)\n",
    ],
)
def test_a_band_not_worked_out_leaves_the_number_out(source: str) -> None:
    assert twins_of(source, "0.39") == {None}


def test_a_table_compared_within_a_band_by_name() -> None:
    params = (
        "import pytest\n\n\n@pytest.mark.parametrize('n,want', [(4, 0.39), (2, 0.31)])\n"
        "def test_x(n, want):\n    assert area(n) == pytest.approx(want, abs={tol})\n    assert f() == 7\n"
    )
    twin = perturb(params.format(tol="0.08"), {((), "test_x")}, "seed")
    assert twin is not None
    tree = ast.parse(twin)
    rows = ast.literal_eval(tree.body[1].decorator_list[0].args[1])  # type: ignore[attr-defined]
    assert all(abs(new - old) > 0.16 for (_, new), old in zip(rows, (0.39, 0.31), strict=True)), rows
    assert "f() == 7\n" not in twin  # an int of the same functions moved far enough too
    assert perturb(params.format(tol="TOL"), {((), "test_x")}, "seed") is None  # no band: none changed
