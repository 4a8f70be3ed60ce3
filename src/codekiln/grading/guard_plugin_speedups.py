"""The guard plugin's speed-ups (`grading.guard_plugin`; it runs inside the sandbox): speed only, same output.

    install()                    # at the plugin's import, before its machinery baseline is taken
    map_test_modules(trusted)    # once collection has imported the test modules
    appended_code(path, source, split, kept, config, rewrite)   # a kept module + canaries

Every graded run reports failures (its canaries) and writes JUnit XML, and pytest pays for both with
one-off work a plain passing run never does (~10% of a small run). Each function here removes one such
cost and leaves what pytest prints and writes as it was (`tests/grading/test_guard_startup.py` holds
the escape and the traceback cut against pytest's own).

Shipped beside the plugin as `<plugin module>_speedups` (`grading.shipped`); like the plugin, it
imports nothing from codekiln.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import os
import re
import sys
import types
from collections.abc import Collection
from typing import Any


def install() -> None:
    """Patch pytest where it pays for reporting failures and writing JUnit (see each function)."""
    _fast_junit_escape()
    _share_module_trees()
    _cut_by_line_first()


def map_test_modules(trusted: Collection[str]) -> None:
    """Trusted test modules into `inspect`'s file -> module cache, as its own scan would put them: on
    a file it has not seen, `inspect.getmodule` (asked by pytest's traceback formatting) realpath()s
    every loaded module's file (~300 modules, thousands of lstat calls) to find the one it wants.
    `trusted`: the test files the plugin read at start-up (called once collection has imported them)."""
    cache = getattr(inspect, "modulesbyfile", None)
    if not isinstance(cache, dict):
        return
    for module in list(sys.modules.values()):
        if issubclass(type(module), types.ModuleType):  # read through vars(): no lazy __getattr__ runs
            path, name = vars(module).get("__file__"), vars(module).get("__name__")
            if isinstance(path, str) and path in trusted and isinstance(name, str):
                cache.setdefault(path, name)


_XML_UNSAFE_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _fast_junit_escape() -> None:
    """pytest escapes each JUnit string with a pattern spanning Unicode's valid XML ranges, compiled on
    first use at a cost of ~10 ms a run; ASCII text with nothing to escape is now returned at once."""
    try:
        from _pytest import junitxml
    except ImportError:
        return
    original = junitxml.bin_xml_escape

    def bin_xml_escape(arg: object) -> str:
        text = str(arg)
        return text if text.isascii() and not _XML_UNSAFE_ASCII.search(text) else original(text)

    junitxml.bin_xml_escape = bin_xml_escape


def _share_module_trees() -> None:
    """pytest parses a test module, and walks its whole tree, once more for every failure it reports
    in it (the canaries fail two or more times a run): keep the tree of each module's text."""
    try:
        from _pytest._code import code
    except ImportError:
        return
    original = code.getstatementrange_ast
    trees: dict[str, Any] = {}

    def getstatementrange_ast(lineno: int, source: Any, assertion: bool = False, astnode: Any = None) -> Any:
        text = str(source) if astnode is None else ""
        found = original(lineno, source, assertion, astnode or trees.get(text))
        if text and len(trees) < 16:
            trees.setdefault(text, found[0])
        return found

    code.getstatementrange_ast = getstatementrange_ast


def _cut_by_line_first() -> None:
    """To show a failure, pytest cuts its traceback at the test function (`Traceback.cut`), testing
    each frame from the outermost (~35 of pytest and pluggy) for the test's file and first line; the
    file test makes a path object and a `stat` per frame. Frames whose first line or file name cannot
    match are now passed over first; pytest's own cut then runs from the first that can."""
    try:
        from _pytest._code.code import Traceback
        from _pytest.pathlib import absolutepath
    except ImportError:
        return
    original = Traceback.cut

    def cut(
        self: Any, path: Any = None, lineno: Any = None, firstlineno: Any = None, excludepath: Any = None
    ) -> Any:
        if path is None or excludepath is not None:
            return original(self, path, lineno, firstlineno, excludepath)
        want = os.fspath(path)
        for i, entry in enumerate(self):
            code = entry.frame.code
            if firstlineno is not None and code.firstlineno != firstlineno:
                continue
            name = code.raw.co_filename  # Code.path is this name, made absolute when the file exists
            if want != name and want != str(absolutepath(name)):
                continue
            rest = self[i:]
            found = original(rest, path, lineno, firstlineno, excludepath)
            return self if found is rest else found
        return self

    Traceback.cut = cut  # type: ignore[method-assign]


_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def appended_code(
    path: str,
    source: bytes,
    split: Any,
    kept: Any,
    config: Any,
    rewrite: Any,
) -> types.CodeType | None:
    """The assertion-rewritten code of a test module made of a module whose rewritten code a trusted
    run kept (`kept`: sha256 of its bytes, the pass hook, its code, the patterns it was wrapped for) with statements appended (the
    grader's canaries), without rewriting the kept module's functions and classes again: on toolz,
    rewriting `test_functoolz.py` is a fifth of a graded run, and the canaries land in it every run.

    `split` (from the grader's settings): `[n, k]`, the first `n` bytes of `source` are the kept
    module less the `k` newlines that ended it. The whole source is parsed; pytest's own
    `rewrite_asserts` rewrites it with the kept module's top-level function and class bodies hidden
    from it (`rewrite`: `_pytest.assertion.rewrite`); after compiling, each of those functions' and classes' code is the kept code's (compiled
    from the same lines of the same text). Rewriting one assert depends on that assert alone, so this is
    the code rewriting the whole source makes (`tests/grading/test_guard_appended.py` compares them on
    real test modules). None (rewrite as usual) when anything does not match."""
    try:
        n, k = int(split[0]), int(split[1])
        digest, _hook, code = kept[:3]
    except (TypeError, ValueError, IndexError):
        return None
    rewrite_asserts = getattr(rewrite, "rewrite_asserts", None)
    if not 0 < n <= len(source) or k < 0 or not isinstance(code, types.CodeType) or rewrite_asserts is None:
        return None
    if hashlib.sha256(source[:n] + b"\n" * k).hexdigest() != digest:
        return None
    try:
        tree = ast.parse(source, filename=path)
    except (SyntaxError, ValueError):
        return None  # pytest's own rewrite reports it
    last = source[:n].count(b"\n") + 1  # the kept module's last line
    head = [s for s in tree.body if s.lineno <= last]
    if not head or len(head) == len(tree.body) or any((s.end_lineno or 0) > last for s in head):
        return None  # the appended text continues a statement of the kept module, or adds none
    hidden = [(s, s.body) for s in head if isinstance(s, _DEFS)]
    for stmt, _ in hidden:
        stmt.body = []
    try:
        rewrite_asserts(tree, source, path, config)
    finally:
        for stmt, body in hidden:
            stmt.body = body
    fresh = compile(tree, path, "exec", dont_inherit=True)
    keys = {(s.name, s.decorator_list[0].lineno if s.decorator_list else s.lineno) for s, _ in hidden}
    ours = {_code_key(c): c for c in code.co_consts if isinstance(c, types.CodeType)}
    consts, swapped = [], 0
    for const in fresh.co_consts:
        key = _code_key(const) if isinstance(const, types.CodeType) else None
        if key in keys:
            if key not in ours:
                return None
            const, swapped = ours[key], swapped + 1
        consts.append(const)
    return fresh.replace(co_consts=tuple(consts)) if swapped == len(keys) else None


def _code_key(code: types.CodeType) -> tuple[str, int]:
    return code.co_name, code.co_firstlineno
