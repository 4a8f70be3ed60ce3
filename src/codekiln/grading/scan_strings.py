"""The static scan's reading of strings (`scan._Scanner` inherits it): a string constant, a sum or
an f-string that folds to one, checked for the grader's paths, the runner's environment, names of the
rules' functions and importable runner modules. A docstring or a bare string statement is prose and
not read. Shipped beside `scan.py` (`grading.shipped`): imports nothing from codekiln but its siblings.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING or __package__:
    from . import scan_fold as sf
    from . import scan_rules as rules
else:  # shipped: beside scan_rules.py in an exported task's tests/codekiln/ (`grading.shipped`)
    import scan_fold as sf
    import scan_rules as rules


def is_runner(module: str) -> bool:
    return module.split(".")[0] in rules.RUNNER_MODULES


DETAIL_MAX = 80


class StringChecks(ast.NodeVisitor):
    """The string visits of the scanner, and how a finding is recorded (`found`: line, kind, detail)."""

    found: list[tuple[int, str, str]]

    def add(self, node: ast.AST, kind: str, detail: str) -> None:
        self.found.append((getattr(node, "lineno", 0), kind, detail[:DETAIL_MAX]))

    def visit_Expr(self, node: ast.Expr) -> None:
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string: prose
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str):
            self.check_string(node, node.value)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        # "_py" + "test": checked whole, as well as in parts (each constant, each part that folds where
        # the whole does not). A part of a sum that folds whole is not folded and checked again: in a
        # sum of n constants that was n folds of up to n parts (a 6 MB sum took 35 s to scan).
        parent = getattr(node, "_parent", None)
        if isinstance(parent, ast.BinOp) and getattr(parent, "_folded", False):
            node._folded = True  # type: ignore[attr-defined]
        else:
            folded = sf.fold(node)
            node._folded = folded is not None  # type: ignore[attr-defined]
            if folded is not None:
                self.check_string(node, folded)
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        folded = sf.fold(node)
        if folded is not None:
            self.check_string(node, folded)
        self.generic_visit(node)

    def check_string(self, node: ast.AST, text: str) -> None:
        low = text.lower()
        if "codekiln" in low or "junit" in low:
            self.add(node, "grader-path", text)
        elif text in rules.DISTINCT or text in rules.FRAME_ATTRS:
            self.add(node, rules.DISTINCT.get(text, "frame-walk"), repr(text))
        elif text.startswith("PYTEST_"):
            self.add(node, "runner-env", text)
        elif re.fullmatch(r"[\w.]+(:[\w.]+)?", text) and is_runner(text) and text != "py":  # pkg.mod:attr
            self.add(node, "runner-import", repr(text))
