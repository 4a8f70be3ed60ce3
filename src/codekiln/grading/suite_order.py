"""The order a guarded run asks pytest for its test ids in: the order the suite's own run gave them.

    ordered = in_suite_order(task.tests, list(env.baseline))   # the graded ids, as the suite runs them
    args = pytest_ids(ordered)                                 # what pytest is given

pytest runs the ids it is given in the order given. A suite whose tests depend on the order it runs
them in passes in the library's own run and fails in a run that asks for its ids in another: semver
3.2.0's 20 `docs/**/*.rst` doctests read names an autouse fixture of `tests/conftest.py` puts into the
session's `doctest_namespace`, so they pass only after a test under tests/ ran, and a test that reads
module-level state an earlier test of its file set passes only after that test. The grader asked for a
task's FAIL_TO_PASS then its PASS_TO_PASS (each sorted), and synthesis's shared run for every id
sorted, so the gold patch of such a task failed.

The suite's order is the environment's baseline (the guard records each test when it starts, so the
baseline's ids are in the order its full run ran them). An id the baseline lacks (a test a mined
change adds) goes right after the last baseline id of its file, keeping the given order among such
ids; one of a file the baseline never ran goes after every other, grouped by file in the order its
file first appears in `tests`. The result depends only on the two lists, never on the machine.

Shipped with the Harbor verifier (standard library only): its `task.json` carries the graded ids in
this order (`order`), so the verifier needs no baseline.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

try:  # shipped: beside its sibling files
    import unstable_ids
except ImportError:  # imported from the codekiln package
    from codekiln.grading import unstable_ids  # type: ignore[no-redef]


def _file(test_id: str) -> str:
    return test_id.split("::", 1)[0]


def in_suite_order(tests: Iterable[str], suite: Sequence[str]) -> list[str]:
    """`tests` (duplicates dropped) in the order `suite` (the baseline's ids, in run order) lists them;
    a case whose id holds an address is found by its blanked id (`unstable_ids.blank`). Ids `suite`
    lacks are placed as the module docstring says."""
    position: dict[str, int] = {}
    last_of_file: dict[str, int] = {}
    for i, test_id in enumerate(suite):
        position.setdefault(test_id, i)
        position.setdefault(unstable_ids.blank(test_id), i)
        last_of_file[_file(test_id)] = i
    given = list(dict.fromkeys(tests))
    first_seen: dict[str, int] = {}
    for i, test_id in enumerate(given):
        first_seen.setdefault(_file(test_id), i)

    def key(item: tuple[int, str]) -> tuple[int, int, int]:
        i, test_id = item
        found = position.get(test_id, position.get(unstable_ids.blank(test_id)))
        if found is not None:
            return (found, 0, i)
        rel = _file(test_id)
        if rel in last_of_file:
            return (last_of_file[rel], 1, i)
        return (len(suite), first_seen[rel], i)

    return [test_id for _, test_id in sorted(enumerate(given), key=key)]


def pytest_ids(ordered: Iterable[str]) -> list[str]:
    """The ids to give pytest for `ordered`, in its order: a case pytest cannot select by its id (an
    address in it) is asked for by its function (`unstable_ids`), where its first case stands."""
    out = (unstable_ids.function_id(t) if unstable_ids.is_unstable(t) else t for t in ordered)
    return list(dict.fromkeys(out))


__all__ = ["in_suite_order", "pytest_ids"]
