"""The twin's ids of the parametrized cases it renames (`grading.twin_cases`): pairing each real case
with the twin's case at its place within its function, in each side's own collection order."""

from __future__ import annotations

from codekiln.grading.twin_cases import asked, case_map, collected, functions_of, read_back

F = "tests/test_p.py::test_scale"
G = "tests/test_p.py::TestK::test_k"


def test_the_cases_of_a_function_pair_by_place() -> None:
    real = [f"{F}[2-3-6]", f"{F}[4-5-20]", "tests/test_p.py::test_show", f"{F}[7-1-7]"]
    twin = [f"{F}[2-3-8]", f"{F}[4-5-21]", f"{F}[7-1-10]"]
    assert case_map(real, twin, [F]) == {
        f"{F}[2-3-6]": f"{F}[2-3-8]",
        f"{F}[4-5-20]": f"{F}[4-5-21]",
        f"{F}[7-1-7]": f"{F}[7-1-10]",
    }


def test_ids_the_twin_leaves_as_they_are_are_not_mapped() -> None:
    """An explicit `ids=` (or `pytest.param(id=...)`) names the case whatever its values."""
    real = [f"{G}[one]", f"{G}[two]", f"{G}[3-4]"]
    twin = [f"{G}[one]", f"{G}[two]", f"{G}[3-6]"]
    assert case_map(real, twin, [G]) == {f"{G}[3-4]": f"{G}[3-6]"}


def test_repeated_ids_pair_by_place_and_a_count_that_differs_leaves_the_function_out() -> None:
    # pytest tells repeated ids apart by a suffix; the twin's values may repeat where the real ones did not
    real = [f"{F}[1-2]", f"{F}[1-3]"]
    twin = [f"{F}[1-40]", f"{F}[1-41]"]
    assert case_map(real, twin, [F]) == {f"{F}[1-2]": f"{F}[1-40]", f"{F}[1-3]": f"{F}[1-41]"}
    assert case_map(real, [f"{F}[1-4]"], [F]) == {}  # counts differ: no guess
    assert case_map([f"{F}[1-2]", f"{F}[1-2]"], [f"{F}[1-3]", f"{F}[1-4]"], [F]) == {}  # one id, two cases
    assert case_map([f"{F}[a]"], [f"{F}x[a]"], [F]) == {}  # another function's case is not one of its


def test_the_functions_collected_and_the_runs_reading_back() -> None:
    tests = [f"{F}[2-3-6]", "tests/test_p.py::test_show", f"{G}[3-4]", "tests/other.py::test_o[1]"]
    assert functions_of(tests, ["tests/test_p.py"]) == [G, F]
    out = f"{F}[2-3-8]\ntests/test_p.py::test_show\n  {G}[3-6]\n\n3 tests collected in 0.01s\n"
    assert collected(out, [F, G]) == [f"{F}[2-3-8]", f"{G}[3-6]"]
    cases = case_map([f"{F}[2-3-6]", f"{G}[3-4]"], collected(out, [F, G]), [F, G])
    assert asked(tests, cases) == [f"{F}[2-3-8]", tests[1], f"{G}[3-6]", tests[3]]
    statuses = {f"{F}[2-3-8]": "passed", tests[1]: "failed", f"{G}[3-6]": "failed"}
    assert read_back(statuses, cases) == {tests[0]: "passed", tests[1]: "failed", tests[2]: "failed"}
