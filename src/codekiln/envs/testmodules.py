"""Test modules pytest's default file names miss, found so that the suite pytest runs is the project's:

    missed_modules(root, ["tests"], ["test_*.py", "*_test.py"])   # e.g. ["tests/test.py", "tests/basicTests.py"]

Two kinds: a module unittest's discovery loads (`test*.py`: defusedxml's top-level `tests.py`, xxhash's
`tests/test.py`, zope.event's `src/zope/event/tests.py`), and a test module the project runs as a script
(`if __name__ == "__main__": unittest.main()`), named as it likes: pytweening 1.2.0's whole suite is
`tests/basicTests.py`, which neither pytest nor `python -m unittest` finds (pytest collected nothing).
Each must define a test pytest then collects.
"""

from __future__ import annotations

import ast
import fnmatch
import os
from pathlib import Path

from codekiln.core.pyast import parse_file

SKIP_DIRS = {".git", "build", "dist", "node_modules", "venv", ".venv", ".tox", ".eggs", "__pycache__"}


def defines_tests(tree: ast.Module) -> bool:
    """True when a module defines a test pytest collects: a `test*` function, or a `Test*`/`*TestCase`
    class, or a class deriving from `TestCase` (pytest collects any unittest.TestCase, whatever its name),
    that holds a test method (`_holds_tests`). fire 0.7.1's `fire/testutils.py` (a `test*.py` name) is a
    `BaseTestCase(unittest.TestCase)` of helpers and no test: named in `python_files`, pytest collected
    nothing from it, and the module was still counted a test module of the suite."""
    classes = {node.name: node for node in tree.body if isinstance(node, ast.ClassDef)}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            return True
        if (
            isinstance(node, ast.ClassDef)
            and (
                node.name.startswith("Test")
                or node.name.endswith("TestCase")
                or any(_last_name(base) == "TestCase" for base in node.bases)
            )
            and _holds_tests(node, classes, set())
        ):
            return True
    return False


_NO_TESTS = frozenset({"TestCase", "IsolatedAsyncioTestCase", "object", "Generic", "Protocol"})
"""Bases known to hold no test method (unittest's own classes, the builtins')."""


def _holds_tests(node: ast.ClassDef, classes: dict[str, ast.ClassDef], seen: set[str]) -> bool:
    """Whether a class has a test method: a `test*` (or unittest's `runTest`) of its own, or one a base
    defined in the module has; a base imported from elsewhere may hold tests (a mixin of shared tests),
    so it counts as holding some, unless it is one of `_NO_TESTS`."""
    for item in node.body:
        if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) and (
            item.name.startswith("test") or item.name == "runTest"
        ):
            return True
    seen.add(node.name)
    for base in node.bases:
        name = _last_name(base)
        if name in _NO_TESTS or name in seen:
            continue
        if name not in classes or _holds_tests(classes[name], classes, seen):
            return True
    return False


def runs_unittest_main(tree: ast.Module) -> bool:
    """True when the module, run as a script, calls `unittest.main()` (or `main()` imported from it). A
    `main` of its own is not unittest's: simplejson 4.3.0's `simplejson/tests/__init__.py` runs its
    suites with one, and naming `__init__.py` in `python_files` made pytest collect it as a test module."""
    mains = {"unittest.main"} | {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.ImportFrom) and node.module == "unittest"
        for alias in node.names
        if alias.name == "main"
    }
    for node in tree.body:
        if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test):
            for call in ast.walk(node):
                if isinstance(call, ast.Call) and ast.unparse(call.func) in mains:
                    return True
    return False


def _last_name(node: ast.expr) -> str:
    return node.attr if isinstance(node, ast.Attribute) else node.id if isinstance(node, ast.Name) else ""


def _missed(path: Path, patterns: list[str]) -> bool:
    name = path.name
    if name == "__init__.py" or any(fnmatch.fnmatch(name, p) for p in patterns) or not path.is_file():
        return False
    tree = parse_file(path)
    if tree is None or not defines_tests(tree):
        return False
    return fnmatch.fnmatch(name, "test*.py") or runs_unittest_main(tree)


def missed_modules(root: Path, dirs: list[str], patterns: list[str]) -> list[str]:
    """Test modules pytest's `python_files` (`patterns`) would miss though unittest's discovery loads them
    (`test*.py`) or the project runs them as unittest scripts: at the top level and in the test
    directories `dirs`, those that define tests; with no `dirs` (pytest collects the whole tree),
    anywhere: a `tests.py` inside the package (zope.event 6.2's `src/zope/event/tests.py`, run by
    zope.testrunner: pytest collected no test at all)."""
    found = []
    for base in [root, *(root / d for d in dirs)]:
        walk = os.walk(base) if base != root or not dirs else [(str(root), [], os.listdir(root))]
        for dirpath, dirnames, filenames in walk:
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if name.endswith(".py") and _missed(path, patterns):
                    found.append(path.relative_to(root).as_posix())
    return found
