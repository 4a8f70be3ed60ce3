"""The pure rules that keep a short synthesis run short on a big suite: the sample of each test
function's parametrized cases (`grading.cases`) and the first batch no larger than the tasks wanted
(`synth.batched`). Their real runs: `test_synth_reach.py`."""

from __future__ import annotations

from collections import Counter

from codekiln.grading.cases import CASES_PER_TEST, function_of, parameter_values, sample_cases, value_cover
from codekiln.tasks.synth import batched


def test_a_sample_keeps_every_function_and_spreads_its_cases() -> None:
    many = [f"t.py::test_v[{i:05d}]" for i in range(25392)]
    few = [f"t.py::test_w[{i}]" for i in range(CASES_PER_TEST)]
    sample = sample_cases([*many, *few, "t.py::K::test_x"])
    per_function = Counter(function_of(t) for t in sample)
    assert per_function == {
        "t.py::test_v": CASES_PER_TEST,
        "t.py::test_w": CASES_PER_TEST,
        "t.py::K::test_x": 1,
    }
    picked = sorted(t for t in sample if t.startswith("t.py::test_v"))
    assert picked[0] == many[0] and picked[-1] == many[25392 * (CASES_PER_TEST - 1) // CASES_PER_TEST]
    assert sample == sorted(sample) and sample_cases(reversed(sample)) == sample  # a pure function of the ids
    assert sample_cases(few) == sorted(few)  # a suite with no larger function is its own sample


def test_the_first_batch_holds_no_more_candidates_than_tasks_wanted() -> None:
    pending = list(range(20))
    assert batched(pending, 8, 3) == [[0, 1, 2], list(range(3, 11)), list(range(11, 19)), [19]]
    assert batched(pending, 8, 100) == [list(range(0, 8)), list(range(8, 16)), list(range(16, 20))]
    assert batched(pending, 8, 0) == [[0], list(range(1, 9)), list(range(9, 17)), list(range(17, 20))]
    assert batched([], 8, 3) == [] and batched([0, 1], 8, 3) == [[0, 1]]
    for wanted in (0, 3, 100):  # every candidate once, in order
        assert [c for batch in batched(pending, 8, wanted) for c in batch] == pending


def test_a_lean_sample_keeps_every_parameter_value_of_each_function() -> None:
    # multidict's shape: two key kinds times two implementations, stacked with one more parameter
    four = [f"t.py::test_pop[{kind}-{impl}]" for kind in ("ci", "cs") for impl in ("c", "py")]
    stacked = [f"t.py::K::test_get[{n}-{impl}]" for n in ("a", "b", "c") for impl in ("c", "py")]
    lean = sample_cases([*four, *stacked, "t.py::test_x"], lean=True)
    pop = ["t.py::test_pop[ci-c]", "t.py::test_pop[cs-py]"]
    get = ["t.py::K::test_get[a-c]", "t.py::K::test_get[b-py]", "t.py::K::test_get[c-c]"]
    assert lean == sorted([*pop, *get, "t.py::test_x"])
    for cases in (four, stacked):  # every value of every position is still run by some case
        values = {v for case in cases for v in parameter_values(case)}
        assert values == {v for case in value_cover(cases) for v in parameter_values(case)}
    # lean within the per-function cap: a function of unique inputs keeps its spread sample
    many = [f"t.py::test_v[{i:05d}]" for i in range(25392)]
    assert sample_cases(many, lean=True) == sample_cases(many)
    assert set(sample_cases([*four, *stacked], lean=True)) <= set(sample_cases([*four, *stacked]))
