"""What makes a path a test module by its name: one rule for every stage that asks.

    is_test_module("tests.py")                  # True: a top-level unittest module (defusedxml)
    is_test_module("pkg/tests/helpers.py")      # True: under a tests/test/testing directory
    is_test_name("test.py")                     # True (xxhash's tests/test.py)
    named_inside_an_item("t.py::ruff::format", root)  # True: pytest cannot be asked for it by id

pytest's default file names (`test_*.py`, `*_test.py`) plus the modules unittest-style suites call
`tests.py` or `test.py`; a snapshot, the hidden tests of a task and mined changes use the same rule.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path, PurePosixPath

TEST_DIRS = frozenset({"tests", "test", "testing"})
TEST_MODULES = frozenset({"tests.py", "test.py"})


def is_test_name(name: str) -> bool:
    """A file name pytest collects by default, or a `tests.py` / `test.py` module."""
    return name.endswith(".py") and (
        name.startswith("test_") or name.endswith("_test.py") or name in TEST_MODULES
    )


def is_test_module(rel: str) -> bool:
    """A test module by its name, or any file under a tests/test/testing directory."""
    parts = PurePosixPath(rel).parts
    return bool(parts) and (is_test_name(parts[-1]) or bool(TEST_DIRS & set(parts[:-1])))


def collected_modules(test_ids: Iterable[str]) -> set[str]:
    """The Python files a test run collected tests from (`t.py::test_x`, `t.py::Class::test_x[a.b]`),
    a module's doctests left out (`src/pkg/mod.py::pkg.mod.func`): what the project's `python_files`
    made test modules, whatever their names (jsonpatch 1.48's `property_tests.py`)."""
    out = set()
    for test_id in test_ids:
        rel, sep, rest = test_id.partition("::")
        if sep and rel.endswith(".py") and "." not in rest.split("::", 1)[0].split("[", 1)[0]:
            out.add(rel)
    return out


__all__ = ["TEST_DIRS", "TEST_MODULES", "collected_modules", "is_test_module", "is_test_name"]


def named_inside_an_item(test_id: str, root: Path) -> bool:
    """Whether `test_id` is `path.py::NAME::MORE` with NAME no class, function, name or import that
    module `path` (under `root`) defines: a plugin's item whose own name holds `::` (pytest-ruff's
    `test_x.py::ruff::format`). pytest reads every `::` part of an id it is given as a collector, finds
    no `format` under the item `ruff`, and runs nothing ("not found"), so a run that names the test
    never reports it: jaraco.functools 4.6.0's grader saw `test_functools.py::ruff::format` missing
    and no gold patch resolved. A dotted NAME is a doctest of the module (`t.py::t.func`)."""
    rel, sep, rest = test_id.partition("::")
    name, inner, _ = rest.partition("::")
    name = name.split("[", 1)[0]
    if not (sep and inner and rel.endswith(".py")) or "." in name:
        return False
    defined = _defined_names(str(root / rel))
    return defined is not None and name not in defined


@lru_cache(maxsize=4096)
def _defined_names(path: str) -> frozenset[str] | None:
    """The names a module binds anywhere (None when it cannot be read or parsed). Kept by path: the
    callers ask of a snapshot's files, which never change, once per baseline test and per grade, so a
    suite of more test files than the cache holds would parse every file again each time."""
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".", 1)[0])
    return frozenset(names)
