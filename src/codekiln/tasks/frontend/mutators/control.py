"""Control-flow mutators: negated conditions, swapped if/else bodies, removed guards, raises and loop jumps."""

from __future__ import annotations

import ast
import random
import re

from codekiln.tasks.frontend.mutators.base import Edit, Mutator, SourceFile

_ELSE_RE = re.compile(r"^\s*else\s*:\s*(#.*)?$")
_ATOMS = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant)


def _is_elif(node: ast.If, src: SourceFile) -> bool:
    return src.lines[node.lineno - 1].lstrip().startswith("elif")


class NegateCondition(Mutator):
    name = "negate_condition"
    description = "negate the condition of an if / elif / while / conditional expression"
    node_types = (ast.If, ast.While, ast.IfExp)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.If | ast.While | ast.IfExp)
        test = node.test
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            inner = src.segment(test.operand)
            return [src.replace(test, inner if isinstance(test.operand, _ATOMS) else f"({inner})")]
        text = src.segment(test)
        return [src.replace(test, f"not {text}" if isinstance(test, _ATOMS) else f"not ({text})")]


class SwapIfElse(Mutator):
    name = "swap_if_else"
    description = "exchange the bodies of an if/else (the condition stays)"
    node_types = (ast.If,)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        return self._blocks(node, src) is not None

    def _blocks(self, node: ast.AST, src: SourceFile) -> tuple[int, int, int, int] | None:
        """(first, last) lines of the if body and of the else body, when both stand on their own lines."""
        assert isinstance(node, ast.If)
        if not node.orelse or (
            len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If) and _is_elif(node.orelse[0], src)
        ):
            return None
        body_first = src.first_line(node.body[0])
        body_last = node.body[-1].end_lineno or node.body[-1].lineno
        else_first = src.first_line(node.orelse[0])
        else_last = node.orelse[-1].end_lineno or node.orelse[-1].lineno
        test_end = node.test.end_lineno or node.lineno
        if body_first <= test_end:
            return None
        else_lines = [n for n in range(body_last + 1, else_first) if _ELSE_RE.match(src.lines[n - 1])]
        if len(else_lines) != 1 or src.indent(body_first) != src.indent(else_first):
            return None
        return body_first, body_last, else_first, else_last

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        blocks = self._blocks(node, src)
        if blocks is None:
            return None
        a_first, a_last, b_first, b_last = blocks
        a_start, a_end = src.lines_span(a_first, a_last)
        b_start, b_end = src.lines_span(b_first, b_last)
        a_text, b_text = src.text[a_start:a_end], src.text[b_start:b_end]
        if not b_text.endswith("\n"):  # the else body ends the file, which has no final newline
            return [Edit(a_start, a_end, b_text + "\n"), Edit(b_start, b_end, a_text[:-1])]
        return [Edit(a_start, a_end, b_text), Edit(b_start, b_end, a_text)]


class RemoveGuard(Mutator):
    name = "remove_guard"
    description = (
        "delete a guard clause: an `if` without else whose short body returns, raises, breaks or continues"
    )
    node_types = (ast.If,)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.If)
        return (
            not node.orelse
            and len(node.body) <= 3
            and isinstance(node.body[-1], ast.Return | ast.Raise | ast.Continue | ast.Break)
            and not _is_elif(node, src)
            and src.owns_lines(node)
        )

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.If)
        return src.remove_statement(node)


class RemoveRaise(Mutator):
    name = "remove_raise"
    description = "delete a `raise` statement (not one marking an unimplemented method)"
    node_types = (ast.Raise,)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.Raise)
        exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
        if exc is None or (isinstance(exc, ast.Name) and exc.id == "NotImplementedError"):
            return False
        return src.owns_lines(node)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Raise)
        return src.remove_statement(node)


class RemoveLoopJump(Mutator):
    name = "remove_loop_jump"
    description = "delete a `break` or `continue`"
    node_types = (ast.Break, ast.Continue)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.Break | ast.Continue)
        return src.owns_lines(node)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Break | ast.Continue)
        return src.remove_statement(node)
