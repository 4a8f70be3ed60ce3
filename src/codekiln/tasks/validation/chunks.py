"""The part of a Python file a bug changes, as whole top-level statements, so that checking or compiling
the buggy file costs the changed statements, not the whole module.

    spans = top_level_spans(original)                  # [(first line, last line, imports?), ...]
    chunk = changed_chunk(original, buggy, spans)      # (start, old end, new end, kept spans) or None
    parse_ast(excerpt(buggy, chunk[0], chunk[2], chunk[3]))    # the changed statements, in place
    files, chunks = BugApplier(snapshot_dir).apply(patch, "c1")  # both, for a bug patch

`changed_chunk` is None when the change is not inside top-level statements (a blank line or comment
between them, the file's first line) or the file uses bare carriage returns: callers then take the
whole file. Lines outside the chunk are the same in both texts, so a chunk that parses means the file
parses. The excerpt keeps the module's import statements above the chunk (CPython compiles `mod.f()`
differently when `mod` is a module-level import), so the code objects compiled from it are those of
the whole file, line numbers included (an import below the chunk can only change that optimisation).
"""

from __future__ import annotations

import ast
from pathlib import Path

from codekiln.core.diffs import common_ends, parse_diff
from codekiln.core.patches import apply_diff
from codekiln.core.pyast import parse as parse_ast  # graders and validators parse in threads
from codekiln.core.sources import is_plain_text, parse_form, read_byte_text

Span = tuple[int, int, bool]
Chunk = tuple[int, int, int, list[tuple[int, int]]]


def _imports(node: ast.stmt) -> bool:
    """Whether a top-level statement binds a module-level name by importing (outside functions)."""
    if isinstance(node, ast.Import | ast.ImportFrom):
        return True
    if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    return any(_imports(child) for child in ast.iter_child_nodes(node) if isinstance(child, ast.stmt))


def top_level_spans(source: str) -> list[Span]:
    """The 1-based, inclusive line spans of the module's top-level statements (decorators included),
    each with whether it imports."""
    spans = []
    for node in parse_ast(source).body:
        decorators = getattr(node, "decorator_list", [])
        start = min([node.lineno, *(d.lineno for d in decorators)])
        spans.append((start, node.end_lineno or node.lineno, _imports(node)))
    return spans


def changed_chunk(old: str, new: str, spans: list[Span]) -> Chunk | None:
    """The top-level statements of `old` holding every changed line: (first line, last line in `old`,
    last line in `new`, the spans of the import statements above it), or None (see the module
    docstring)."""
    if "\r" in old or "\r" in new:
        return None
    a, b = old.split("\n"), new.split("\n")
    p, q = common_ends(a, b)
    lo, hi = p + 1, len(a) - q
    if hi < lo:  # a pure insertion after line p: the statements on both sides of it
        lo, hi = p, p + 1
    touching = [s for s in spans if s[0] <= hi and s[1] >= lo]
    if not touching:
        return None
    start, end = min(s[0] for s in touching), max(s[1] for s in touching)
    if start > lo or end < hi:
        return None
    keep = [(s[0], s[1]) for s in spans if s[2] and s[1] < start]
    return start, end, end + len(b) - len(a), keep


def excerpt(source: str, start: int, end: int, keep: list[tuple[int, int]] | None = None) -> str:
    """Lines `start`..`end` of `source` at their own line numbers: the lines above are blank but for
    the `keep` spans."""
    lines = source.split("\n")
    out = [""] * (start - 1)
    for a, b in keep or ():
        out[a - 1 : b] = lines[a - 1 : b]
    return "\n".join(out + lines[start - 1 : end]) + "\n"


class BugApplier:
    """Applies bug patches to a snapshot's files in memory and checks that they still parse, through
    the changed statements where it can (the original files' statements are read once)."""

    def __init__(self, snapshot_dir: Path) -> None:
        self.snapshot_dir = Path(snapshot_dir)
        self.spans: dict[str, list[Span]] = {}

    def apply(self, patch: str, label: str) -> tuple[dict[str, str | None], dict[str, Chunk]]:
        """The files `patch` changes, as they are with it (None: the patch deletes the file; a path the
        snapshot lacks: it creates it), and each edited Python file's changed statements. Raises
        TaskError (the patch does not apply) or SyntaxError."""
        originals = {
            fp.old_path: read_byte_text(self.snapshot_dir / fp.old_path)  # exact bytes: core.sources
            for fp in parse_diff(patch)
            if fp.old_path
        }
        out: dict[str, str | None] = {}
        chunks: dict[str, Chunk] = {}
        for rel, text in apply_diff(originals, patch).items():
            if text is None:
                out[rel] = None  # a mined fix that added the file: its bug removes it
                continue
            if rel.endswith(".py"):
                chunk = self._chunk(rel, originals.get(rel), text)
                if chunk is None:
                    parse_ast(parse_form(text), filename=rel)
                else:
                    chunks[rel] = chunk
            out[rel] = text
        return out, chunks

    def _chunk(self, rel: str, original: str | None, text: str) -> Chunk | None:
        """The changed statements of `rel`, once they parse (a chunk that does not parse is checked
        again as the whole file, for the error the file gives)."""
        if original is None or not is_plain_text(original):  # another encoding: parsed whole
            return None
        if rel not in self.spans:
            try:
                self.spans[rel] = top_level_spans(original)
            except SyntaxError:
                self.spans[rel] = []
        chunk = changed_chunk(original, text, self.spans[rel])
        if chunk is not None:
            try:
                parse_ast(excerpt(text, chunk[0], chunk[2], chunk[3]), filename=rel)
            except SyntaxError:
                return None
        return chunk
