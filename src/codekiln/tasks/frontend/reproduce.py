"""Standalone reproductions of a failing test, for problem statements: the test's body as a short script
that runs in the agent's workspace, where the test's own file is hidden.

    script = reproduction(test_source, "TestCls::test_x", packages={"toolz"})   # str, or None
    line = failing_line(test_source, "test_x", "toolz/tests/test_a.py", failure_text)

A script is built only when that is safe: the test takes no fixtures or parameters (a method only
`self`, unused) and has no decorators; its body is plain statements (assignments, expressions,
asserts, at most MAX_BODY_LINES lines); and every name it reads is a builtin, a name it binds itself, a
module-level import from the package or the standard library (never from the tests, never relative), a
module-level literal constant, or a small undecorated helper function of the test module obeying the
same rules. Otherwise None, and the statement describes the failing call instead (`failing_line`).
Limits: the test module is parsed, never imported or run; whether the script fails like the test is
not checked here (a test body that fails on its own line does, by construction).
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import sys
import textwrap
from collections.abc import Collection

from codekiln.core.pyast import parse as parse_ast  # graders and validators parse in threads
from codekiln.grading.manifests import source_lines, source_segment

MAX_BODY_LINES = 12
MAX_HELPER_LINES = 6
MAX_SCRIPT_LINES = 24
_BUILTINS = set(dir(builtins)) - {"open", "exec", "eval", "compile", "input", "breakpoint", "__import__"}
_SIMPLE = (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.Expr, ast.Assert)


def _find_test(tree: ast.Module, name: str) -> ast.FunctionDef | None:
    """The test function (`test_x`, `TestCls::test_x`; parameters `[...]` are refused)."""
    if "[" in name:
        return None
    *classes, func = name.split("::")
    scope: list[ast.stmt] = tree.body
    for cls_name in classes:
        cls = next((n for n in scope if isinstance(n, ast.ClassDef) and n.name == cls_name), None)
        if cls is None:
            return None
        scope = cls.body
    return next((n for n in scope if isinstance(n, ast.FunctionDef) and n.name == func), None)


def _names(nodes: list[ast.stmt]) -> tuple[set[str], set[str]]:
    """Names read and names bound (assignments, comprehension targets, lambda arguments)."""
    read: set[str] = set()
    bound: set[str] = set()
    for node in (n for stmt in nodes for n in ast.walk(stmt)):
        if isinstance(node, ast.Name):
            (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return read, bound


def _imports(tree: ast.Module, packages: Collection[str]) -> dict[str, ast.stmt]:
    """Module-level names imported from the package or the standard library: name -> its import."""
    out: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            aliases, module = node.names, None
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            aliases, module = node.names, node.module
        else:
            continue
        for alias in aliases:
            full = module or alias.name
            parts = full.split(".")
            from_tests = any(p.startswith("test") or p == "conftest" for p in parts)
            if (
                alias.name == "*"
                or from_tests
                or not (parts[0] in packages or parts[0] in sys.stdlib_module_names)
            ):
                continue
            one = ast.ImportFrom(module, [alias], 0) if module else ast.Import([alias])
            out[alias.asname or alias.name.split(".")[0]] = one
    return out


@functools.lru_cache(maxsize=64)
def _parse(source: str) -> ast.Module | None:
    """The test module's tree, None when it does not parse. Cached: a synthesis run describes many
    tasks from the same few test modules. Nothing here changes a tree."""
    try:
        return parse_ast(source)
    except SyntaxError:
        return None


@functools.lru_cache(maxsize=64)
def _lines(source: str) -> list[str]:
    """The test module's lines as `ast` counts them (`manifests.source_lines`), split once per module:
    `ast.get_source_segment` splits the whole text again for every node it is asked about. Cached with
    the tree; never changed by callers."""
    return source_lines(source)


@functools.lru_cache(maxsize=64)
def _constants(tree: ast.Module, source: str) -> dict[str, str]:
    """Module-level `NAME = <literal>` assignments: name -> source (cached with the tree; never
    changed by callers)."""
    out = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                ast.literal_eval(node.value)
            except ValueError:
                continue
            segment = source_segment(_lines(source), node)
            if segment and segment.count("\n") < MAX_HELPER_LINES:
                out[node.targets[0].id] = segment
    return out


def reproduction(source: str, test: str, *, packages: Collection[str]) -> str | None:
    """A script doing what test `test` (its id within its file) does, or None when it cannot be built
    safely (see the module docstring)."""
    tree = _parse(source)
    if tree is None:
        return None
    func = _find_test(tree, test)
    if func is None or func.decorator_list or not func.body:
        return None
    params = [a.arg for a in (*func.args.posonlyargs, *func.args.args, *func.args.kwonlyargs)]
    is_method = "::" in test
    if func.args.vararg or func.args.kwarg or params != (["self"] if is_method else []):
        return None
    body = func.body[1:] if _is_docstring(func.body[0]) else func.body
    if not body or not all(isinstance(s, _SIMPLE) for s in body):
        return None
    imports, constants = _imports(tree, packages), _constants(tree, source)
    helpers = {
        n.name: n
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and not n.name.startswith("test") and not n.decorator_list
    }
    needed: dict[str, str] = {}  # helper or constant name -> its source, in first-use order
    used_imports: dict[str, ast.stmt] = {}

    def resolve(read: set[str], bound: set[str]) -> bool:
        for name in sorted(read - bound):
            if name in _BUILTINS or name in needed:
                continue
            if name in imports:
                used_imports[name] = imports[name]
            elif name in constants:
                needed[name] = constants[name]
            elif name in helpers:
                helper = helpers[name]
                segment = source_segment(_lines(source), helper)
                if not segment or segment.count("\n") >= MAX_HELPER_LINES:
                    return False
                needed[name] = segment
                if not resolve(*_names([helper])):
                    return False
            else:
                return False  # a fixture, `self`, a name from the tests, or anything unknown
        return True

    if not resolve(*_names(body)):
        return None
    src_lines = source.splitlines()
    end = body[-1].end_lineno or body[-1].lineno
    code = textwrap.dedent("\n".join(src_lines[body[0].lineno - 1 : end])).strip()
    if code.count("\n") >= MAX_BODY_LINES:
        return None
    parts = ["\n".join(_merged(list(used_imports.values())))] if used_imports else []
    parts += [textwrap.dedent(s) for s in needed.values()]
    script = "\n\n".join([*parts, code]).strip() + "\n"
    return script if script.count("\n") <= MAX_SCRIPT_LINES else None


def _merged(nodes: list[ast.stmt]) -> list[str]:
    """`import` lines, one `from M import a, b` per module, sorted."""
    plain: set[str] = set()
    by_module: dict[str | None, set[str]] = {}
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            by_module.setdefault(node.module, set()).update(ast.unparse(a) for a in node.names)
        else:
            plain.add(ast.unparse(node))
    froms = {f"from {m} import {', '.join(sorted(names))}" for m, names in by_module.items()}
    return sorted(plain) + sorted(froms)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def failing_line(source: str, test: str, test_file: str, failure: str) -> str | None:
    """The statement of the test's body at which it failed (from pytest's `FILE:LINE:` location in the
    failure text), dedented; None if it is not found or spans more than a few lines."""
    tree = _parse(source)
    if tree is None:
        return None
    func = _find_test(tree, test.split("[", 1)[0])
    hits = re.findall(rf"^{re.escape(test_file)}:(\d+):", failure, re.M)
    if func is None or not hits:
        return None
    lineno = int(hits[0])
    for stmt in ast.walk(func):
        if isinstance(stmt, ast.stmt) and not isinstance(
            stmt, ast.FunctionDef | ast.ClassDef | ast.With | ast.For | ast.If | ast.While | ast.Try
        ):
            end = stmt.end_lineno or stmt.lineno
            if stmt.lineno <= lineno <= end and end - stmt.lineno < 4:
                segment = source_segment(_lines(source), stmt, padded=True)
                return textwrap.dedent(segment).strip() if segment else None
    return None
