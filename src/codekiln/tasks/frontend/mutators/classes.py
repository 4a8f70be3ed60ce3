"""Class-level mutators: a base class dropped from a class, a method deleted from it."""

from __future__ import annotations

import ast
import random

from codekiln.tasks.frontend.mutators.base import Edit, Mutator, SourceFile


def _is_object(node: ast.expr) -> bool:
    return isinstance(node, ast.Name) and node.id == "object"


class RemoveBaseClass(Mutator):
    name = "remove_base_class"
    description = "drop one base class from a class statement (never `object`)"
    node_types = (ast.ClassDef,)

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.ClassDef)
        return any(not _is_object(b) and not isinstance(b, ast.Starred) for b in node.bases)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.ClassDef)
        choices = [b for b in node.bases if not _is_object(b) and not isinstance(b, ast.Starred)]
        if not choices:
            return None
        target = rng.choice(choices)
        args: list[ast.AST] = sorted([*node.bases, *node.keywords], key=src.start)
        k = next(i for i, a in enumerate(args) if a is target)
        text = src.text
        if len(args) == 1:
            open_at = text.rfind("(", src.start(node), src.start(target))
            close_at = text.find(")", src.end(target))
            if open_at < 0 or close_at < 0:
                return None
            if text[open_at + 1 : src.start(target)].strip() or text[src.end(target) : close_at].strip(
                " \t\n,"
            ):
                return None
            return [Edit(open_at, close_at + 1, "")]
        if k < len(args) - 1:
            return [Edit(src.start(target), src.start(args[k + 1]), "")]
        return [Edit(src.end(args[k - 1]), src.end(target), "")]


class RemoveMethod(Mutator):
    name = "remove_method"
    description = "delete one method from a class that has several"
    node_types = (ast.ClassDef,)

    def _methods(self, node: ast.ClassDef, src: SourceFile) -> list[ast.stmt]:
        return [
            s
            for s in node.body
            if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef) and src.owns_lines(s)
        ]

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.ClassDef)
        return len(self._methods(node, src)) >= 2

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.ClassDef)
        methods = self._methods(node, src)
        if len(methods) < 2:
            return None
        return src.remove_statement(rng.choice(methods))
