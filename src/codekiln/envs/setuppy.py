"""What a setup.py declares for tests, read without running it: `extras_require` and `tests_require`
where they are literals (or module-level names bound to literals, `+` and `*name` unpacking followed;
an extra whose value is computed is left out, the others kept).

    setup_py_requires(root)    # {"test": ["pytest>=7", ...], "docs": [...]}; {} when setup.py computes them
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from codekiln.core.pyast import parse as parse_ast


def _literal(node: ast.expr, names: dict[str, ast.expr], depth: int = 0) -> Any:
    """The value of a literal expression, module-level names and `+` of lists followed; raises ValueError."""
    if depth > 10:
        raise ValueError("too deep")
    if isinstance(node, ast.Name) and node.id in names:
        return _literal(names[node.id], names, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, names, depth + 1) + _literal(node.right, names, depth + 1)
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values, strict=True):
            if k is None:  # `**other`
                continue
            try:  # one computed value does not hide the literal ones beside it
                out[_literal(k, names, depth + 1)] = _literal(v, names, depth + 1)
            except (ValueError, TypeError, SyntaxError):
                continue
        return out
    if isinstance(node, ast.List | ast.Tuple):
        items: list[Any] = []
        for e in node.elts:  # `[*base_require, "pytest"]` unpacks a name bound to a list
            items += (
                _literal(e.value, names, depth + 1)
                if isinstance(e, ast.Starred)
                else [_literal(e, names, depth + 1)]
            )
        return items
    return ast.literal_eval(node)


def setup_py_requires(root: Path) -> dict[str, list[str]]:
    """`extras_require` of setup.py's `setup(...)` call, plus `tests_require` as the extra "test", where
    they are literals (or module-level names bound to literals); {} when setup.py computes them."""
    path = root / "setup.py"
    try:
        tree = parse_ast(path.read_bytes()) if path.is_file() else None
    except (SyntaxError, ValueError):
        return {}
    if tree is None:
        return {}
    names = {
        t.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for t in node.targets
        if isinstance(t, ast.Name)
    }
    out: dict[str, list[str]] = {}
    for node in ast.walk(tree):
        if (
            not isinstance(node, ast.Call)
            or getattr(node.func, "id", getattr(node.func, "attr", "")) != "setup"
        ):
            continue
        for kw in node.keywords:
            try:
                value = _literal(kw.value, names)
            except (ValueError, TypeError, SyntaxError, RecursionError):
                continue
            if kw.arg == "extras_require" and isinstance(value, dict):
                for key, reqs in value.items():
                    reqs = [reqs] if isinstance(reqs, str) else reqs
                    if isinstance(key, str) and isinstance(reqs, list):
                        # an extra's name may carry a marker: "test:python_version<'3.8'"
                        name, _, marker = key.partition(":")
                        suffix = f"; {marker}" if marker else ""
                        out.setdefault(name, []).extend(f"{r}{suffix}" for r in reqs if isinstance(r, str))
            elif kw.arg == "tests_require" and isinstance(value, list):
                out.setdefault("test", []).extend(r for r in value if isinstance(r, str))
    return out


__all__ = ["setup_py_requires"]
