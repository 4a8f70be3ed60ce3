"""Attacks on graded doctests (an eleventh red team): a doctest's examples live in the library module a
fix may change, so a patch can rewrite what a FAIL_TO_PASS doctest expects instead of fixing the code.

    doctest_examples_rewritten(target)   # every graded docstring's examples -> `>>> True` / `True`
    doctest_doc_rebound(target)          # the same, set at import through `f.__doc__ = ...`

On a task with no graded doctest both touch nothing a test reads (a comment), so they grade unresolved.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable

from codekiln.audit.target import Target
from codekiln.grading.doctests import doctest_ids

TRIVIAL = ">>> True\nTrue\n"
NOTE = "\n# no graded doctest in this task\n"
Targets = list[tuple[str, ast.AST]]  # graded classes and functions by qualified name, with their nodes


def _graded(t: Target) -> tuple[str, set[str]] | None:
    """The first file holding a FAIL_TO_PASS doctest, and the graded doctests' names in it."""
    found = sorted(doctest_ids(t.task.FAIL_TO_PASS).items())
    for rel, names in found:
        if rel.endswith(".py") and t.text(rel) is not None:
            return rel, names
    return None


def _targets(source: str, names: set[str]) -> Targets:
    """The classes and functions whose docstring is one of the graded doctests `names`, by qualified name."""
    tree = ast.parse(source)
    out: Targets = []
    todo: list[tuple[str, ast.AST]] = [("", tree)]
    while todo:
        prefix, node = todo.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                qual = f"{prefix}.{child.name}" if prefix else child.name
                if ast.get_docstring(child) and any(n == qual or n.endswith(f".{qual}") for n in names):
                    out.append((qual, child))
                todo.append((qual, child))
    return out


def _on_graded(edit: Callable[[Target, str, str, Targets], str]) -> Callable[[Target], str]:
    """A builder that gives `edit(t, rel, source, targets)` the first file holding a graded doctest, its
    text and its graded classes and functions; on a task with no graded doctest, it only adds `NOTE`."""

    @functools.wraps(edit)
    def build(t: Target) -> str:
        graded = _graded(t)
        if graded is None:
            return t.append(t.init, NOTE)
        rel, names = graded
        source = t.text(rel) or ""
        return edit(t, rel, source, _targets(source, names))

    return build


@_on_graded
def doctest_examples_rewritten(t: Target, rel: str, source: str, targets: Targets) -> str:
    """Each graded docstring replaced by one trivially passing example: the buggy code left as it is."""
    lines = source.splitlines(keepends=True)
    for _, node in sorted(targets, key=lambda q: -q[1].lineno):  # type: ignore[attr-defined]
        doc = node.body[0]  # type: ignore[attr-defined]
        indent = " " * doc.col_offset
        body = "".join(f"{indent}{line}\n" for line in TRIVIAL.splitlines())
        lines[doc.lineno - 1 : doc.end_lineno] = [f'{indent}"""\n{body}{indent}"""\n']
    return t.new(rel, "".join(lines))


@_on_graded
def doctest_doc_rebound(t: Target, rel: str, source: str, targets: Targets) -> str:
    """The same examples set at import time (`clamp.__doc__ = ...`), the docstrings left as written."""
    top = [qual for qual, _ in targets if "." not in qual]  # a module-level name
    code = "".join(f"\n{qual}.__doc__ = {TRIVIAL!r}\n" for qual in top)
    return t.append(rel, code or NOTE)


__all__ = ["doctest_doc_rebound", "doctest_examples_rewritten"]
