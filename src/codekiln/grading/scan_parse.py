"""Parsing for the static scan (`grading.scan`, `grading.scan_delta`): a module's text as Python
compiles it, parsed under one process-wide lock and a recursion limit deep enough for what Python
compiles. Shipped with exported tasks beside scan.py (`grading.shipped`): it imports nothing of codekiln."""

from __future__ import annotations

import ast
import contextlib
import io
import sys
import threading
import tokenize
from collections.abc import Iterator

# CPython 3.11's ast module keeps its recursion depth in state shared by every thread, and graders run
# in threads: one process-wide lock for every parse, kept on the ast module itself so that this module,
# shipped with exported tasks without codekiln, and core.pyast share it without importing each other.
AST_LOCK: threading.RLock = vars(ast).setdefault("_thread_parse_lock", threading.RLock())


SCAN_RECURSION = 20_000
"""The recursion limit the scan parses and walks a module under. Python compiles nesting as deep as
its recursion limit allows (three levels per frame: a sum of 2,000 terms under the default 1,000, of
20,000 for code that raised the limit before importing it), and the scan's walk takes a few frames
per level: under the default limit a 2,000-term sum made the walk, and so the grader, raise (fifth red
team). A module nested deeper than this limit reads is a finding, never "does not parse"."""
UNREADABLE = "nested too deep for the scan to read"


@contextlib.contextmanager
def deep_enough() -> Iterator[None]:
    """The recursion limit raised to `SCAN_RECURSION` (hold AST_LOCK: the limit is the process's)."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, SCAN_RECURSION))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def python_text(text: str) -> str:
    """A module's text as Python compiles it: a UTF-8 byte order mark opening the file says how it is
    encoded and is no code (an import drops it, `ast.parse` of the decoded text refuses it: a module
    the scan could not parse had no findings, fifth red team)."""
    return text.removeprefix("\ufeff")


def source_text(text: str | None) -> str | None:
    """A file held as patch text (its bytes decoded as UTF-8 with surrogateescape: `core.sources`) as
    the source Python reads from those bytes: a PEP 263 declaration (latin-1, cp1252, utf-7) or a BOM
    honoured, so the old and the new text of a change are read alike and as they run. A file that is
    not valid in its declared encoding is left as it is (Python refuses to import it)."""
    if text is None:
        return None
    data = text.encode("utf-8", "surrogateescape")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return text


def parse_module(text: str) -> ast.Module | None:
    """The module's syntax tree (hold AST_LOCK), or None: a syntax error, or nesting too deep to read."""
    try:
        with deep_enough():
            return ast.parse(python_text(text))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
