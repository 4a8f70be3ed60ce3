"""The twin perturber (`grading.twins`) on the shapes real test files take: what it changes, what it
leaves alone (names, lines, other tests, values shown in a test's id), and that it is deterministic."""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

from codekiln.grading.twins import perturb, twin_files

SEED = "demo__total-1"


def literal(source: str, name: str) -> object:
    """The literal bound to `name` anywhere in `source` (module or class level)."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            return ast.literal_eval(node.value)
    raise AssertionError(name)


def asserted(source: str, func: str) -> list[object]:
    """The literal right-hand sides of `==` in `func`'s body, and assertEqual's second arguments."""
    out: list[object] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == func:
            for sub in ast.walk(node):
                if isinstance(sub, ast.Compare):
                    out.append(ast.literal_eval(sub.comparators[0]))
                elif isinstance(sub, ast.Call) and getattr(sub.func, "attr", "") == "assertEqual":
                    out.append(ast.literal_eval(sub.args[1]))
    return out


def swapped(before: str | bytes, after: str | bytes) -> bool:
    """`after` is `before` with one letter or digit replaced by another of its kind, and no pair of equal
    neighbours it lacked (the twin's mark before format 6: a letter typed twice)."""
    a = before.decode() if isinstance(before, bytes) else before
    b = after.decode() if isinstance(after, bytes) else after
    diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    if len(a) != len(b) or len(diff) != 1:
        return False
    x, y = a[diff[0]], b[diff[0]]
    same_kind = (
        (x.isdigit() and y.isdigit()) or (x.islower() and y.islower()) or (x.isupper() and y.isupper())
    )
    return same_kind and pairs(b) <= pairs(a)


def pairs(text: str) -> int:
    return sum(x == y for x, y in itertools.pairwise(text))


def same_shape(a: str, b: str) -> None:
    assert a.count("\n") == b.count("\n")
    names = [
        (type(n).__name__, getattr(n, "name", None), n.lineno)
        for n in ast.walk(ast.parse(a))
        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    ]
    assert names == [
        (type(n).__name__, getattr(n, "name", None), n.lineno)
        for n in ast.walk(ast.parse(b))
        if isinstance(n, (ast.FunctionDef, ast.ClassDef))
    ]


PLAIN = """from lib import total


def test_total():
    assert total([1, 2, 3]) == 6
    assert total([]) == 0


def test_name():
    assert name() == "ada"


def test_other():
    assert total([4]) == 4
"""


def test_assert_equals_expected_side_changes_and_other_tests_stay() -> None:
    twin = perturb(PLAIN, {((), "test_total"), ((), "test_name")}, SEED)
    assert twin is not None
    same_shape(PLAIN, twin)
    got, nothing = asserted(twin, "test_total")
    assert got in (7, 8, 9) and nothing in (1, 2, 3)
    assert swapped("ada", asserted(twin, "test_name")[0])  # a letter replaced by another lowercase one
    assert asserted(twin, "test_other") == [4]  # not a target
    assert "total([1, 2, 3])" in twin  # the call's arguments (the input side) are left
    assert perturb(PLAIN, {((), "test_total"), ((), "test_name")}, SEED) == twin  # deterministic


UNITTEST = """import unittest


class TestMean(unittest.TestCase):
    def test_mean(self):
        self.assertEqual(mean([1, 2, 3]), 2.0)
        self.assertNotEqual(mean([1]), 5)
"""


def test_assert_equal_second_argument() -> None:
    twin = perturb(UNITTEST, {(("TestMean",), "test_mean")}, SEED)
    assert twin is not None
    same_shape(UNITTEST, twin)
    (got,) = asserted(twin, "test_mean")
    assert got in (3.0, 4.0, 5.0)  # one of its own digits replaced, written as short (`twin_numbers`)
    assert "assertNotEqual(mean([1]), 5)" in twin  # not an equality: left


PARAMS = """import pytest


@pytest.mark.parametrize("values,want", [([1, 2], [3]), ((4,), {"sum": 4})])
def test_by_values(values, want):
    assert total(values) == want


@pytest.mark.parametrize("n,want", [(1, 2), pytest.param(3, 4, id="three")])
def test_by_scalars(n, want):
    assert double(n) == want
"""


def test_parametrize_values_those_a_test_id_shows_too() -> None:
    twin = perturb(PARAMS, {((), "test_by_values"), ((), "test_by_scalars")}, SEED)
    assert twin is not None
    same_shape(PARAMS, twin)
    tree = ast.parse(twin)
    first = next(f for f in tree.body if isinstance(f, ast.FunctionDef))
    dec = first.decorator_list[0]
    assert isinstance(dec, ast.Call)
    rows = ast.literal_eval(dec.args[1])
    assert rows[0][0] == [1, 2] and rows[0][1][0] in (4, 5, 6)  # the expected list's items
    assert rows[1][1]["sum"] in (5, 6, 7)
    assert "(1, 2), pytest.param(3, " not in twin  # `test_by_scalars[1-2]` renamed: twin_cases asks for it
    assert 'pytest.param(3, 4, id="three")' not in twin  # named by its id: its expected value changes
    assert 'id="three")' in twin and '"n,want"' in twin


CLASS_TABLE = """class TestTotal:
    CASES = {(1, 2, 3): 6, (4, 5): 9}
    UNUSED = {(1,): 1}

    def test_cases(self):
        for args in self.CASES:
            assert total(list(args)) == self.CASES[args]
"""


def test_dict_table_on_a_class() -> None:
    twin = perturb(CLASS_TABLE, {(("TestTotal",), "test_cases")}, SEED)
    assert twin is not None
    same_shape(CLASS_TABLE, twin)
    cases = literal(twin, "CASES")
    assert isinstance(cases, dict) and list(cases) == [(1, 2, 3), (4, 5)]  # the keys (inputs) stay
    assert cases[(1, 2, 3)] in (7, 8, 9) and cases[(4, 5)] in (10, 11, 12)
    assert literal(twin, "UNUSED") == {(1,): 1}  # no target names it


MODULE_ROWS = """ROWS = [
    ("a b", ["a", "b"]),
    ("", []),
    ("x", "x"),
]


def test_split():
    for text, want in ROWS:
        assert split(text) == want
"""


def test_module_level_list_of_tuples() -> None:
    twin = perturb(MODULE_ROWS, {((), "test_split")}, SEED)
    assert twin is not None
    same_shape(MODULE_ROWS, twin)
    rows = literal(twin, "ROWS")
    assert isinstance(rows, list)
    assert [r[0] for r in rows] == ["a b", "", "x"]  # the inputs stay
    assert swapped("a", rows[0][1][0]) and swapped("b", rows[0][1][1])
    assert rows[1][1] == [] and swapped("x", rows[2][1])


def test_no_literal_to_change_no_twin(tmp_path: Path) -> None:
    source = (
        "def test_same():\n    assert compute(a) == compute(b)\n\n\ndef test_true():\n    assert check()\n"
    )
    assert perturb(source, {((), "test_same"), ((), "test_true")}, SEED) is None
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_x.py").write_text(source)
    (tmp_path / "tests" / "test_y.py").write_text(PLAIN)
    ids = ["tests/test_x.py::test_same", "tests/test_x.py::test_true"]
    assert twin_files(tmp_path, ids, SEED) == {}
    twins = twin_files(tmp_path, [*ids, "tests/test_y.py::test_total"], SEED)
    assert list(twins) == ["tests/test_y.py"] and twins["tests/test_y.py"] != PLAIN


BOOLS = """def test_arity():
    assert is_arity(1, len) is True
    assert is_arity(2, len) is False
    assert is_arity(2, map) is None
    assert is_arity(0, f)
    assert flag == False
"""


def test_a_bool_compared_with_is_or_equality_is_flipped() -> None:
    twin = perturb(BOOLS, {((), "test_arity")}, SEED)
    assert twin is not None
    same_shape(BOOLS, twin)
    assert "is_arity(1, len) is False" in twin and "is_arity(2, len) is True" in twin
    assert "is_arity(2, map) is None" in twin and "assert is_arity(0, f)\n" in twin
    assert "flag == True" in twin


ESCAPES = r"""def test_show():
    assert show(1, 2) == "3\n"
    assert show(0) == b"\x00a\t"
    assert name() == "\N{BULLET}\101"
    assert pattern() == r"\d+x"
    assert joined() == ("a\n"
                        "b")
"""


def test_a_string_with_an_escape_has_a_letter_outside_it_replaced() -> None:
    twin = perturb(ESCAPES, {((), "test_show")}, SEED)
    assert twin is not None
    same_shape(ESCAPES, twin)
    before, after = asserted(ESCAPES, "test_show"), asserted(twin, "test_show")
    assert before[0] == "3\n" and after[0][1:] == "\n" and swapped("3", after[0][0])
    assert after[1][:1] == b"\x00" and after[1][2:] == b"\t" and swapped(b"a", after[1][1:2])
    assert after[2] == before[2] == "\N{BULLET}A"  # only escapes: left as it is
    assert after[3][:3] == "\\d+" and swapped("x", after[3][3])  # the raw `\d` kept
    assert swapped("a\nb", after[4])


FLOATS = """def test_ratio():
    assert ratio(1, 3) == 0.3333
    assert ratio(2, 3) == pytest.approx(0.6667)
    assert tiny() == 1e-05
"""


def test_a_float_has_a_digit_of_its_shortest_repr_replaced() -> None:
    """No 17-digit repr (`0.3333 * 1.125` shows `0.37496249999999997`): a twin's float reads as short
    as the test's own, and differs within its first three digits (what `approx` sees)."""
    twin = perturb(FLOATS, {((), "test_ratio")}, SEED)
    assert twin is not None
    same_shape(FLOATS, twin)
    for real in ("0.3333", "0.6667", "1e-05"):
        assert f"== {real}" not in twin and f"approx({real})" not in twin
    found = [n for n in ast.walk(ast.parse(twin)) if isinstance(n, ast.Constant)]
    floats = [n.value for n in sorted(found, key=lambda n: n.lineno) if isinstance(n.value, float)]
    assert [len(repr(f)) for f in floats] == [6, 6, 5]
    assert all(abs(f - r) >= 1e-3 * r for f, r in zip(floats, (0.3333, 0.6667, 1e-05), strict=True))


WORDS = [f"answer {i}" for i in range(40)] + ["aab", "1223", "Zz", "q"]


def test_no_string_twin_shows_a_pair_its_text_lacked() -> None:
    """The twenty-fifth red team's doubled-letter: any pair of equal neighbours in a changed answer told
    the twin apart without its real text."""
    source = "def test_s():\n" + "".join(f"    assert s({i}) == {w!r}\n" for i, w in enumerate(WORDS))
    for seed in ("a", "b", "c"):
        twin = perturb(source, {((), "test_s")}, seed)
        assert twin is not None
        after = asserted(twin, "test_s")
        assert all(swapped(w, a) for w, a in zip(WORDS, after, strict=True)), (WORDS, after)


ALIKE = """def test_show():
    assert show(1, 2) == "3\\n"
    assert show(1, 2).strip() == "3"
    assert ratio() == pytest.approx(0.25)
    assert ratio() == 0.25
"""


def test_the_same_answer_written_twice_changes_alike() -> None:
    """A twin whose answers disagree with each other (`"3\\n"` -> `"7\\n"` but `"3"` -> `"5"`) is failed
    by a library that reads the answers too: it would go unseen (and a placed change told it apart)."""
    for seed in ("a", "b", "c", SEED):
        twin = perturb(ALIKE, {((), "test_show")}, seed)
        assert twin is not None
        found = [n for n in ast.walk(ast.parse(twin)) if isinstance(n, ast.Constant)]
        ordered = sorted(found, key=lambda n: (n.lineno, n.col_offset))
        s1, s2, f1, f2 = [n.value for n in ordered if isinstance(n.value, (str, float))]
        assert isinstance(s1, str) and isinstance(s2, str) and s1 != "3\n" and s1.strip() == s2
        assert f1 == f2 != 0.25
