"""One lock for Python's `ast` in threads.

    with AST_LOCK:
        tree = ast.parse(text)

Importing this module makes `ast.parse` itself take the lock, process-wide (`install`), so that
what the standard library parses in a thread takes it too.

CPython 3.11's ast module keeps its recursion depth in state shared by every thread: two threads
building or converting trees at once (`ast.parse`, `compile` of a tree, `ast.unparse` of a parsed one)
fail with "SystemError: AST constructor recursion depth mismatch". Code that parses off the main
thread (the grader's static scan in parallel grades, model-written bugs judged as their model calls
return) holds this one lock, so no two such parses overlap anywhere in the process.

Holding it where codekiln parses is not enough: the standard library parses too (`traceback` parses
the failing line to place its carets whenever a traceback is formatted, `ast.literal_eval` parses
its text, `inspect` parses signatures), and one such parse in another thread broke a rollout's
oracle episode (CI, stop 36). So `install`, run when this module is imported (the executors import
it), puts the lock into `ast.parse` itself.
"""

from __future__ import annotations

import ast
import functools
import sys
import threading
from pathlib import Path
from typing import Any

AST_LOCK: threading.RLock = vars(ast).setdefault("_thread_parse_lock", threading.RLock())
"""Kept on the ast module itself: `grading.scan`, which is shipped with exported tasks (`grading.shipped`) and imports
nothing of codekiln, takes the same lock from there."""


def install() -> None:
    """Make `ast.parse`, and so everything that calls it (`ast.literal_eval`, `traceback`, `inspect`),
    take AST_LOCK. Idempotent; on Python 3.13 and later, whose ast keeps the depth per call, a no-op."""
    if sys.version_info >= (3, 13) or getattr(ast.parse, "_holds_ast_lock", False):
        return
    unlocked = ast.parse

    @functools.wraps(unlocked)
    def parse(*args: Any, **kwargs: Any) -> Any:
        with AST_LOCK:
            return unlocked(*args, **kwargs)

    parse._holds_ast_lock = True  # type: ignore[attr-defined]
    ast.parse = parse  # type: ignore[assignment]


install()


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


__all__ = ["AST_LOCK", "install", "parse", "parse_file"]
