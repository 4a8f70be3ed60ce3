"""A bounded sample of a suite's parametrized cases: at most `CASES_PER_TEST` cases of each test
function, spread evenly over its cases, every test function kept.

    sample_cases(["t.py::test_v[1]", ..., "t.py::test_v[25392]", "t.py::test_x"])   # 32 + 1 ids

A parametrized test function can hold tens of thousands of cases (packaging 26.3: two functions hold
50,784 of its 62,423 tests), all running the same code on other inputs. Synthesis maps coverage
and selects tests from this sample, so finding a task costs its test functions, not every case of
them: a suite whose functions have at most `CASES_PER_TEST` cases each (toolz, most suites) is its own
sample. The grader never samples: it grades a task's FAIL_TO_PASS, PASS_TO_PASS and every clean-passing
test of the hidden files (`collateral`), every case of them.
"""

from __future__ import annotations

from collections.abc import Iterable

CASES_PER_TEST = 32
"""The most cases of one test function (its node id before `[`) that the sample keeps."""


def function_of(test_id: str) -> str:
    """The test function a test id is a case of: the id without its `[parameters]`."""
    return test_id.split("[", 1)[0]


def sample_cases(tests: Iterable[str], per_test: int = CASES_PER_TEST) -> list[str]:
    """The sample of `tests` (sorted): every test of a function with at most `per_test` cases, and
    `per_test` cases spread evenly over the sorted cases of a function with more."""
    groups: dict[str, list[str]] = {}
    for test in sorted(set(tests)):
        groups.setdefault(function_of(test), []).append(test)
    out: list[str] = []
    for cases in groups.values():
        if len(cases) <= per_test:
            out += cases
        else:
            out += [cases[i * len(cases) // per_test] for i in range(per_test)]
    return sorted(out)


__all__ = ["CASES_PER_TEST", "function_of", "sample_cases"]
