"""Value mutators: off-by-one bounds and indices, changed constants and defaults, swapped call
arguments, wrong return values."""

from __future__ import annotations

import ast
import random

from codekiln.tasks.frontend.entities import CODE_KINDS
from codekiln.tasks.frontend.mutators.base import (
    Edit,
    Mutator,
    SourceFile,
    is_number,
    nudge_number,
    offset_text,
)


def int_literal(node: ast.AST | None) -> int | None:
    """The value of `3` or `-3` written as a literal, else None."""
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = int_literal(node.operand)
        return None if inner is None else -inner
    return None


class OffByOne(Mutator):
    name = "off_by_one"
    description = "shift a range() bound, a slice bound or a literal index by one"
    node_types = (ast.Call, ast.Slice, ast.Subscript)

    def _targets(self, node: ast.AST) -> list[ast.expr]:
        if isinstance(node, ast.Call):
            is_range = isinstance(node.func, ast.Name) and node.func.id == "range" and not node.keywords
            if is_range and node.args and not any(isinstance(a, ast.Starred) for a in node.args):
                return list(node.args[:2])
            return []
        if isinstance(node, ast.Slice):
            return [b for b in (node.lower, node.upper) if b is not None]
        assert isinstance(node, ast.Subscript)
        return [node.slice] if int_literal(node.slice) is not None else []

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        return bool(self._targets(node))

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        targets = self._targets(node)
        if not targets:
            return None
        target = rng.choice(targets)
        delta = rng.choice((-1, 1))
        value = int_literal(target)
        text = repr(value + delta) if value is not None else offset_text(src, target, delta)
        return [src.replace(target, text)]


class ChangeConstant(Mutator):
    name = "change_constant"
    description = "change a numeric literal by one, or flip True/False"
    node_types = (ast.Constant,)
    kinds = CODE_KINDS | {"data"}  # a module- or class-level number or flag too

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.Constant)
        return is_number(node) or isinstance(node.value, bool)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Constant)
        if isinstance(node.value, bool):
            return [src.replace(node, repr(not node.value))]
        return [src.replace(node, repr(nudge_number(node.value, rng)))]


class SwapCallArgs(Mutator):
    name = "swap_call_args"
    description = "swap two adjacent positional arguments of a call"
    node_types = (ast.Call,)

    def _pairs(self, node: ast.Call, src: SourceFile) -> list[int]:
        args = node.args
        return [
            i
            for i in range(len(args) - 1)
            if not isinstance(args[i], ast.Starred)
            and not isinstance(args[i + 1], ast.Starred)
            and src.segment(args[i]) != src.segment(args[i + 1])
        ]

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.Call)
        return bool(self._pairs(node, src))

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Call)
        pairs = self._pairs(node, src)
        if not pairs:
            return None
        i = rng.choice(pairs)
        a, b = node.args[i], node.args[i + 1]
        return [src.replace(a, src.segment(b)), src.replace(b, src.segment(a))]


def _changed_default(node: ast.expr, rng: random.Random) -> str | None:
    if not isinstance(node, ast.Constant):
        return None
    value = node.value
    if isinstance(value, bool):
        return repr(not value)
    if is_number(node):
        return repr(nudge_number(value, rng))
    if isinstance(value, str) and value:
        return "''"
    return None


class ChangeDefaultArg(Mutator):
    name = "change_default_arg"
    description = "change a parameter's literal default value (a number, a flag, a non-empty string)"
    node_types = (ast.FunctionDef, ast.AsyncFunctionDef)

    def _defaults(self, node: ast.AST) -> list[ast.expr]:
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        defaults = [*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)]
        return [d for d in defaults if _changed_default(d, random.Random(0)) is not None]

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        return bool(self._defaults(node))

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        defaults = self._defaults(node)
        if not defaults:
            return None
        target = rng.choice(defaults)
        text = _changed_default(target, rng)
        return None if text is None else [src.replace(target, text)]


class WrongReturn(Mutator):
    name = "wrong_return"
    description = "return a wrong value: a negated predicate, a number off by one, or None"
    node_types = (ast.Return,)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.Return)
        value = node.value
        return value is not None and not (isinstance(value, ast.Constant) and value.value is None)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Return)
        value = node.value
        if value is None:
            return None
        if isinstance(value, ast.Constant) and isinstance(value.value, bool):
            return [src.replace(value, repr(not value.value))]
        if is_number(value):
            assert isinstance(value, ast.Constant)
            return [src.replace(value, repr(nudge_number(value.value, rng)))]
        if isinstance(value, ast.Compare | ast.BoolOp) or (
            isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.Not)
        ):
            return [src.replace(value, f"not ({src.segment(value)})")]
        return [src.replace(value, "None")]
