"""What `scan.scan_changes` would find in one file's change, from the changed top-level statements
only: for many changes against the same new text (the grader gate's gold patches, each restoring the
snapshot's file over a different bug), without scanning each old text whole.

    added_findings(old_text, new_text)      # [(line, kind, detail)], as scan_changes counts them

`scan_changes` compares the constructs of the whole old and new module as multisets of (kind,
detail). The scanner's only state across statements is its table of import aliases. So when the
texts differ only inside a run of top-level statements (lines between them included), neither side
of that run imports anything, and both sides of it parse on their own, the statements before and after
it are the same code read with the same aliases: their constructs cancel out, and the multiset
difference of the whole modules is that of the two runs, each scanned with the aliases in force where
it starts. The new text's statement spans and alias tables are computed once per text (kept). Any
other change (an import touched, a run that does not parse alone, a text that does not parse) is
scanned whole, as `scan_changes` does, and so is `class-walk` (`scan_classwalk` reads the whole
module: which classes it defines, where each name is bound), whose findings are few. Line numbers are the new text's; where the same construct
also occurs outside the run, the full scan may name that occurrence's line instead (same kinds and
details, the same count).
"""

from __future__ import annotations

import ast
import functools
from collections import Counter
from dataclasses import dataclass

from codekiln.grading.scan import _scan_cached, _Scanner
from codekiln.grading.scan_classwalk import KIND as WALK
from codekiln.grading.scan_parse import AST_LOCK, deep_enough, parse_module


@dataclass(frozen=True)
class _Outline:
    """A parsed module's top-level statements: (first line, last line) each, decorators included,
    and the scanner's alias table before each (one more: after the last)."""

    spans: tuple[tuple[int, int], ...]
    aliases: tuple[dict[str, str], ...]


def _mark_calls(tree: ast.AST) -> bool:
    """Mark called expressions and each node's parent as `scan` does before a visit; whether the tree
    imports anything."""
    imports = False
    for node in ast.walk(tree):
        for child in ast.iter_child_nodes(node):
            child._parent = node  # type: ignore[attr-defined]
        if isinstance(node, ast.Call):
            node.func._is_called = True  # type: ignore[attr-defined]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            imports = True
    return imports


def _lines(text: str) -> list[str] | None:
    """The lines as `ast` numbers them, ends kept; None for a text with a carriage return (where
    `ast` and a split on newlines could count lines differently)."""
    if "\r" in text:
        return None
    parts = text.split("\n")
    return [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


@functools.lru_cache(maxsize=64)
def _outline(text: str) -> _Outline | None:
    with AST_LOCK:
        tree = parse_module(text)
        if tree is None:
            return None
        _mark_calls(tree)
        scanner = _Scanner()
        spans: list[tuple[int, int]] = []
        aliases: list[dict[str, str]] = []
        try:
            with deep_enough():
                for stmt in tree.body:
                    first = min([stmt.lineno, *(d.lineno for d in getattr(stmt, "decorator_list", []))])
                    spans.append((first, stmt.end_lineno or stmt.lineno))
                    aliases.append(dict(scanner.aliases))
                    scanner.visit(stmt)
        except RecursionError:  # too deep to read: the whole scan says so
            return None
        aliases.append(dict(scanner.aliases))
    return _Outline(tuple(spans), tuple(aliases))


def _scan_run(lines: list[str], aliases: dict[str, str]) -> tuple[tuple[int, str, str], ...] | None:
    """(line, kind, detail) of a run of top-level statements read with `aliases`; None when the run
    does not parse alone or imports anything (its aliases would change what follows it)."""
    return _scanned_run("".join(lines), tuple(aliases.items()))


@functools.lru_cache(maxsize=256)
def _scanned_run(text: str, aliases: tuple[tuple[str, str], ...]) -> tuple[tuple[int, str, str], ...] | None:
    """`_scan_run` of a text, kept: the gate's gold patches restore the same few functions of the
    snapshot over different bugs, so the new side's run recurs (a pure function of its arguments)."""
    tree = parse_module(text)
    if tree is None or _mark_calls(tree):
        return None
    scanner = _Scanner()
    scanner.aliases = dict(aliases)
    try:
        with deep_enough():
            scanner.visit(tree)
    except RecursionError:
        return None
    return tuple(scanner.found)


def _changed_run(old: list[str], new: list[str], outline: _Outline) -> tuple[int, int, int]:
    """The lines where `new` differs from `old` (texts that differ), widened to whole top-level
    statements of `new`: (start, stop) as 0-based indexes into `new` (stop exclusive), and how many
    statements come before `start`."""
    head = 0
    while head < min(len(old), len(new)) and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < min(len(old), len(new)) - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    first_line, last_line = head + 1, max(len(new) - tail, head + 1)  # 1-based; an empty change
    for first, last in outline.spans:  # touches the line after it, which is widened too
        if last >= first_line and first <= last_line:
            first_line, last_line = min(first_line, first), max(last_line, last)
    before = sum(1 for _, last in outline.spans if last < first_line)
    return first_line - 1, min(last_line, len(new)), before


def added_findings(old: str | None, new: str) -> list[tuple[int, str, str]]:
    """(line, kind, detail) of the constructs `new` adds to `old` (None: no old file), as
    `scan_changes` counts them (see the module docstring); none when `new` does not parse."""
    found = _scan_cached(new)
    if not found or old == new:
        return []
    before: Counter[tuple[str, str]] | None = None
    outline, old_lines, new_lines = _outline(new), _lines(old or ""), _lines(new)
    if outline is not None and old is not None and old_lines is not None and new_lines is not None:
        start, stop, index = _changed_run(old_lines, new_lines, outline)
        stop_old = stop + len(old_lines) - len(new_lines)
        with AST_LOCK:
            was = _scan_run(old_lines[start:stop_old], outline.aliases[index])
            now = _scan_run(new_lines[start:stop], outline.aliases[index])
        if was is not None and now is not None:
            before = Counter((kind, detail) for _, kind, detail in was)
            # `class-walk` reads the whole module (its classes, each name's bindings): compared whole
            walks = tuple(f for f in found if f[1] == WALK)
            found = tuple((line + start, kind, detail) for line, kind, detail in now) + walks
            if walks:
                before.update((k, d) for _, k, d in (_scan_cached(old) or ()) if k == WALK)
    if before is None:
        before = Counter((kind, detail) for _, kind, detail in (_scan_cached(old or "") or ()))
    added = []
    for line, kind, detail in sorted(found):
        if before[(kind, detail)] > 0:
            before[(kind, detail)] -= 1
        else:
            added.append((line, kind, detail))
    return added


__all__ = ["added_findings"]
