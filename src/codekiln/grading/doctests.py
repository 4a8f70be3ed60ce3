"""Graded doctests are the task's tests, though they live in files a fix may change.

    ids = doctest_ids(tests)                            # {path: {doctest names}} of ids outside test files
    problem = changed_examples(path, names, snapshot_bytes, workspace_bytes)   # None, or what changed

A test id like `pkg/mod.py::pkg.mod.clamp` is a doctest collected by `--doctest-modules` from a
docstring of library code, the code a patch may change; `README.rst::README.rst` is a whole text file
of doctests (`--doctest-glob`). The grader puts test files back as in the snapshot, but it cannot put
back a docstring without undoing the fix around it: a patch that rewrites a graded doctest's expected
output to the buggy result (`0` -> `-1`) passed that test without fixing anything. So the examples
(source and expected output, as `doctest.DocTestParser` reads them) of every graded doctest's
docstring must be the snapshot's; a text file of doctests is put back whole like any test file.

Docstrings are read statically (`ast`) on both sides, so a name whose docstring the snapshot does not
spell as a literal is compared as "no docstring" on both sides, and an honest fix, which leaves
docstrings alone, always agrees. A docstring rewritten at run time (`f.__doc__ = ...`) is not seen
here (see the README's eleventh red team).
"""

from __future__ import annotations

import ast
import doctest
from collections.abc import Iterable
from pathlib import PurePosixPath

from codekiln.core.sources import SourceEncodingError, decode_python
from codekiln.grading.pathrules import is_protected

_PARSER = doctest.DocTestParser()
Examples = tuple[tuple[str, str, str | None], ...]


def doctest_ids(tests: Iterable[str]) -> dict[str, set[str]]:
    """Graded ids that are doctests of files a patch may change: path -> the doctests' names."""
    out: dict[str, set[str]] = {}
    for test in tests:
        rel, sep, name = test.partition("::")
        if sep and "::" not in name and not is_protected(rel) and "." in PurePosixPath(rel).name:
            out.setdefault(rel, set()).add(name.split("[", 1)[0])
    return out


def is_text_doctest(rel: str) -> bool:
    """A doctest file read whole (`--doctest-glob`), not a module's docstrings: a test file itself."""
    return not rel.endswith(".py")


def _docstrings(source: str) -> dict[str, str]:
    """Qualified name ("" for the module) -> literal docstring, where doctest's finder looks: the
    module, its classes and functions, and theirs."""
    tree = ast.parse(source)
    out: dict[str, str] = {}
    doc = ast.get_docstring(tree, clean=False)
    if doc is not None:
        out[""] = doc
    todo: list[tuple[str, ast.AST]] = [("", tree)]
    while todo:
        prefix, node = todo.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}.{child.name}" if prefix else child.name
                doc = ast.get_docstring(child, clean=False)
                if doc is not None:
                    out[name] = doc
                todo.append((name, child))
    return out


def _examples(doc: str | None) -> Examples:
    if doc is None:
        return ()
    try:
        found = _PARSER.get_examples(doc)
    except ValueError:  # doctest refuses it as written: compare the text itself
        return (("", doc, None),)
    return tuple((e.source, e.want, e.exc_msg) for e in found)


def _qualname(name: str, known: Iterable[str]) -> str:
    """The qualified name in the module of a doctest named `module.qualname` (the longest that fits;
    "" for the module's own docstring)."""
    fits = [q for q in known if q and (name == q or name.endswith(f".{q}"))]
    return max(fits, key=len) if fits else ""


def changed_examples(
    rel: str, names: set[str], snapshot: bytes | None, workspace: bytes | None
) -> str | None:
    """What makes a graded doctest of `rel` differ from the snapshot's (None: nothing)."""
    try:
        before = _docstrings(decode_python(snapshot, rel)) if snapshot is not None else {}
        after = _docstrings(decode_python(workspace, rel)) if workspace is not None else {}
    except (SyntaxError, ValueError, SourceEncodingError):
        return None  # the module does not import either; its doctests fail as they are
    for name in sorted(names):
        qual = _qualname(name, before)
        if _examples(before.get(qual)) != _examples(after.get(qual)):
            return f"{rel}: changes the examples of the doctest {name}, a graded test (they must be the snapshot's)"
    return None


__all__ = ["changed_examples", "doctest_ids", "is_text_doctest"]
