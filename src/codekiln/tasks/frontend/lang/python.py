"""Python entities from the standard `ast`: module functions, classes (nested ones too) and their methods.

Functions nested inside functions belong to their enclosing entity. Definitions under module-level
`if`/`try`/`with` blocks (version switches, optional imports) are found as well.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import PurePosixPath

from codekiln.core.pyast import parse as parse_ast
from codekiln.core.testnames import is_test_name
from codekiln.tasks.frontend.entities import Entity, EntityKind

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
DefNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef

_BRANCHES = (
    ast.If,
    ast.IfExp,
    ast.For,
    ast.AsyncFor,
    ast.While,
    ast.ExceptHandler,
    ast.With,
    ast.AsyncWith,
    ast.Assert,
    ast.comprehension,
    ast.match_case,
)


def iter_entity_nodes(tree: ast.Module) -> Iterator[tuple[str, EntityKind, DefNode]]:
    """(qualname, kind, node) for every entity of a parsed module, in source order."""
    yield from _walk_block(tree.body, prefix="", in_class=False)


def _walk_block(
    body: list[ast.stmt], prefix: str, in_class: bool
) -> Iterator[tuple[str, EntityKind, DefNode]]:
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            yield prefix + stmt.name, "method" if in_class else "function", stmt
        elif isinstance(stmt, ast.ClassDef):
            yield prefix + stmt.name, "class", stmt
            yield from _walk_block(stmt.body, prefix=f"{prefix}{stmt.name}.", in_class=True)
        elif isinstance(stmt, ast.If | ast.Try | ast.With):
            for block in _sub_blocks(stmt):
                yield from _walk_block(block, prefix, in_class)


def _sub_blocks(stmt: ast.If | ast.Try | ast.With) -> list[list[ast.stmt]]:
    if isinstance(stmt, ast.If):
        return [stmt.body, stmt.orelse]
    if isinstance(stmt, ast.Try):
        return [stmt.body, *(h.body for h in stmt.handlers), stmt.orelse, stmt.finalbody]
    return [stmt.body]


def start_line(node: DefNode) -> int:
    """First line of a definition, decorators included."""
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def complexity(node: ast.AST) -> int:
    count = 1
    for sub in ast.walk(node):
        if isinstance(sub, _BRANCHES):
            count += 1
        elif isinstance(sub, ast.BoolOp):
            count += len(sub.values) - 1
    return count


def signature(node: DefNode) -> str:
    if isinstance(node, ast.ClassDef):
        args = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
        return f"class {node.name}({', '.join(args)})" if args else f"class {node.name}"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    ret = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){ret}"


class PythonSupport:
    """The `LanguageSupport` for Python."""

    name = "python"
    suffixes = (".py",)

    def is_test_file(self, path: PurePosixPath) -> bool:
        return is_test_name(path.name) or path.name in ("conftest.py", "setup.py", "noxfile.py")

    def extract(self, path: str, text: str) -> list[Entity]:
        tree = parse_ast(text, filename=path)
        lines = text.split("\n")
        entities = []
        seen: dict[str, int] = {}
        for qualname, kind, node in iter_entity_nodes(tree):
            seen[qualname] = seen.get(qualname, -1) + 1
            first, last = start_line(node), node.end_lineno or node.lineno
            entities.append(
                Entity(
                    file=path,
                    kind=kind,
                    name=node.name,
                    qualname=qualname,
                    start_line=first,
                    end_line=last,
                    code="\n".join(lines[first - 1 : last]) + "\n",
                    signature=signature(node),
                    complexity=complexity(node),
                    occurrence=seen[qualname],
                )
            )
        return entities


PYTHON = PythonSupport()
