"""What every procedural mutator is built from: a parsed `SourceFile`, text `Edit`s and the `Mutator` base.

A mutator is declarative: a `name`, a one-line `description`, `applies(node, src)` saying where it can
act, and `mutate(node, rng, src)` returning the text edits of one change (choices drawn from `rng` only,
so a seed reproduces it), or None when this site offers nothing to change. Edits replace exact character
spans of the file, so the rest of the file (comments, formatting) is untouched and diffs stay minimal:

    class FlipSign(Mutator):
        name = "flip_sign"
        description = "turn unary minus into plus"
        node_types = (ast.UnaryOp,)
        def applies(self, node, src): return isinstance(node.op, ast.USub)
        def mutate(self, node, rng, src): return [Edit(src.start(node), src.start(node) + 1, "+")]
"""

from __future__ import annotations

import ast
import random
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

from codekiln.core.pyast import parse as parse_ast
from codekiln.tasks.frontend.entities import CODE_KINDS

_TOKEN_RE = re.compile(r"[^\s()\\]+")


@dataclass(frozen=True)
class Edit:
    """Replace characters [start, end) of the file's text with `text`."""

    start: int
    end: int
    text: str


def apply_edits(text: str, edits: list[Edit]) -> str:
    """Apply non-overlapping edits; raises ValueError if two overlap."""
    out = text
    last_start = len(text) + 1
    for edit in sorted(edits, key=lambda e: (e.start, e.end), reverse=True):
        if edit.end > last_start:
            raise ValueError("overlapping edits")
        out = out[: edit.start] + edit.text + out[edit.end :]
        last_start = edit.start
    return out


class SourceFile:
    """A parsed Python file with position helpers: character offsets, statement blocks, line spans."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.tree = parse_ast(text, filename=path)
        self.lines = text.split("\n")
        self._line_starts = [0]
        for line in self.lines[:-1]:
            self._line_starts.append(self._line_starts[-1] + len(line) + 1)
        self._blocks: dict[int, list[ast.stmt]] = {}
        self._scopes: dict[int, list[ast.AST]] = {}
        self._parents: dict[int, ast.AST] = {}
        for parent in ast.walk(self.tree):
            for _field, value in ast.iter_fields(parent):
                children = value if isinstance(value, list) else [value]
                for child in children:
                    if isinstance(child, ast.AST):
                        self._parents[id(child)] = parent
                if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                    for stmt in value:
                        self._blocks[id(stmt)] = value

    # -- positions ---------------------------------------------------------------------------------------
    def offset(self, lineno: int, col_bytes: int) -> int:
        """Character offset of an ast position (1-based line, UTF-8 byte column)."""
        line = self.lines[lineno - 1]
        col = col_bytes if line.isascii() else len(line.encode()[:col_bytes].decode("utf-8", errors="ignore"))
        return self._line_starts[lineno - 1] + col

    def start(self, node: ast.AST) -> int:
        return self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]

    def end(self, node: ast.AST) -> int:
        return self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]

    def segment(self, node: ast.AST) -> str:
        return self.text[self.start(node) : self.end(node)]

    def replace(self, node: ast.AST, text: str) -> Edit:
        return Edit(self.start(node), self.end(node), text)

    def line_start(self, lineno: int) -> int:
        return self._line_starts[lineno - 1]

    def lines_span(self, first: int, last: int) -> tuple[int, int]:
        """Offsets covering whole lines first..last (1-based, inclusive) and the newline after them."""
        end = self._line_starts[last] if last < len(self.lines) else len(self.text)
        return self._line_starts[first - 1], end

    def indent(self, lineno: int) -> str:
        line = self.lines[lineno - 1]
        return line[: len(line) - len(line.lstrip())]

    def scope(self, entity_node: ast.AST) -> list[ast.AST]:
        """`iter_scope(entity_node)` as a list, computed once per entity."""
        key = id(entity_node)
        if key not in self._scopes:
            self._scopes[key] = list(iter_scope(entity_node))
        return self._scopes[key]

    # -- statements --------------------------------------------------------------------------------------
    def parent(self, node: ast.AST) -> ast.AST | None:
        return self._parents.get(id(node))

    def block_of(self, stmt: ast.stmt) -> list[ast.stmt]:
        return self._blocks.get(id(stmt), [])

    def first_line(self, stmt: ast.stmt) -> int:
        decorators = getattr(stmt, "decorator_list", [])
        return min([stmt.lineno, *(d.lineno for d in decorators)])

    def owns_lines(self, stmt: ast.stmt) -> bool:
        """True if the statement's lines hold nothing else (no `a; b`, no `if x: stmt` on one line)."""
        first = self.first_line(stmt)
        if first == stmt.lineno:
            head = self.lines[first - 1][: self.start(stmt) - self.line_start(first)]
        else:  # a decorated definition starts at its first `@` line
            head = "" if self.lines[first - 1].lstrip().startswith("@") else "?"
        end_line = stmt.end_lineno or stmt.lineno
        tail = self.text[self.end(stmt) : self.lines_span(end_line, end_line)[1]].strip()
        return not head.strip() and (not tail or tail.startswith("#"))

    def stmt_span(self, stmt: ast.stmt) -> tuple[int, int]:
        return self.lines_span(self.first_line(stmt), stmt.end_lineno or stmt.lineno)

    def is_docstring(self, stmt: ast.stmt) -> bool:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            return False
        if not isinstance(stmt.value.value, str):
            return False
        block = self.block_of(stmt)
        parent = self.parent(stmt)
        return (
            bool(block)
            and block[0] is stmt
            and isinstance(parent, ast.Module | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        )

    def remove_statement(self, stmt: ast.stmt) -> list[Edit] | None:
        """Edits deleting a statement's lines, or turning it into `pass` if its block would be empty."""
        if not self.owns_lines(stmt):
            return None
        start, end = self.stmt_span(stmt)
        others = [s for s in self.block_of(stmt) if s is not stmt and not self.is_docstring(s)]
        if others or any(self.is_docstring(s) for s in self.block_of(stmt)):
            return [Edit(start, end, "")]
        return [Edit(start, end, self.indent(stmt.lineno) + "pass\n")]

    # -- operators between operands ----------------------------------------------------------------------
    def operator_between(self, left: ast.AST, right: ast.AST) -> tuple[int, int, str] | None:
        """(start, end, text) of the operator written between two operands, or None if a comment or
        anything unexpected sits there."""
        lo, hi = self.end(left), self.start(right)
        gap = self.text[lo:hi]
        if "#" in gap:
            return None
        tokens = list(_TOKEN_RE.finditer(gap))
        if not tokens or len(tokens) > 2:
            return None
        start, end = lo + tokens[0].start(), lo + tokens[-1].end()
        return start, end, " ".join(t.group() for t in tokens)


def iter_scope(node: ast.AST) -> Iterator[ast.AST]:
    """The nodes a mutator may touch inside an entity, in a stable order.

    A function's whole body (nested functions included); for a class, the class node itself and its
    body outside methods and nested classes (those are entities of their own). Docstrings and anything
    inside f-strings (whose inner positions are unreliable before Python 3.12) are left out."""
    stack: list[ast.AST] = [node]
    is_class = isinstance(node, ast.ClassDef)
    while stack:
        current = stack.pop(0)
        yield current
        for child in ast.iter_child_nodes(current):
            if isinstance(child, ast.JoinedStr):
                continue
            if (
                is_class
                and current is node
                and isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            ):
                continue
            if _is_docstring_expr(current, child):
                continue
            stack.append(child)


def _is_docstring_expr(parent: ast.AST, child: ast.AST) -> bool:
    body = getattr(parent, "body", None)
    return (
        isinstance(parent, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module)
        and isinstance(body, list)
        and bool(body)
        and body[0] is child
        and isinstance(child, ast.Expr)
        and isinstance(child.value, ast.Constant)
        and isinstance(child.value.value, str)
    )


class Mutator(ABC):
    """Base of all mutators. Subclasses set `name`, `description`, `node_types`, implement `mutate`, and
    may override `applies` (extra conditions; the default accepts every node of `node_types`)."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    node_types: ClassVar[tuple[type[ast.AST], ...]] = ()
    kinds: ClassVar[frozenset[str]] = CODE_KINDS
    """The entity kinds it mutates: functions, methods and classes, unless it says "data" too (or only)."""

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        return isinstance(node, self.node_types)

    @abstractmethod
    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        """The edits of one change at `node` (choices drawn from `rng` only), or None if it offers none."""

    def sites(self, entity_node: ast.AST, src: SourceFile) -> list[ast.AST]:
        """Every node of the entity this mutator applies to, in a stable order."""
        return [n for n in src.scope(entity_node) if isinstance(n, self.node_types) and self.applies(n, src)]

    def __repr__(self) -> str:
        return f"<mutator {self.name}>"


def is_number(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) in (int, float)


def nudge_number(value: object, rng: random.Random) -> int | float:
    """A nearby different number: +-1 (0 becomes 1)."""
    assert isinstance(value, int | float) and not isinstance(value, bool), value
    return value + rng.choice((-1, 1)) if value != 0 else value + 1


def offset_text(src: SourceFile, node: ast.expr, delta: int) -> str:
    """The source of `node` shifted by `delta` (+1/-1): literal ints are rewritten, other
    expressions get ` + 1` / ` - 1` appended (parenthesized unless they bind tighter)."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return repr(node.value + delta)
    text = src.segment(node)
    if not isinstance(node, ast.Name | ast.Attribute | ast.Call | ast.Subscript | ast.Constant):
        text = f"({text})"
    return f"{text} + 1" if delta > 0 else f"{text} - 1"
