"""One rule for what a test module is called, asked by snapshots, synthesis, mining and the grader; the
grader's shipped copy (`grading.pathrules`, which imports nothing from codekiln) must agree with it."""

from __future__ import annotations

import pytest

from codekiln.core.testnames import is_test_module
from codekiln.grading.pathrules import is_protected
from codekiln.repos.snapshot import has_tests
from codekiln.tasks.history.walk import is_test_path

NAMES = {
    "tests.py": True,  # defusedxml 0.7.1: its whole suite
    "tests/test.py": True,  # xxhash 4.1.0
    "pkg/test_x.py": True,
    "pkg/x_test.py": True,
    "pkg/tests/helpers.py": True,
    "testing/util.py": True,
    "pkg/testing.py": False,
    "pkg/contest.py": False,
    "pkg/attest.py": False,
    "pkg/mod.py": False,
    "tests.txt": False,
}


@pytest.mark.parametrize(("rel", "expected"), NAMES.items())
def test_every_stage_names_test_modules_alike(rel: str, expected: bool) -> None:
    assert is_test_module(rel) is expected
    assert is_protected(rel) is expected
    assert is_test_path(rel) is expected
    assert has_tests([rel]) is expected
