"""The pure rules that keep a short synthesis run short on a big suite: the sample of each test
function's parametrized cases (`grading.cases`) and the first batch no larger than the tasks wanted
(`synth.batched`). Their real runs: `test_synth_reach.py`."""

from __future__ import annotations

from collections import Counter

from codekiln.grading.cases import CASES_PER_TEST, function_of, sample_cases
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
