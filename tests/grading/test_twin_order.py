"""The order of the twin check's two runs (`twin_check.twin_order`): fixed by the policy where the tests
need it, drawn otherwise, so a mark that tells a run's place cannot tell the twin's."""

from __future__ import annotations

from codekiln.grading import GradePolicy
from codekiln.grading.twin_check import twin_order


def test_a_fixed_order_is_kept() -> None:
    assert twin_order("twin-first") == ("twin", "real")
    assert twin_order("real-first") == ("real", "twin")


def test_the_default_order_is_drawn() -> None:
    assert GradePolicy().twin_order == "random"
    drawn = {twin_order("random") for _ in range(200)}  # both seen but for a chance of 2**-199
    assert drawn == {("twin", "real"), ("real", "twin")}
