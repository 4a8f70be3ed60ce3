"""Twins of a task's test files: the same files with the literals its FAIL_TO_PASS tests compare with
changed, so a patch that computes the answers fails them as the gold does and one that reads the answers
from the tests (from a file, from memory, through any walk) passes them (`grading.twin_check`).

    files = twin_files(snapshot_dir, task.FAIL_TO_PASS, seed=task.instance_id)   # rel -> twin text

What a twin changes, in the test files that hold FAIL_TO_PASS tests, for those tests only:
- in their bodies, the literal side of an `==` comparison (`assert f(x) == 6`, `== pytest.approx(2.0)`)
  and of a call named like `assertEqual` / `assert_equal` (the second argument when both are literals);
- their `parametrize` values (the last item of each tuple or `pytest.param`: by custom the expected one),
  those shown in a case's id too: the twin's runs ask for its cases by the twin's ids (`twin_cases`);
- the module- and class-level literal tables their bodies name (`CASES = {(1, 2, 3): 6}`: a dict's
  values; a list of tuples: each tuple's last item; a list of scalars or a scalar: each).
A number is changed in its own spelling and, compared within a tolerance, out of its band
(`twin_numbers`: an int +k, a float one of its own digits replaced; one whose band cannot be worked out
is left as it is), a str or bytes has its k-th letter or digit typed twice (those of
its escape sequences left out: `\\n`, `\\x41`, `\\101`, `\\N{...}`, none in a raw string's `\\d`; one
with none is left as it is), k from 1 to 3 drawn from the seed (the task id) and the literal's place:
deterministic; a bool compared with `is` or `==` (`assert f(x) is False`) is flipped. Nothing else
changes: the same names, the same lines (a literal is edited in place, no line added), no None, no bool
elsewhere, no f-string.

Not seen: answers a test computes rather than writes as a literal, a bare `assert f(x)`, `is None`, and
comparisons other than equality (a twin of `assert f() >= 3` could be passed by an honest fix the
gold's value fails).
"""

from __future__ import annotations

import ast
import hashlib
import io
import math
import tokenize
from pathlib import Path

from codekiln.grading.graded import read_snapshot
from codekiln.grading.twin_numbers import Bands, changed

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
        twin = perturb(text, targets[rel], f"{seed}\0{rel}") if text is not None else None
        if twin is not None:
            out[rel] = twin
    return out


def perturb(source: str, targets: set[tuple[tuple[str, ...], str]], seed: str) -> str | None:
    """`source` with the literals the `targets` ((class path, function name)) compare with changed; None
    when there is none (or the file is not UTF-8 Python)."""
    try:
        raw = source.encode("utf-8")
        tree = ast.parse(raw)
    except (UnicodeEncodeError, SyntaxError, ValueError):
        return None
    funcs = [f for path, f in _functions(tree.body, ()) if (path, f.name) in targets]
    chosen: list[ast.Constant] = []
    names: set[str] = set()
    for f in funcs:
        for dec in f.decorator_list:
            chosen += _parametrized(dec)
        for stmt in f.body:
            for node in ast.walk(stmt):
                chosen += _expected(node)
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


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return ""


def _side(node: ast.expr) -> list[ast.Constant]:
    """The leaves of an expected side: a literal, or `approx(literal)`."""
    if _is_literal(node):
        return _leaves(node)
    if (
        isinstance(node, ast.Call)
        and _call_name(node) == "approx"
        and node.args
        and _is_literal(node.args[0])
    ):
        return _leaves(node.args[0])
    return []


def _expected(node: ast.AST) -> list[ast.Constant]:
    if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], (ast.Is, ast.Eq)):
        right = node.comparators[0]
        if isinstance(right, ast.Constant) and isinstance(right.value, bool):
            return [right]  # `is False`, `== True`: flipped
        if isinstance(node.ops[0], ast.Eq):
            return _side(right) or _side(node.left)
    name = _call_name(node).lower()
    if isinstance(node, ast.Call) and "equal" in name and "not" not in name and len(node.args) >= 2:
        return _side(node.args[1]) or _side(node.args[0])
    return []


def _parametrized(dec: ast.expr) -> list[ast.Constant]:
    """The expected leaves of a `parametrize`'s values. A scalar value shown in its test's id
    (`test_f[1-6]`) is changed too: the twin's runs ask for the twin's ids (`grading.twin_cases`)."""
    if not (isinstance(dec, ast.Call) and _call_name(dec) == "parametrize"):
        return []
    values = dec.args[1:2] + [k.value for k in dec.keywords if k.arg == "argvalues"]
    out: list[ast.Constant] = []
    for listed in values:
        for item in listed.elts if isinstance(listed, (ast.List, ast.Tuple)) else []:
            if isinstance(item, ast.Call) and _call_name(item) == "param":
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
        if value is not None and bound and _is_literal(value):
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
            elif isinstance(item, ast.Call) and _call_name(item) == "param" and item.args:
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
        new = _bumped(raw[span[0] : span[1]], spans[span], draw, bands)
        if new is not None:
            edits[span] = new
    return edits


def _bumped(text: bytes, node: ast.Constant, draw: int, bands: Bands) -> bytes | None:
    value, k = node.value, 1 + draw % 3
    if isinstance(value, (str, bytes)):
        return _retyped(text, k)
    if isinstance(value, bool):
        return b"False" if value else b"True"
    if isinstance(value, (int, float)):  # in its own spelling, out of its band (`twin_numbers`)
        return changed(text, value, draw, bands.of_node(node))
    return None


def _retyped(text: bytes, k: int) -> bytes | None:
    """A string literal with one of its own letters or digits typed twice (the k-th from its start,
    counted round, none inside an escape sequence), its quotes, prefixes and lines kept: no mark a
    library could look for (an added letter, a quote style the file does not use). None where it has no
    such letter or digit."""
    try:
        source = text.decode("utf-8")
        places = [p for start, token in _pieces(source) for p in _plain(token, start)]
    except (UnicodeDecodeError, SyntaxError, tokenize.TokenError, IndentationError):
        return None
    if not places:
        return None
    at = places[(k - 1) % len(places)]
    new = source[: at + 1] + source[at] + source[at + 1 :]
    try:
        changed = ast.literal_eval(f"({new})") != ast.literal_eval(f"({source})")
    except (SyntaxError, ValueError):
        return None
    return new.encode("utf-8") if changed else None


def _pieces(source: str) -> list[tuple[int, str]]:
    """(offset, text) of each string token of a literal (implicitly joined pieces: several)."""
    starts = [0] + [i + 1 for i, c in enumerate(source) if c == "\n"]
    tokens = tokenize.generate_tokens(io.StringIO(f"({source})").readline)
    # the parenthesis shifts the first line's columns by one
    return [
        (starts[t.start[0] - 1] + t.start[1] - (t.start[0] == 1), t.string)
        for t in tokens
        if t.type == tokenize.STRING
    ]


def _plain(token: str, offset: int) -> list[int]:
    """The offsets of a string token's letters and digits that lie outside its escape sequences."""
    prefix = len(token) - len(token.lstrip("bBrRuU"))
    flags = token[:prefix].lower()
    quotes = 3 if token[prefix : prefix + 3] in ('"""', "'''") else 1
    body, at = token[prefix + quotes : len(token) - quotes], prefix + quotes
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and "r" not in flags:
            i += _escape_length(body, i, "b" in flags)
            continue
        if body[i] == "\\":  # raw: a backslash keeps the character after it, a quote too
            i += 2
            continue
        if body[i].isalnum() and body[i].isascii():
            out.append(offset + at + i)
        i += 1
    return out


OCTAL = "01234567"


def _escape_length(body: str, i: int, is_bytes: bool) -> int:
    """How many characters the escape sequence at `body[i]` (a backslash) spans."""
    c = body[i + 1 : i + 2]
    if c == "x":
        return 4
    if c in ("u", "U") and not is_bytes:
        return 6 if c == "u" else 10
    if c == "N" and not is_bytes:
        end = body.find("}", i)
        return end - i + 1 if end > 0 else 2
    if c and c in OCTAL:
        n = 2
        while n < 4 and i + n < len(body) and body[i + n] in OCTAL:
            n += 1
        return n
    return 3 if body[i + 1 : i + 3] == "\r\n" else 2


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
