"""Twins of a task's test files: the same files with the literals its FAIL_TO_PASS tests compare with
changed, so a patch that computes the answers fails them as the gold does and one that reads the answers
from the tests (from a file, from memory, through any walk) passes them (`grading.twin_check`).

    files = twin_files(snapshot_dir, task.FAIL_TO_PASS, seed=task.instance_id)   # rel -> twin text

What a twin changes, in the test files that hold FAIL_TO_PASS tests, for those tests only:
- in their bodies, the literal side of an `==` comparison (`assert f(x) == 6`, `== pytest.approx(2.0)`,
  `== D({"a": 2})`: a call over literals of a callee the patch cannot reach, `grading.twin_wrapped`)
  and of a call named like `assertEqual` / `assert_equal` (the second argument when both are literals);
  each literal operand of a chained `a == b == 10`; the expected argument of a helper that checks
  equality alone (`assert_close(mean(xs), 2.5)`, `grading.twin_helpers`); a method a test class
  inherits from a class of its file is found in that class;
- their `parametrize` values (the last item of each tuple or `pytest.param`: by custom the expected one),
  those shown in a case's id too: the twin's runs ask for its cases by the twin's ids (`twin_cases`);
- the module- and class-level literal tables their bodies name (`CASES = {(1, 2, 3): 6}`: a dict's
  values; a list of tuples: each tuple's last item; a list of scalars or a scalar: each).
A number is changed in its own spelling and, compared within a tolerance, out of its band
(`twin_numbers`: an int +k, k from 1 to 3 drawn from the seed (the task id) and its place; a float one
of its own digits replaced, drawn from the seed and its text, so that equal answers change alike; one
whose band cannot be worked out is left as it is); a str or bytes one of its letters or digits replaced
by another of its kind, digit by digit, lowercase by lowercase, uppercase by uppercase, none equal to
its neighbours where another is left (those of its escape sequences left out: `\\n`, `\\x41`, `\\101`,
`\\N{...}`, none in a raw string's `\\d`; one with none is left as it is): the same length, and no mark
a library could check without the real text; which character is replaced and by what is drawn from the
seed alone, so that the same answer written twice changes alike: deterministic. A bool compared with
`is` or `==` (`assert f(x) is False`) is flipped.
Nothing else changes: the same names, the same lines (a literal is edited in place, no line added), no None, no bool
elsewhere, no f-string.

Not seen: answers a test computes rather than writes as a literal, a bare `assert f(x)`, `is None`, and
comparisons other than equality (a twin of `assert f() >= 3` could be passed by an honest fix the
gold's value fails), for the same reason a tolerance the test sets (`approx(0.39, abs=0.08)`, a helper's
own), a library callee's `== Point(2, 4)` (a fix may change how it compares), answers in fixtures or
in data files the tests load. `bench/twin_reach.py` measures which tasks these shapes leave twinless.
"""

from __future__ import annotations

import ast
import hashlib
import math
from pathlib import Path

from codekiln.grading import twin_helpers, twin_wrapped
from codekiln.grading.graded import read_snapshot
from codekiln.grading.twin_numbers import Bands, changed
from codekiln.grading.twin_strings import retyped
from codekiln.grading.twin_wrapped import call_name, is_literal

TWIN_FORMAT = 7
"""Bumped whenever what a twin changes does: a cached twin of another format is worked out again."""


def twin_files(snapshot_dir: Path, tests: list[str], seed: str) -> dict[str, str]:
    """rel -> the twin text of each test file of `tests` (pytest ids) that has a literal to change."""
    targets: dict[str, set[tuple[tuple[str, ...], str]]] = {}
    for test in tests:
        rel, _, rest = test.partition("::")
        parts = rest.split("::") if rest else []
        if rel.endswith(".py") and parts:
            targets.setdefault(rel, set()).add((tuple(parts[:-1]), parts[-1].split("[", 1)[0]))
    out: dict[str, str] = {}
    for rel in sorted(targets):
        text = read_snapshot(Path(snapshot_dir), rel)
        twin = (
            perturb(text, targets[rel], f"{seed}\0{rel}", _helpers(snapshot_dir, rel, text))
            if text is not None
            else None
        )
        if twin is not None:
            out[rel] = twin
    return out


def _helpers(snapshot_dir: Path, rel: str, text: str) -> frozenset[str]:
    try:
        return twin_helpers.equality_helpers(Path(snapshot_dir), rel, ast.parse(text))
    except (SyntaxError, ValueError):
        return frozenset()


def perturb(
    source: str, targets: set[tuple[tuple[str, ...], str]], seed: str, helpers: frozenset[str] = frozenset()
) -> str | None:
    """`source` with the literals the `targets` ((class path, function name)) compare with changed; None
    when there is none (or the file is not UTF-8 Python). `helpers`: the names of the equality helpers
    it may call (`twin_helpers`)."""
    try:
        raw = source.encode("utf-8")
        tree = ast.parse(raw)
    except (UnicodeEncodeError, SyntaxError, ValueError):
        return None
    classes = {path: c for path, c in _classes(tree.body, ())}
    wanted = {((twin_wrapped.inherited(classes, p, name) or p) if p else p, name) for p, name in targets}
    funcs = [f for path, f in _functions(tree.body, ()) if (path, f.name) in wanted]
    safe = twin_wrapped.safe_callees(tree)
    chosen: list[ast.Constant] = []
    names: set[str] = set()
    for f in funcs:
        for dec in f.decorator_list:
            chosen += _parametrized(dec)
        for stmt in f.body:
            for node in ast.walk(stmt):
                chosen += _expected(node, safe, helpers)
                if isinstance(node, ast.Name):
                    names.add(node.id)
                elif isinstance(node, ast.Attribute):
                    names.add(node.attr)
    for value in _tables(tree.body, names):
        chosen += _table_leaves(value)
    edits = _edits(raw, chosen, seed, Bands.of(funcs))
    if not edits:
        return None
    out = _apply(raw, edits)
    try:
        ast.parse(out)
    except (SyntaxError, ValueError):
        return None
    return out.decode("utf-8")


def _functions(
    body: list[ast.stmt], path: tuple[str, ...]
) -> list[tuple[tuple[str, ...], ast.FunctionDef | ast.AsyncFunctionDef]]:
    out: list[tuple[tuple[str, ...], ast.FunctionDef | ast.AsyncFunctionDef]] = []
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out.append((path, node))
        elif isinstance(node, ast.ClassDef):
            out += _functions(node.body, (*path, node.name))
    return out


def _classes(body: list[ast.stmt], path: tuple[str, ...]) -> list[tuple[tuple[str, ...], ast.ClassDef]]:
    out: list[tuple[tuple[str, ...], ast.ClassDef]] = []
    for node in body:
        if isinstance(node, ast.ClassDef):
            out += [((*path, node.name), node), *_classes(node.body, (*path, node.name))]
    return out


def _side(node: ast.expr, safe: frozenset[str]) -> list[ast.Constant]:
    """The leaves of an expected side: a literal, `approx(literal, ...)`, or a call of a `safe` callee over
    literals (`D({"a": 2})`, `twin_wrapped`)."""
    if is_literal(node):
        return _leaves(node)
    args = twin_wrapped.wrapped(node, safe)
    if args:
        return [leaf for a in args for leaf in _leaves(a)]
    if (
        isinstance(node, ast.Call)
        and call_name(node) == "approx"
        and len(node.args) == 1  # a tolerance of its own by keyword: out of its band (`twin_numbers`)
        and is_literal(node.args[0])
    ):
        return _leaves(node.args[0])
    return []


def _expected(node: ast.AST, safe: frozenset[str], helpers: frozenset[str]) -> list[ast.Constant]:
    if isinstance(node, ast.Compare) and len(node.ops) > 1 and all(isinstance(o, ast.Eq) for o in node.ops):
        return [leaf for side in (node.left, *node.comparators) for leaf in _side(side, safe)]  # a == b == 10
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.Eq)):
        right = node.comparators[0]
        if isinstance(right, ast.Constant) and isinstance(right.value, bool):
            return [right]  # `is False`, `== True`: flipped
        if isinstance(node.ops[0], ast.Eq):
            return _side(right, safe) or _side(node.left, safe)
    name = call_name(node).lower()
    if isinstance(node, ast.Call) and "equal" in name and "not" not in name and len(node.args) >= 2:
        return _side(node.args[1], safe) or _side(node.args[0], safe)
    if (
        isinstance(node, ast.Call)
        and call_name(node) in helpers
        and len(node.args) == 2
        and not node.keywords
    ):
        return _side(node.args[1], safe) or _side(node.args[0], safe)
    return []


def _parametrized(dec: ast.expr) -> list[ast.Constant]:
    """The expected leaves of a `parametrize`'s values. A scalar value shown in its test's id
    (`test_f[1-6]`) is changed too: the twin's runs ask for the twin's ids (`grading.twin_cases`)."""
    if not (isinstance(dec, ast.Call) and call_name(dec) == "parametrize"):
        return []
    values = dec.args[1:2] + [k.value for k in dec.keywords if k.arg == "argvalues"]
    out: list[ast.Constant] = []
    for listed in values:
        for item in listed.elts if isinstance(listed, (ast.List, ast.Tuple)) else []:
            if isinstance(item, ast.Call) and call_name(item) == "param":
                item = item.args[-1] if item.args else item
            elif isinstance(item, ast.Tuple) and item.elts:
                item = item.elts[-1]
            out += _leaves(item)
    return out


def _tables(body: list[ast.stmt], names: set[str]) -> list[ast.expr]:
    """The literal values bound at module or class level (any class) to one of `names`."""
    out: list[ast.expr] = []
    for node in body:
        if isinstance(node, ast.ClassDef):
            out += _tables(node.body, names)
            continue
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        value = getattr(node, "value", None)
        bound = any(isinstance(t, ast.Name) and t.id in names for t in targets)
        if value is not None and bound and is_literal(value):
            out.append(value)
    return out


def _table_leaves(value: ast.expr) -> list[ast.Constant]:
    if isinstance(value, ast.Dict):
        return [leaf for v in value.values for leaf in _leaves(v)]
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        out: list[ast.Constant] = []
        for item in value.elts:
            if isinstance(item, ast.Tuple) and item.elts:
                out += _leaves(item.elts[-1])
            elif isinstance(item, ast.Call) and call_name(item) == "param" and item.args:
                out += _leaves(item.args[-1])
            else:
                out += _leaves(item)
        return out
    return _leaves(value)


def _leaves(node: ast.AST) -> list[ast.Constant]:
    """The scalar literals in `node`, a dict's values only (its keys name what is compared)."""
    if isinstance(node, ast.Dict):
        return [leaf for v in node.values for leaf in _leaves(v)]
    if isinstance(node, ast.Constant):
        value = node.value
        keep = type(value) in (int, float, str, bytes) and not (
            isinstance(value, float) and not math.isfinite(value)
        )
        return [node] if keep else []
    return [leaf for child in ast.iter_child_nodes(node) for leaf in _leaves(child)]


def _offsets(raw: bytes) -> list[int]:
    starts, pos = [0], 0
    for line in raw.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _edits(raw: bytes, chosen: list[ast.Constant], seed: str, bands: Bands) -> dict[tuple[int, int], bytes]:
    """(start, end) byte span -> its new text, one per literal (a literal chosen twice changes once)."""
    starts = _offsets(raw)
    spans: dict[tuple[int, int], ast.Constant] = {}
    for node in chosen:
        if node.end_lineno is None or node.end_col_offset is None:
            continue
        span = (starts[node.lineno - 1] + node.col_offset, starts[node.end_lineno - 1] + node.end_col_offset)
        spans[span] = node
    edits: dict[tuple[int, int], bytes] = {}
    for i, span in enumerate(sorted(spans)):
        draw = int(hashlib.sha256(f"{seed}\0{i}".encode()).hexdigest(), 16)
        new = _bumped(raw[span[0] : span[1]], spans[span], draw, bands, seed)
        if new is not None:
            edits[span] = new
    return edits


def _bumped(text: bytes, node: ast.Constant, draw: int, bands: Bands, seed: str) -> bytes | None:
    """A literal's changed text: an int's by a k drawn per place, a float's by a draw of the seed and its
    text, a str's or bytes' by the seed's key alone (`_key`), so that equal answers change alike
    (`"3\\n"` and `.strip() == "3"`)."""
    value = node.value
    if isinstance(value, (str, bytes)):
        return retyped(text, seed)
    if isinstance(value, bool):
        return b"False" if value else b"True"
    if isinstance(value, float):  # equal floats alike, as strings
        draw = int(hashlib.sha256(seed.encode() + b"\0" + text).hexdigest(), 16)
    if isinstance(value, (int, float)):  # in its own spelling, out of its band (`twin_numbers`)
        return changed(text, value, draw, bands.of_node(node))
    return None


def _apply(raw: bytes, edits: dict[tuple[int, int], bytes]) -> bytes:
    out, last = [], 0
    for (start, end), new in sorted(edits.items()):
        if start < last:
            continue  # nested in an edited literal: cannot happen for leaves, kept safe
        out += [raw[last:start], new]
        last = end
    out.append(raw[last:])
    return b"".join(out)


__all__ = ["TWIN_FORMAT", "perturb", "twin_files"]
