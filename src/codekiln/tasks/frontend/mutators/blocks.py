"""Statement-level mutators: a removed statement, two dependent statements in swapped order."""

from __future__ import annotations

import ast
import random

from codekiln.tasks.frontend.mutators.base import Edit, Mutator, SourceFile

_JUMPS = (ast.Return, ast.Raise, ast.Break, ast.Continue)
_NOT_REORDERED = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Import,
    ast.ImportFrom,
    ast.Global,
    ast.Nonlocal,
    ast.Pass,
)


class RemoveStatement(Mutator):
    name = "remove_statement"
    description = "delete an assignment, augmented assignment, `del` or call statement"
    node_types = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Delete)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        if isinstance(node, ast.AnnAssign) and node.value is None:
            return False
        if isinstance(node, ast.Expr) and not isinstance(
            node.value, ast.Call | ast.Await | ast.Yield | ast.YieldFrom
        ):
            return False
        assert isinstance(node, ast.stmt)
        return src.owns_lines(node)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.stmt)
        return src.remove_statement(node)


def _names(node: ast.AST, ctx: type[ast.expr_context]) -> set[str]:
    found = {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}
    if ctx is ast.Store:
        found |= {
            n.target.id
            for n in ast.walk(node)
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
        }
    return found


def depends(a: ast.stmt, b: ast.stmt) -> bool:
    """True if running b before a can change the result: one writes a name the other reads or writes,
    or one of them leaves the block (return, raise, break, continue)."""
    if isinstance(a, _JUMPS) or isinstance(b, _JUMPS):
        return True
    writes_a, writes_b = _names(a, ast.Store), _names(b, ast.Store)
    reads_a, reads_b = _names(a, ast.Load), _names(b, ast.Load)
    return bool(writes_a & (reads_b | writes_b) or writes_b & reads_a)


class ReorderStatements(Mutator):
    name = "reorder_statements"
    description = "swap two adjacent statements that depend on each other"
    node_types = (ast.stmt,)

    def _next(self, node: ast.stmt, src: SourceFile) -> ast.stmt | None:
        block = src.block_of(node)
        index = next((i for i, s in enumerate(block) if s is node), -1)
        return block[index + 1] if 0 <= index < len(block) - 1 else None

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.stmt)
        nxt = self._next(node, src)
        return (
            nxt is not None
            and not isinstance(node, _NOT_REORDERED)
            and not isinstance(nxt, _NOT_REORDERED)
            and not src.is_docstring(node)
            and src.owns_lines(node)
            and src.owns_lines(nxt)
            and depends(node, nxt)
        )

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.stmt)
        nxt = self._next(node, src)
        if nxt is None:
            return None
        a_start, a_end = src.stmt_span(node)
        b_start, b_end = src.stmt_span(nxt)
        a_text, b_text = src.text[a_start:a_end], src.text[b_start:b_end]
        if not b_text.endswith("\n"):  # the second statement ends a file with no final newline
            return [Edit(a_start, a_end, b_text + "\n"), Edit(b_start, b_end, a_text[:-1])]
        return [Edit(a_start, a_end, b_text), Edit(b_start, b_end, a_text)]
