"""One lock for Python's `ast` in threads.

    with AST_LOCK:
        tree = ast.parse(text)

CPython 3.11's ast module keeps its recursion depth in state shared by every thread: two threads
building or converting trees at once (`ast.parse`, `compile` of a tree, `ast.unparse` of a parsed one)
fail with "SystemError: AST constructor recursion depth mismatch". Code that parses off the main
thread (the grader's static scan in parallel grades, model-written bugs judged as their model calls
return) holds this one lock, so no two such parses overlap anywhere in the process.
"""

from __future__ import annotations

import ast
import threading
from pathlib import Path
from typing import Any

AST_LOCK: threading.RLock = vars(ast).setdefault("_thread_parse_lock", threading.RLock())
"""Kept on the ast module itself: `grading.scan`, which is shipped with exported tasks (`grading.shipped`) and imports
nothing of codekiln, takes the same lock from there."""


def parse(source: str | bytes, filename: str = "<unknown>", mode: str = "exec") -> Any:
    """`ast.parse` under AST_LOCK (for code that may run in a thread)."""
    with AST_LOCK:
        return ast.parse(source, filename=filename, mode=mode)


def parse_file(path: Path) -> Any:
    """The module tree of the Python file at `path`, or None when it cannot be read or parsed."""
    try:
        return parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None


__all__ = ["AST_LOCK", "parse", "parse_file"]
