"""What makes a path a test module by its name: one rule for every stage that asks.

    is_test_module("tests.py")                  # True: a top-level unittest module (defusedxml)
    is_test_module("pkg/tests/helpers.py")      # True: under a tests/test/testing directory
    is_test_name("test.py")                     # True (xxhash's tests/test.py)

pytest's default file names (`test_*.py`, `*_test.py`) plus the modules unittest-style suites call
`tests.py` or `test.py`; a snapshot, the hidden tests of a task and mined changes use the same rule.
"""

from __future__ import annotations

from pathlib import PurePosixPath

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


__all__ = ["TEST_DIRS", "TEST_MODULES", "is_test_module", "is_test_name"]
