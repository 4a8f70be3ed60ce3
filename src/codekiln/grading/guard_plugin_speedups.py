"""The guard plugin's speed-ups (`grading.guard_plugin`; it runs inside the sandbox): speed only, same output.

    install()                    # at the plugin's import, before its machinery baseline is taken
    map_test_modules(trusted)    # once collection has imported the test modules

Every graded run reports failures (its canaries) and writes JUnit XML, and pytest pays for both with
one-off work a plain passing run never does (~10% of a small run). Each function here removes one such
cost and leaves what pytest prints and writes as it was (`tests/grading/test_guard_startup.py` holds
the escape and the traceback cut against pytest's own).

Shipped beside the plugin as `<plugin module>_speedups` (`grading.shipped`); like the plugin, it
imports nothing from codekiln.
"""

from __future__ import annotations

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
