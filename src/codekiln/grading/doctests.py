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
docstrings alone, always agrees. A docstring rewritten at run time (`f.__doc__ = ...`,
`functools.update_wrapper`) is what doctest collects, and no file shows it: the guard checks the examples
each graded doctest collects against `expected_examples` (the snapshot's, sent in the guard's
settings), and the grader keeps that evidence only where the empty patch's run does not show the same
examples (a library that builds its docstrings at import differs from its files with or without a fix).
"""

from __future__ import annotations

import ast
import doctest
import io
import json
import tokenize
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

try:  # shipped: beside its sibling files in a Harbor task's tests/codekiln/ (`shipped.VERIFIER`)
    from pathrules import is_protected
except ImportError:  # imported from the codekiln package
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


def _decode(data: bytes) -> str:
    """Source text as Python reads it (PEP 263 line, BOM); standard library only, as shipped."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return data.decode(encoding).replace("\r\n", "\n").replace("\r", "\n")


def _docstrings(source: str) -> dict[str, list[str | None]]:
    """Qualified name ("" for the module) -> the docstrings of every definition by that name, in source
    order: defined under an `if`, a `try` or a `with` too (a second `def clamp` under `if True:` is the
    one doctest collects), so a redefinition cannot hide behind the first."""
    tree = ast.parse(source)
    out: dict[str, list[str | None]] = {"": [ast.get_docstring(tree, clean=False)]}
    todo: deque[tuple[str, ast.AST]] = deque([("", tree)])
    while todo:
        prefix, node = todo.popleft()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}.{child.name}" if prefix else child.name
                out.setdefault(name, []).append(ast.get_docstring(child, clean=False))
                todo.append((name, child))
            else:
                todo.append((prefix, child))
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
        before = _docstrings(_decode(snapshot)) if snapshot is not None else {}
        after = _docstrings(_decode(workspace)) if workspace is not None else {}
    except (SyntaxError, ValueError, LookupError, RecursionError, MemoryError):
        return None  # the module does not import either; its doctests fail as they are
    for name in sorted(names):
        qual = _qualname(name, before)
        if [_examples(d) for d in before.get(qual, [])] != [_examples(d) for d in after.get(qual, [])]:
            return f"{rel}: changes the examples of the doctest {name}, a graded test (they must be the snapshot's)"
    return None


DOCTEST_CHANGED = "runs doctest examples that are not the snapshot's docstring's"
"""The guard's words for a doctest whose collected examples differ (`guard_plugin_machinery`)."""


def expected_examples(snapshot_dir: Path, tests: Iterable[str]) -> dict[str, str]:
    """Graded doctest id of a module -> its examples in the snapshot, as JSON `[[source, want, exc_msg]]`:
    what the guard checks the examples a run collects against. `null` for a name the snapshot defines
    more than once or with no literal docstring (built at run time): the guard reports whatever such
    a doctest collects, and only the buggy snapshot's own run can vouch for it (`grading.doctest_runs`)."""
    out: dict[str, str] = {}
    for rel, names in doctest_ids(tests).items():
        path = Path(snapshot_dir) / rel
        if is_text_doctest(rel) or not path.is_file():
            continue
        try:
            docs = _docstrings(_decode(path.read_bytes()))
        except (SyntaxError, ValueError, LookupError, RecursionError, MemoryError):
            continue
        for name in names:
            found = docs.get(_qualname(name, docs), [])
            literal = len(found) == 1 and found[0] is not None
            out[f"{rel}::{name}"] = json.dumps([list(e) for e in _examples(found[0])] if literal else None)
    return out


def judge(
    tests: Iterable[str],
    touched: Iterable[str],
    snapshot: Callable[[str], bytes | None],
    workspace: Callable[[str], bytes | None],
) -> tuple[str | None, list[str]]:
    """The grader's and the Harbor verifier's one rule: why the change is rejected (None: it is not),
    and the touched doctest text files to put back as in the snapshot. `snapshot` / `workspace`: a
    file's bytes there (None: absent)."""
    graded = doctest_ids(tests)
    changed = [rel for rel in sorted(set(touched)) if rel in graded]
    for rel in changed:
        if not is_text_doctest(rel):
            problem = changed_examples(rel, graded[rel], snapshot(rel), workspace(rel))
            if problem:
                return problem, []
    return None, [rel for rel in changed if is_text_doctest(rel)]


__all__ = [
    "DOCTEST_CHANGED",
    "changed_examples",
    "doctest_ids",
    "expected_examples",
    "is_text_doctest",
    "judge",
]
