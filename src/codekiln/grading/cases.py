"""A bounded sample of a suite's parametrized cases: at most `CASES_PER_TEST` cases of each test
function, spread evenly over its cases, every test function kept.

    sample_cases(["t.py::test_v[1]", ..., "t.py::test_v[25392]", "t.py::test_x"])   # 32 + 1 ids

A parametrized test function can hold tens of thousands of cases (packaging 26.3: two functions hold
50,784 of its 62,423 tests), all running the same code on other inputs. Synthesis maps coverage
and selects tests from this sample, so finding a task costs its test functions, not every case of
them: a suite whose functions have at most `CASES_PER_TEST` cases each (toolz, most suites) is its own
sample. The grader never samples: it grades a task's FAIL_TO_PASS, PASS_TO_PASS and every clean-passing
test of the hidden files (`collateral`), every case of them.

A suite slow enough that mapping even this sample outlasts a short synthesis (multidict 7.2.1: 3,494 of
its 4,298 tests, most functions 4 cases, `[ci-c]` ... `[cs-py]`: two key kinds times the C and the
pure-Python implementation, 183 s plainly) takes the `lean` sample: of each function's sampled cases,
the fewest that still hold every value of every parameter position (`value_cover`: `[ci-c]` and
`[cs-py]` run both kinds and both implementations), 1,769 tests there. A position is a `-`-separated
part of the case's id, as pytest joins the ids of stacked `parametrize` marks, class-level parameters
and parametrized fixtures.
"""

from __future__ import annotations

from collections.abc import Iterable

CASES_PER_TEST = 32
"""The most cases of one test function (its node id before `[`) that the sample keeps."""


def function_of(test_id: str) -> str:
    """The test function a test id is a case of: the id without its `[parameters]`."""
    return test_id.split("[", 1)[0]


def sample_cases(tests: Iterable[str], per_test: int = CASES_PER_TEST, *, lean: bool = False) -> list[str]:
    """The sample of `tests` (sorted): every test of a function with at most `per_test` cases, and
    `per_test` cases spread evenly over the sorted cases of a function with more; `lean`: of those,
    only each function's `value_cover` (see the module docstring)."""
    groups: dict[str, list[str]] = {}
    for test in sorted(set(tests)):
        groups.setdefault(function_of(test), []).append(test)
    out: list[str] = []
    for cases in groups.values():
        if len(cases) > per_test:
            cases = [cases[i * len(cases) // per_test] for i in range(per_test)]
        out += value_cover(cases) if lean else cases
    return sorted(out)


def parameter_values(test_id: str) -> set[tuple[int, str]]:
    """(position, value) of each `-`-separated part of a case's parameters, and (-1, count of parts):
    a value holding `-` itself shifts the positions, and the count keeps such a case apart."""
    _, sep, params = test_id.partition("[")
    parts = params[:-1].split("-") if sep else []
    return {(-1, str(len(parts))), *enumerate(parts)}


def value_cover(cases: list[str]) -> list[str]:
    """The fewest of `cases` (in their order, greedily) that together hold every value of every
    parameter position of them all (`parameter_values`); one case of a function with one case."""
    values = {case: parameter_values(case) for case in cases}
    wanted = set().union(*values.values()) if cases else set()
    out: list[str] = []
    while wanted:
        best = max(cases, key=lambda case: len(values[case] & wanted))  # the first of the best
        out.append(best)
        wanted -= values[best]
    return out


__all__ = ["CASES_PER_TEST", "function_of", "parameter_values", "sample_cases", "value_cover"]
