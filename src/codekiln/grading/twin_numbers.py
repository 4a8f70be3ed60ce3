"""How a twin (`grading.twins`) changes a number, and how far it must move one compared within a tolerance.

    bands = Bands.of(functions)                       # the FAIL_TO_PASS test functions a twin changes
    new = changed(b"0x7", 7, draw, bands.of_node(node))   # b"0x8", b"0x9" or b"0xa"; None: left out

A changed number is written in the spelling of the one it replaces, so that no run can tell the twin's
literal from the suite's by its text: an int gets +k (k from 1 to 3, `draw % 3`) in its own base, digit
case, `_` groups and zero padding (`0x7` -> `0xa`, `1_000` -> `1_002`); a float has one of its own
nonzero digits replaced by another nonzero digit (the place and the step drawn from `draw`), its point,
exponent, separators and length kept (`2.0` -> `4.0`, `2.50` -> `2.60`, `.5` -> `.7`, `1e-3` -> `3e-3`).
No float is scaled: many real values give each twin, and the twin is written as short as its original.

A number compared within a tolerance (`pytest.approx`'s `rel`/`abs`, `math.isclose`'s `rel_tol`/`abs_tol`,
unittest's `assertAlmostEqual` `places`/`delta`, numpy's `isclose`/`allclose`/`assert_allclose`
`rtol`/`atol`, `assert_almost_equal`'s `decimal`, `assert_approx_equal`'s `significant`) moves by more
than twice the wider of its band and its twin's (the band worked out by the library's own rule, the
library's defaults where an argument is left out), so that no value the real test accepts passes the
twin's: an honest fix other than the gold's fails its twin as the gold does. A number whose band cannot be
worked out (a tolerance given by a name, a call with a tolerance keyword not known here, a tolerance
whose expected side is not a literal, where the twin's table or `parametrize` numbers may be what it
compares) is left out of the twin.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass

from codekiln.grading.twin_wrapped import call_name, is_literal


@dataclass(frozen=True)
class Tolerance:
    """A band: any value within `rel * |expected| + abs` of the expected one may be accepted."""

    rel: float = 0.0
    abs: float = 0.0

    def band(self, value: float) -> float:
        return self.rel * abs(value) + self.abs

    def wider(self, other: Tolerance) -> Tolerance:
        return Tolerance(max(self.rel, other.rel), max(self.abs, other.abs))


EXACT = Tolerance()

# name (lower case) -> (the compared arguments' keywords, in their positional order; each tolerance
# keyword -> its positional index (9: keyword only), its kind and the library's default). Kinds: "rel",
# "abs"; "places" (unittest: abs 10**-n, or `delta`), "decimal" (numpy: abs 1.5 * 10**-n), "significant"
# (numpy: a relative band). A relative tolerance is taken as rel / (1 - rel) of the expected value, the
# widest the symmetric rules (`math.isclose`) accept on either side.
_RULES: dict[str, tuple[tuple[str, ...], dict[str, tuple[int, str, float]]]] = {
    "approx": (("expected",), {"rel": (1, "rel", 1e-6), "abs": (2, "abs", 1e-12)}),
    "isclose": (("a", "b"), {"rel_tol": (9, "rel", 1e-9), "abs_tol": (9, "abs", 0.0)}),
    "allclose": (("a", "b"), {"rtol": (2, "rel", 1e-5), "atol": (3, "abs", 1e-8)}),
    "assert_allclose": (("actual", "desired"), {"rtol": (2, "rel", 1e-7), "atol": (3, "abs", 0.0)}),
    "assert_close": (("actual", "expected"), {"rtol": (2, "rel", 1.6e-2), "atol": (3, "abs", 1e-5)}),
    "assertalmostequal": (("first", "second"), {"places": (2, "places", 7), "delta": (4, "abs", 0.0)}),
    "assertalmostequals": (("first", "second"), {"places": (2, "places", 7), "delta": (4, "abs", 0.0)}),
    "failunlessalmostequal": (("first", "second"), {"places": (2, "places", 7), "delta": (4, "abs", 0.0)}),
    "assert_almost_equal": (("actual", "desired"), {"decimal": (2, "decimal", 7)}),
    "assert_array_almost_equal": (("x", "y"), {"decimal": (2, "decimal", 6)}),
    "assert_approx_equal": (("actual", "desired"), {"significant": (2, "significant", 7)}),
}
_TOLERANCE_WORDS = {"rel", "abs", "rel_tol", "abs_tol", "rtol", "atol", "delta", "places", "decimal"}
_TOLERANCE_WORDS |= {"significant", "tol", "tolerance", "eps", "epsilon", "precision"}


def _tolerance(call: ast.Call) -> Tolerance | None:
    """The band of a known tolerance call by its library's rule (a bare `isclose`: math's or numpy's,
    the wider), None where an argument it needs is not a literal number."""
    name = call_name(call).lower()
    rules = [_RULES[name]] if name != "isclose" else [_RULES["isclose"], _RULES["allclose"]]
    out = EXACT
    for _, params in rules:
        rel = absolute = 0.0
        rel_given = abs_given = False
        for word, (index, kind, default) in params.items():
            given = [k.value for k in call.keywords if k.arg == word] or call.args[index : index + 1]
            if given and not _number(given[0]):
                return None
            n = ast.literal_eval(given[0]) if given else None
            if kind == "rel":
                rel, rel_given = float(default if n is None else n), n is not None
            elif kind == "abs":
                absolute, abs_given = max(absolute, float(default if n is None else n)), n is not None
            elif kind == "places" and not any(k.arg == "delta" for k in call.keywords):
                absolute = max(absolute, 10.0 ** -float(default if n is None else n))
            elif kind == "decimal":
                absolute = max(absolute, 1.5 * 10.0 ** -float(default if n is None else n))
            elif kind == "significant":
                rel = 2 * 10.0 ** (1 - float(default if n is None else n))
        if name == "approx" and abs_given and not rel_given:
            rel = 0.0  # pytest: an absolute tolerance given alone is the whole band
        if not 0 <= rel < 0.5 or absolute < 0:
            return None
        out = out.wider(Tolerance(rel / (1 - rel), absolute / (1 - rel)))
    return out


def _number(node: ast.expr) -> bool:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _compared(call: ast.Call, name: str) -> list[ast.expr]:
    if name not in _RULES:
        return list(call.args[:2]) + [k.value for k in call.keywords if k.arg not in _TOLERANCE_WORDS]
    words = _RULES[name][0]
    return list(call.args[: len(words)]) + [k.value for k in call.keywords if k.arg in words]


def _numbers(node: ast.AST) -> list[ast.Constant]:
    return [
        n
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, (int, float)) and not isinstance(n.value, bool)
    ]


def _place(node: ast.Constant) -> tuple[int, int]:
    return (node.lineno, node.col_offset)


class Bands:
    """Which band each number a twin may change is compared within: its own tolerance call's, and for a
    number no tolerance call holds, the wider of those whose compared side is not a literal (it may be
    a table's or `parametrize`'s number); `None` where one cannot be worked out."""

    def __init__(self) -> None:
        self.held: dict[tuple[int, int], Tolerance | None] = {}
        self.loose: Tolerance | None = EXACT

    @classmethod
    def of(cls, functions: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> Bands:
        bands, reversed_approx = cls(), set()
        for node in (n for f in functions for n in ast.walk(f)):
            if isinstance(node, ast.Compare) and len(node.ops) == 1:
                sides = [node.left, node.comparators[0]]
                approx = [s for s in sides if isinstance(s, ast.Call) and call_name(s) == "approx"]
                others = [s for s in sides if s is not approx[0]] if approx else []
                if others:  # `0.39 == approx(area(4))`: the other side is compared within its band
                    bands._hold(others, _tolerance(approx[0]), loosens=False)
                    if is_literal(others[0]):
                        reversed_approx.add(id(approx[0]))
        for node in (n for f in functions for n in ast.walk(f)):
            if isinstance(node, ast.Call):
                bands._call(node, loosens=id(node) not in reversed_approx)
        return bands

    def _call(self, call: ast.Call, loosens: bool) -> None:
        name = call_name(call).lower()
        known = name in _RULES
        if not known and not (
            any(k.arg in _TOLERANCE_WORDS for k in call.keywords)
            or any(word in name for word in ("almost", "approx", "isclose", "allclose"))
        ):
            return
        self._hold(_compared(call, name), _tolerance(call) if known else None, loosens)

    def _hold(self, sides: list[ast.expr], tolerance: Tolerance | None, loosens: bool) -> None:
        if loosens and sides and not any(is_literal(side) for side in sides):
            self.loose = None if self.loose is None or tolerance is None else self.loose.wider(tolerance)
        for side in sides:
            for leaf in _numbers(side):
                known = self.held.get(_place(leaf), EXACT)
                self.held[_place(leaf)] = (
                    None if known is None or tolerance is None else known.wider(tolerance)
                )

    def of_node(self, node: ast.Constant) -> Tolerance | None:
        """The band `node` is compared within (`EXACT`: none), None where it cannot be worked out."""
        return self.held.get(_place(node), self.loose)


def _far(old: float, new: float, tolerance: Tolerance) -> bool:
    """Whether no value within the band of `old` is within the band of `new`, with room to spare."""
    return new != old and abs(new - old) > 2.02 * max(tolerance.band(old), tolerance.band(new))


def changed(text: bytes, value: int | float, draw: int, tolerance: Tolerance | None) -> bytes | None:
    """The twin's text of the number literal `text` (its value `value`), far enough out of `tolerance`'s
    band; None where it is left out (no band known, no change far enough)."""
    if tolerance is None:
        return None
    try:
        source = text.decode("ascii")
        out = (
            _int(source, value, draw, tolerance)
            if isinstance(value, int)
            else _float(source, value, draw, tolerance)
        )
    except (UnicodeDecodeError, OverflowError):  # not a plain literal; an int past a float's range
        return None
    return out.encode("ascii") if out is not None else None


_BASES = {"0x": (16, "x"), "0o": (8, "o"), "0b": (2, "b")}


def _int(source: str, value: int, draw: int, tolerance: Tolerance) -> str | None:
    """`value` + k * base**j (the least j that leaves the band), written as `source` is."""
    prefix = source[:2] if source[:2].lower() in _BASES else ""
    base, form = _BASES.get(prefix.lower(), (10, "d"))
    body = source[len(prefix) :]
    digits = body.replace("_", "")
    groups = [len(body[i:].replace("_", "")) for i, c in enumerate(body) if c == "_"]  # digits to the right
    k = 1 + draw % 3
    for j in range(64):
        new = value + k * base**j
        if tolerance == EXACT or _far(float(value), float(new), tolerance):
            break
    else:
        return None
    spelt = format(new, form)
    if any(c.isupper() for c in digits):
        spelt = spelt.upper()
    if prefix:
        spelt = spelt.zfill(len(digits))
    out = ""
    for i, c in enumerate(reversed(spelt)):
        out = c + ("_" if i and i in groups else "") + out
    if prefix and len(spelt) in groups:
        out = "_" + out
    return prefix + out


def _float(source: str, value: float, draw: int, tolerance: Tolerance) -> str | None:
    """`source` with one of its nonzero mantissa digits replaced by another nonzero digit (a zero where it
    has none): the place and the step drawn from `draw`, the first option that leaves the band."""
    end = next((i for i, c in enumerate(source) if c in "eE"), len(source))
    digits = [i for i in range(end) if source[i].isdigit()]
    places = [i for i in digits if source[i] != "0"] or digits
    if not places:
        return None
    k = 1 + draw % 3
    first = places[(draw // 3) % len(places)]

    def order(option: tuple[int, int]) -> tuple[bool, str]:
        at, step = option
        return (option != (first, k), hashlib.sha256(f"{draw}\0{at}\0{step}".encode()).hexdigest())

    for at, step in sorted(((at, step) for at in places for step in range(1, 9)), key=order):
        digit = int(source[at])
        new_digit = (digit - 1 + step) % 9 + 1 if digit else step
        new = source[:at] + str(new_digit) + source[at + 1 :]
        try:
            number = float(ast.literal_eval(new))
        except (ValueError, SyntaxError, OverflowError):
            continue
        if _far(value, number, tolerance):
            return new
    return None


__all__ = ["EXACT", "Bands", "Tolerance", "changed"]
