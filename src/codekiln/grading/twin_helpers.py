"""The assertion helpers whose expected argument a twin may change (`grading.twins`): a test's
`assert_close(mean([1, 2]), 1.5)` or `check.assert_same_items(words("b a"), ["a", "b"])`, whose helper
is defined in the test file or in a module of the snapshot it imports (`importlib.import_module` of a
literal name too; or in one those modules import: a package re-exporting it), and checks its first two
arguments for equality alone:

    assert a == b                        if a != b: raise ...
    assert sorted(a) == sorted(b)        if sorted(a) != sorted(b): raise ...
    if abs(a - b) > tol: raise ...       (tol a parameter whose default is a literal at most 1e-6,
                                          the call passing no third argument)

anything else in its body being a docstring. A helper that does anything more (another tolerance, a
call of another helper, an ordering) is left alone: a changed value within its tolerance, or on the
same side of its bound, could pass an honest fix the gold fails. Found by name: a name defined twice
must be an equality helper both times.
"""

from __future__ import annotations

import ast
from pathlib import Path, PurePosixPath

TOLERANCE = 1e-6
"""The largest default tolerance of a helper the twin changes the values of (its changes are far larger)."""


def equality_helpers(snapshot: Path, rel: str, tree: ast.Module) -> frozenset[str]:
    """The names of the equality helpers the test file `rel` (parsed: `tree`) defines or imports."""
    found: dict[str, bool] = {}
    for fn in _defs(tree):
        found[fn.name] = found.get(fn.name, True) and _checks_equality(fn)
    todo, seen = [(m, 1) for m in _imported_modules(tree, rel)], set()
    while todo:  # the modules it imports, and those they import (a package re-exporting a helper)
        module, depth = todo.pop(0)
        parsed = _parse(snapshot, module) if module not in seen else None
        seen.add(module)
        if parsed is None:
            continue
        other, other_rel = parsed
        for fn in _defs(other):
            found[fn.name] = found.get(fn.name, True) and _checks_equality(fn)
        if depth < 2:
            todo += [(m, depth + 1) for m in _imported_modules(other, other_rel)]
    return frozenset(name for name, ok in found.items() if ok)


def _defs(tree: ast.Module) -> list[ast.FunctionDef]:
    return [n for n in tree.body if isinstance(n, ast.FunctionDef)]


def _imported_modules(tree: ast.Module, rel: str) -> list[str]:
    """Dotted names of the modules `tree` imports from, or imports (relative ones resolved from `rel`)."""
    package = list(PurePosixPath(rel).parent.parts)
    out: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *(node.module or "").split(".")]).strip(".")
            out.append(module)
            out += [f"{module}.{a.name}".strip(".") for a in node.names]  # `from pkg import _checks`
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif (  # importlib.import_module("pkg._checks")
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            out.append(node.args[0].value)
    return out


def _parse(snapshot: Path, module: str) -> tuple[ast.Module, str] | None:
    """The parsed module of the snapshot named `module`, and its path in the snapshot."""
    if not module:
        return None
    parts = module.split(".")
    for root in ("", "src"):
        for rel in (
            PurePosixPath(root, *parts[:-1], f"{parts[-1]}.py"),
            PurePosixPath(root, *parts, "__init__.py"),
        ):
            path = snapshot / rel
            if path.is_file():
                try:
                    return ast.parse(path.read_bytes()), str(rel)
                except (OSError, SyntaxError, ValueError):
                    return None
    return None


def _checks_equality(fn: ast.FunctionDef) -> bool:
    params = [a.arg for a in fn.args.args]
    if len(params) < 2 or fn.args.vararg or fn.args.kwarg:
        return False
    a, b = params[0], params[1]
    body = [s for s in fn.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    if len(body) != 1:
        return False
    stmt = body[0]
    if isinstance(stmt, ast.Assert):
        return _same(stmt.test, a, b, ast.Eq)
    if isinstance(stmt, ast.If) and not stmt.orelse and all(isinstance(s, ast.Raise) for s in stmt.body):
        return _same(stmt.test, a, b, ast.NotEq) or _beyond(stmt.test, a, b, fn)
    return False


def _same(test: ast.expr, a: str, b: str, op: type[ast.cmpop]) -> bool:
    """`test` is `a OP b` or `sorted(a) OP sorted(b)` (either way round)."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], op)):
        return False
    sides = {_operand(test.left), _operand(test.comparators[0])}
    return sides in ({a, b}, {f"sorted({a})", f"sorted({b})"})


def _operand(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "sorted"
        and len(node.args) == 1
        and not node.keywords
        and isinstance(node.args[0], ast.Name)
    ):
        return f"sorted({node.args[0].id})"
    return ""


def _beyond(test: ast.expr, a: str, b: str, fn: ast.FunctionDef) -> bool:
    """`test` is `abs(a - b) > tol`, `tol` a parameter whose default is a small literal."""
    if not (isinstance(test, ast.Compare) and len(test.ops) == 1 and isinstance(test.ops[0], ast.Gt)):
        return False
    diff, tol = test.left, test.comparators[0]
    ok_diff = (
        isinstance(diff, ast.Call)
        and isinstance(diff.func, ast.Name)
        and diff.func.id == "abs"
        and len(diff.args) == 1
        and isinstance(diff.args[0], ast.BinOp)
        and isinstance(diff.args[0].op, ast.Sub)
        and {_operand(diff.args[0].left), _operand(diff.args[0].right)} == {a, b}
    )
    if not ok_diff or not isinstance(tol, ast.Name):
        return False
    params = [x.arg for x in fn.args.args]
    defaults = dict(zip(params[len(params) - len(fn.args.defaults) :], fn.args.defaults, strict=True))
    default = defaults.get(tol.id)
    small = isinstance(default, ast.Constant) and type(default.value) in (int, float)
    return small and params.index(tol.id) == 2 and 0 <= default.value <= TOLERANCE  # type: ignore[union-attr]


__all__ = ["TOLERANCE", "equality_helpers"]
