"""The choice rules of bench/verify_rules.py (pure functions over an output matrix): MBR-exec, the
validity rule, the public examples' invariants and the metamorphic transforms."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from verify_rules import RULES, _breaks, _expected, example_invariants, transforms

# three candidates x three inputs: 0 and 1 agree everywhere, 2 raises on the last input
ROWS = [["1", "2", "3"], ["1", "2", "3"], ["1", "5", "!raise:IndexError"]]


def test_mbr_prefers_the_agreeing_pair_and_ties_count_as_a_share() -> None:
    score = RULES["mbr"](ROWS, 3)
    assert score == [4.0, 4.0, 2.0]
    assert _expected(score, [True, False, True]) == 0.5  # a tie between one right and one wrong
    assert RULES["validity"](ROWS, 3)[2] < RULES["validity"](ROWS, 3)[0]


def test_example_invariants_flag_outputs_the_examples_never_show() -> None:
    invariants = example_invariants([("([3, 1, 2],)", "[1, 2, 3]"), ("([5, 4],)", "[4, 5]")])
    assert invariants  # a list, as long as the argument, drawn from it, sorted
    assert not _breaks(invariants, "([2, 9, 1],)", "[1, 2, 9]")
    assert _breaks(invariants, "([2, 9, 1],)", "[9, 2, 1]")  # not sorted
    assert _breaks(invariants, "([2, 9, 1],)", "[1, 2]")  # one short
    assert _breaks(invariants, "([2, 9, 1],)", "3")  # another type
    assert not _breaks(invariants, "([2, 9, 1],)", "!raise:ValueError")  # failures are not evidence here
    assert example_invariants([("([1],)", "[1]")]) == []  # one example says too little


def test_transforms_shuffle_reverse_and_swap() -> None:
    moved = transforms(([3, 1, 2], [4, 5]), random.Random(0))
    assert moved["reverse0"] == ([2, 1, 3], [4, 5])
    assert sorted(moved["shuffle1"][1]) == [4, 5]
    assert moved["swap"] == ([4, 5], [3, 1, 2])
    assert transforms((7,), random.Random(0)) == {}
