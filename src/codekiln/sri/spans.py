"""Middles chosen by kind from a Python file, and windows corrupted with codekiln's mutators.

    for span in find_spans("toolz/itertoolz.py", text):       # Span(kind, start, end, first_line, last_line)
        ...
    problem = corrupt(problem, source_file, rng)               # or None when no mutator fits the window

Kinds (all inside function bodies, never a docstring):

    line            one simple statement on one line of its own (the whole line)
    block           the body of an if/for/while/with/try branch, 2-8 lines (whole lines)
    control_flow    the condition of an if/elif/while, or the iterable of a for (inside the line)
    api_call        a call expression on one line, at least 6 characters (inside the line)
    function_body   a function's whole body after its docstring, 2-30 lines (whole lines)

Corruption applies one procedural mutator (`codekiln.tasks.frontend.mutators`) to code inside the
editable window but outside the middle, so the answer has to fill the middle and undo the bug.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from codekiln.core.errors import FormatError
from codekiln.sri.format import Problem
from codekiln.tasks.frontend.mutators import Mutator, SourceFile, apply_edits
from codekiln.tasks.frontend.mutators.base import Edit

SpanKind = Literal["line", "block", "control_flow", "api_call", "function_body"]
KINDS: tuple[SpanKind, ...] = ("line", "block", "control_flow", "api_call", "function_body")
_COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try)


@dataclass(frozen=True)
class Span:
    """A middle: characters [start, end) of the file, on lines first_line..last_line (1-based)."""

    kind: SpanKind
    start: int
    end: int
    first_line: int
    last_line: int


def _body(stmts: list[ast.stmt], src: SourceFile) -> list[ast.stmt]:
    return stmts[1:] if stmts and src.is_docstring(stmts[0]) else stmts


def _lines_span(src: SourceFile, kind: SpanKind, stmts: list[ast.stmt]) -> Span | None:
    if not stmts or not all(src.owns_lines(s) for s in stmts):
        return None
    first, last = src.first_line(stmts[0]), stmts[-1].end_lineno or stmts[-1].lineno
    start, end = src.lines_span(first, last)
    if not src.text[start:end].endswith("\n"):
        return None
    return Span(kind, start, end, first, last)


def _expr_span(src: SourceFile, kind: SpanKind, node: ast.expr) -> Span | None:
    if node.lineno != node.end_lineno:
        return None
    return Span(kind, src.start(node), src.end(node), node.lineno, node.lineno)


def _one_line_simple(node: ast.AST, src: SourceFile) -> bool:
    """A simple statement (no body of its own) on one line, not a docstring."""
    if not isinstance(node, ast.stmt) or isinstance(node, (*_COMPOUND, ast.FunctionDef, ast.ClassDef)):
        return False
    return node.lineno == node.end_lineno and not src.is_docstring(node)


def _spans_in(func: ast.FunctionDef | ast.AsyncFunctionDef, src: SourceFile) -> Iterator[Span]:
    body = _body(func.body, src)
    n_lines = (body[-1].end_lineno or 0) - src.first_line(body[0]) + 1 if body else 0
    if 2 <= n_lines <= 30 and (span := _lines_span(src, "function_body", body)):
        yield span
    for node in ast.walk(func):
        if node is not func and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if _one_line_simple(node, src) and (span := _lines_span(src, "line", [node])):  # type: ignore[list-item]
            yield span
        if isinstance(node, _COMPOUND):
            for branch in (node.body, getattr(node, "orelse", [])):
                lines = (branch[-1].end_lineno or 0) - src.first_line(branch[0]) + 1 if branch else 0
                if 2 <= lines <= 8 and (span := _lines_span(src, "block", branch)):
                    yield span
        cond = node.test if isinstance(node, ast.If | ast.While) else None
        cond = node.iter if isinstance(node, ast.For | ast.AsyncFor) else cond
        if cond is not None and (span := _expr_span(src, "control_flow", cond)):
            yield span
        call = _expr_span(src, "api_call", node) if isinstance(node, ast.Call) else None
        if call is not None and call.end - call.start >= 6:
            yield call


def find_spans(path: str, text: str) -> list[Span]:
    """Every middle of every kind in the file's functions, in file order, without repeats. Functions
    nested in others are visited on their own; f-strings are skipped (their positions are unreliable)."""
    try:
        src = SourceFile(path, text)
    except SyntaxError:
        return []
    fstrings = [(src.start(n), src.end(n)) for n in ast.walk(src.tree) if isinstance(n, ast.JoinedStr)]
    seen: set[tuple[int, int]] = set()
    out: list[Span] = []
    for func in ast.walk(src.tree):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for span in _spans_in(func, src):
            inside_fstring = any(a <= span.start < b for a, b in fstrings)
            if (span.start, span.end) in seen or inside_fstring or not text[span.start : span.end].strip():
                continue
            seen.add((span.start, span.end))
            out.append(span)
    return sorted(out, key=lambda s: (s.start, s.end, s.kind))


@dataclass(frozen=True)
class Corruption:
    """A corrupted problem, the mutator that corrupted it and its edits (in the clean file's offsets)."""

    problem: Problem
    mutator: str
    edits: list[Edit]


def corrupt(
    problem: Problem, src: SourceFile, mutators: list[Mutator], rng: random.Random
) -> Corruption | None:
    """`problem` with one mutator applied inside its window (outside the middle); None when no mutator
    changes anything there. `src` is the parsed clean file."""
    start, end = len(problem.clean_prefix), len(problem.clean_prefix) + len(problem.middle)
    w_start, w_end = problem.window_span()
    w_end += len(problem.middle) - len(problem.marker_text())  # the window in the clean file's offsets
    nodes = [n for n in ast.walk(src.tree) if hasattr(n, "lineno") and hasattr(n, "end_col_offset")]
    inside = [n for n in nodes if w_start <= src.start(n) and src.end(n) <= w_end]
    order = [(m, n) for m in mutators for n in inside if isinstance(n, m.node_types)]
    rng.shuffle(order)
    for mutator, node in order:
        if not mutator.applies(node, src):
            continue
        try:
            edits = mutator.mutate(node, random.Random(rng.random()), src)
        except (ValueError, IndexError, AttributeError):
            continue
        if not edits or not all(e.end <= start or e.start >= end for e in edits):
            continue
        try:
            shown = with_edits(problem, edits)
            shown.check()
        except FormatError:
            continue
        return Corruption(shown, mutator.name, sorted(edits, key=lambda e: e.start))
    return None


def with_edits(problem: Problem, edits: list[Edit]) -> Problem:
    """`problem` shown with `edits` (clean-file offsets, outside the middle) applied to its prefix and
    suffix. Raises FormatError when an edit overlaps the middle or another edit, or changes nothing."""
    start, end = len(problem.clean_prefix), len(problem.clean_prefix) + len(problem.middle)
    if not all(e.end <= start or e.start >= end for e in edits):
        raise FormatError("a corruption edit overlaps the middle")
    try:
        before = apply_edits(problem.clean_prefix, [e for e in edits if e.end <= start])
        after_edits = [Edit(e.start - end, e.end - end, e.text) for e in edits if e.start >= end]
        after = apply_edits(problem.clean_suffix, after_edits)
    except ValueError as err:
        raise FormatError(f"the corruption edits do not apply: {err}") from err
    if before == problem.clean_prefix and after == problem.clean_suffix:
        raise FormatError("the corruption edits change nothing")
    return Problem(
        before, problem.middle, after, problem.clean_prefix, problem.clean_suffix,
        problem.language, problem.window,
    )  # fmt: skip
