"""Two test shapes whose answers `grading.twins` reaches through this module: an expected side built by a
call over literals, and a test method a class inherits from another class of its file.

- `assert assoc_in(D({"a": 1}), ["a"], 2) == D({"a": 2})`, `assert list(f()) == list("abc")`: the
  expected side is a call whose arguments are all literals; its literals are changed when the callee
  is one the patch cannot reach (`wrapped`): a builtin type (`dict`, `tuple`...), a name imported from
  the standard library (`OrderedDict`), or a name every binding of which in the test file (a class, a
  function, an assignment: `D = dict`, `class Custom:`) uses no name imported from elsewhere (none in
  a file with a star import from outside the standard library). A callee of the library (`Point(1, 2)`) is left alone: a fix could change how it compares, so
  a changed value might equal the real one under an honest fix and not under the gold.
- `class TestOrdered(TestDict)` runs `TestDict.test_x` as `TestOrdered::test_x`: the function a
  test id names is looked up in the bases its file defines too (`inherited`).
"""

from __future__ import annotations

import ast
import builtins
import sys

BUILTIN_TYPES = frozenset(
    n
    for n in dir(builtins)
    if isinstance(getattr(builtins, n), type) and not n.endswith(("Error", "Exception"))
)
"""Builtin names the patch cannot rebind for the test module (`dict`, `tuple`, `frozenset`...)."""


def _name(node: ast.AST) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def safe_callees(tree: ast.Module) -> frozenset[str]:
    """The names a call of which the twin may change the literal arguments of, in the file `tree`."""
    imported: dict[str, bool] = {}  # name -> imported from the standard library only
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            top = (node.module or "") if isinstance(node, ast.ImportFrom) else ""
            if (
                any(alias.name == "*" for alias in node.names)
                and top.split(".", 1)[0] not in sys.stdlib_module_names
            ):
                return frozenset()  # any name may be the library's (`from toolz import *`)
            for alias in node.names:
                root = (top or alias.name).split(".", 1)[0]
                name = alias.asname or alias.name.split(".", 1)[0]
                stdlib = getattr(node, "level", 0) == 0 and root in sys.stdlib_module_names
                imported[name] = imported.get(name, True) and stdlib
    bound: dict[str, list[ast.AST]] = {}
    _bindings(tree.body, bound)
    own = set(bound) - set(imported)
    unsafe = {n for n, stdlib in imported.items() if not stdlib}
    changed = True
    while changed:  # an own name is unsafe once one of its bindings uses an unsafe name
        changed = False
        for name in sorted(own - unsafe):
            if any(isinstance(n, ast.Name) and n.id in unsafe for d in bound[name] for n in ast.walk(d)):
                unsafe.add(name)
                changed = True
    stdlib_names = {n for n, stdlib in imported.items() if stdlib}
    return frozenset((own - unsafe) | stdlib_names | (BUILTIN_TYPES - set(bound) - set(imported)))


def _bindings(body: list[ast.stmt], bound: dict[str, list[ast.AST]]) -> None:
    """The module- and class-level bindings of `body` (not a function's locals), by name."""
    for node in body:
        if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            bound.setdefault(node.name, []).append(node)
            if isinstance(node, ast.ClassDef):
                _bindings(node.body, bound)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        bound.setdefault(leaf.id, []).append(node.value)


def wrapped(node: ast.expr, safe: frozenset[str]) -> list[ast.expr]:
    """The literal arguments of `node` where it is a call of a `safe` callee over literals only."""
    if not (isinstance(node, ast.Call) and _name(node.func) in safe):
        return []
    args = [*node.args, *(k.value for k in node.keywords)]
    return args if args and all(is_literal(a) for a in args) else []


def is_literal(node: ast.AST) -> bool:
    """Whether `node` is a literal `ast.literal_eval` reads (a number, a string, a container of them...)."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def call_name(node: ast.AST) -> str:
    """The name a call's function is called by (`f` of `f(x)` and of `mod.f(x)`); "" for anything else."""
    if isinstance(node, ast.Call):
        func = node.func
        return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    return ""


def inherited(
    classes: dict[tuple[str, ...], ast.ClassDef], path: tuple[str, ...], name: str
) -> tuple[str, ...] | None:
    """The class path (of `classes`, a file's classes by path) whose body defines the method `name` that
    the class at `path` runs: itself or a base its file defines (by its simple name, at the same level),
    depth first as written; None when there is none."""
    seen: set[tuple[str, ...]] = set()
    todo = [path]
    while todo:
        at = todo.pop(0)
        cls = classes.get(at)
        if cls is None or at in seen:
            continue
        seen.add(at)
        if any(isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name for n in cls.body):
            return at
        todo = [(*at[:-1], _name(b)) for b in cls.bases if _name(b)] + todo
    return None


__all__ = ["BUILTIN_TYPES", "call_name", "inherited", "is_literal", "safe_callees", "wrapped"]
