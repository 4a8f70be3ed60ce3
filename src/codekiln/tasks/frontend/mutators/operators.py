"""Operator mutators: flipped comparisons, swapped boolean operators, changed arithmetic operators.

Each rewrites only the operator token written between two operands; operands, parentheses and
comments stay as they were.
"""

from __future__ import annotations

import ast
import itertools
import random

from codekiln.tasks.frontend.mutators.base import Edit, Mutator, SourceFile

COMPARE_FLIPS: dict[str, tuple[str, ...]] = {
    "==": ("!=",),
    "!=": ("==",),
    "<": ("<=", ">"),
    "<=": ("<", ">="),
    ">": (">=", "<"),
    ">=": (">", "<="),
    "in": ("not in",),
    "not in": ("in",),
    "is": ("is not",),
    "is not": ("is",),
}

ARITH_SWAPS: dict[str, tuple[str, ...]] = {
    "+": ("-",),
    "-": ("+",),
    "*": ("/", "+"),
    "/": ("*", "//"),
    "//": ("/", "%"),
    "%": ("//",),
    "**": ("*",),
    "<<": (">>",),
    ">>": ("<<",),
    "&": ("|",),
    "|": ("&",),
    "^": ("|",),
}


class FlipComparison(Mutator):
    name = "flip_comparison"
    description = (
        "replace a comparison operator with its negation or a neighbour (< with <= or >, == with !=)"
    )
    node_types = (ast.Compare,)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Compare)
        operands = [node.left, *node.comparators]
        i = rng.randrange(len(node.ops))
        found = src.operator_between(operands[i], operands[i + 1])
        if found is None or found[2] not in COMPARE_FLIPS:
            return None
        start, end, op = found
        return [Edit(start, end, rng.choice(COMPARE_FLIPS[op]))]


class SwapBoolOp(Mutator):
    name = "swap_bool_op"
    description = "turn `and` into `or` (or the reverse) throughout one boolean expression"
    node_types = (ast.BoolOp,)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.BoolOp)
        new = "or" if isinstance(node.op, ast.And) else "and"
        edits = []
        for left, right in itertools.pairwise(node.values):
            found = src.operator_between(left, right)
            if found is None or found[2] not in ("and", "or"):
                return None
            edits.append(Edit(found[0], found[1], new))
        return edits


class ChangeArithOp(Mutator):
    name = "change_arith_op"
    description = (
        "replace an arithmetic or bitwise operator (+ with -, * with /, ...), in expressions and `x += y`"
    )
    node_types = (ast.BinOp, ast.AugAssign)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            # `"%s" % x` is string formatting, not arithmetic.
            left = node.left
            return not (
                isinstance(left, ast.JoinedStr)
                or (isinstance(left, ast.Constant) and isinstance(left.value, str))
            )
        return True

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        if isinstance(node, ast.BinOp):
            found = src.operator_between(node.left, node.right)
            suffix = ""
        else:
            assert isinstance(node, ast.AugAssign)
            found = src.operator_between(node.target, node.value)
            suffix = "="
        if found is None:
            return None
        start, end, op = found
        bare = op[:-1] if suffix and op.endswith("=") else op
        if bare not in ARITH_SWAPS:
            return None
        return [Edit(start, end, rng.choice(ARITH_SWAPS[bare]) + suffix)]
