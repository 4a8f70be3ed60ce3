"""The order a guarded run asks pytest for its ids in (`grading.suite_order`): the suite's own, as its
baseline ran it, whatever order the task's lists hold them in; ids the baseline lacks placed by a rule
that reads only the two lists. Through the real grader and verifier: tests/tasks/test_suite_order_tasks.py."""

from __future__ import annotations

from codekiln.grading.suite_order import in_suite_order, pytest_ids

SUITE = [
    "tests/test_b.py::test_setup",
    "tests/test_b.py::test_uses",
    "tests/test_b.py::test_case[<b.T object at 0x7f00aa>]",
    "tests/test_a.py::test_one",
    "docs/usage.rst::usage.rst",
]


def test_ids_follow_the_suite_not_the_lists() -> None:
    graded = ["docs/usage.rst::usage.rst", "tests/test_b.py::test_uses", "tests/test_b.py::test_setup"]
    assert in_suite_order(graded, SUITE) == [
        "tests/test_b.py::test_setup",
        "tests/test_b.py::test_uses",
        "docs/usage.rst::usage.rst",
    ]


def test_a_case_named_by_an_address_is_found_by_its_blanked_id_and_asked_for_by_its_function() -> None:
    other_process = "tests/test_b.py::test_case[<b.T object at 0x7f99cc>]"
    ordered = in_suite_order(
        ["tests/test_a.py::test_one", other_process, "tests/test_b.py::test_setup"], SUITE
    )
    assert ordered == ["tests/test_b.py::test_setup", other_process, "tests/test_a.py::test_one"]
    assert pytest_ids(ordered) == [
        "tests/test_b.py::test_setup",
        "tests/test_b.py::test_case",
        "tests/test_a.py::test_one",
    ]


def test_ids_the_baseline_lacks_go_after_their_file_or_last_grouped_by_file() -> None:
    graded = [
        "tests/test_new.py::test_y",
        "tests/test_a.py::test_added",
        "tests/test_other.py::test_z",
        "tests/test_new.py::test_x",
        "tests/test_b.py::test_added",
        "tests/test_a.py::test_one",
        "tests/test_b.py::test_setup",
    ]
    assert in_suite_order(graded, SUITE) == [
        "tests/test_b.py::test_setup",
        "tests/test_b.py::test_added",  # after test_b.py's last baseline id
        "tests/test_a.py::test_one",
        "tests/test_a.py::test_added",
        "tests/test_new.py::test_y",  # files the baseline never ran: last, grouped, as first listed
        "tests/test_new.py::test_x",
        "tests/test_other.py::test_z",
    ]
    assert in_suite_order(graded, SUITE) == in_suite_order(graded + graded[:2], SUITE)  # duplicates dropped
