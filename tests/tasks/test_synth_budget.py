"""Synthesis on a suite whose whole run cannot fit a run's time limit (the shape of s3transfer, whose
suite takes minutes, and of packaging, whose whole-suite selections cost a process collecting 62,423
cases): a selection that took longer in the coverage run than a run may take is rejected unrun
(`timeout`, "not run"), a test over the limit alone is left out of a selection holding others
(fastjsonschema 2.22.3's shape), and the first batch holds the cheapest of the first candidates
(`selection.cheap_first`), so a short run's first task does not wait for the slow ones. Real
environment, coverage run and validation in bwrap sandboxes; the pure ordering rule at the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.envs import build_env
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.synth import SynthConfig, plan_candidates, read_decisions, synthesize
from codekiln.tasks.validation.config import ValidateConfig
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.tasks.validation.selection import (
    cheap_first,
    ordered_for_synthesis,
    passing_sample,
    selected_tests,
)
from codekiln.testing.git import write_files

SLEEP_S = 4.0
LIMIT_S = 3.0
"""The runs' upper limit in these tests: below the slow test's sleep, whatever the machine's speed."""

FILES = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "slowsuite"
version = "0.1"
[tool.setuptools]
packages = ["slowsuite"]
""",
    "slowsuite/__init__.py": """
def fast(x):
    if x > 0:
        return x + 1
    return x - 1


def slow_path(x):
    if x > 0:
        return x * 2
    return -x
""",
    "tests/test_fast.py": """
from slowsuite import fast


def test_fast_positive():
    assert fast(2) == 3


def test_fast_negative():
    assert fast(-2) == -3
""",
    "tests/test_slow.py": f"""
import time

from slowsuite import slow_path


def test_slow_path():
    time.sleep({SLEEP_S})
    assert slow_path(2) == 4
    assert slow_path(-1) == 1
""",
}

SLOW_TEST = "tests/test_slow.py::test_slow_path"

pytestmark = pytest.mark.root  # environments, coverage and validation in bwrap sandboxes


def test_selections_that_cannot_fit_a_run_are_rejected_unrun_and_the_cheap_ones_go_first(
    tmp_path: Path,
) -> None:
    root = write_files(tmp_path / "slowsuite-src", FILES)
    env = build_env(str(root))
    cmap = coverage_map(env)
    assert cmap.durations[SLOW_TEST] >= SLEEP_S > LIMIT_S
    passing = passing_sample(env.baseline)
    # a seed whose seeded order tries a slow candidate first: without the cheap-first order, the run's
    # first batch (one candidate: one task wanted) would be that one
    for seed in range(50):
        config = SynthConfig(
            spec=str(root), out=tmp_path / "out", max_tasks=1, workers=1, batch_size=8, seed=seed,
            validation=ValidateConfig(timeout_max_s=LIMIT_S),
        )  # fmt: skip
        entities, seeded, _ = plan_candidates(env, config)
        by_id = {e.id: e for e in entities}
        if SLOW_TEST in selected_tests(cmap, passing, seeded[0], by_id):
            break
    else:
        pytest.fail("no seed of 50 puts a candidate selecting the slow test first")
    ordered = ordered_for_synthesis(seeded, cmap, env.baseline, by_id)
    assert sorted(c.id for c in ordered) == sorted(c.id for c in seeded)
    assert SLOW_TEST not in selected_tests(cmap, passing, ordered[0], by_id)

    result = synthesize(config)
    decisions = list(read_decisions(result.out))
    assert result.tasks == 1 and isinstance(decisions[-1], TaskRecord)
    assert [d.candidate_id for d in decisions] == [c.id for c in ordered[: len(decisions)]]
    # the first decision is the cheapest candidate's, not the seeded first one's
    assert decisions[0].candidate_id == ordered[0].id != seeded[0].id

    # the whole run, with max_tasks raised: every slow selection rejected without a run, the rest run
    more = synthesize(config.model_copy(update={"max_tasks": 100}))
    decided = {d.candidate_id: d for d in read_decisions(more.out)}
    slow = [c for c in ordered if selected_tests(cmap, passing, c, by_id) == [SLOW_TEST]]
    assert slow and more.tasks >= 1
    for cand in slow:
        rejected = decided[cand.id]
        assert isinstance(rejected, RejectedCandidate) and rejected.reason == RejectReason.timeout
        assert rejected.detail.startswith("not run: its ") and rejected.validation is None, rejected.detail
        assert f"over the {LIMIT_S:.0f} s a run may take" in rejected.detail
    for task in (d for d in decided.values() if isinstance(d, TaskRecord)):
        assert SLOW_TEST not in task.tests


def test_a_test_over_the_limit_is_left_out_of_selections_holding_others(tmp_path: Path) -> None:
    """fastjsonschema 2.22.3: one test (a large schema compiled) runs nearly every line and took
    longer than a run may take; every selection held it, so every candidate was `timeout` and no task
    came out. Left out, the bugs in `fast` are decided on its fast tests; a bug only the slow test
    observes is still rejected unrun."""
    observer = f"""
import time

from slowsuite import fast, slow_path


def test_slow_path():
    time.sleep({SLEEP_S})
    assert fast(2) == 3 and fast(-2) == -3
    assert slow_path(2) == 4
    assert slow_path(-1) == 1
"""
    root = write_files(tmp_path / "slowsuite-src", {**FILES, "tests/test_slow.py": observer})
    config = SynthConfig(
        spec=str(root), out=tmp_path / "out", max_tasks=100, workers=1,
        validation=ValidateConfig(timeout_max_s=LIMIT_S),
    )  # fmt: skip
    result = synthesize(config)
    decisions = list(read_decisions(result.out))
    tasks = [d for d in decisions if isinstance(d, TaskRecord)]
    assert tasks and all(SLOW_TEST not in t.tests for t in tasks), [d.model_dump() for d in decisions]
    assert all(t.entities == ["slowsuite/__init__.py::fast"] for t in tasks)
    for rejected in (d for d in decisions if isinstance(d, RejectedCandidate)):
        if rejected.reason == RejectReason.timeout:  # only the slow test runs slow_path; a bug in
            # `fast`'s def line runs at import and is run on its observers: the slow test left out too
            assert rejected.entities == ["slowsuite/__init__.py::slow_path"], rejected.detail


def test_cheap_first_moves_the_cheapest_of_a_window_to_the_front_and_keeps_every_other_order() -> None:
    cost = {"a": 9.0, "b": 1.0, "c": 5.0, "d": 1.0, "e": 0.5, "f": 0.0}
    ids = list(cost)

    def order(front: int, window: int) -> list[str]:
        return cheap_first(ids, cost.__getitem__, front=front, window=window)

    assert order(2, 4) == ["b", "d", "a", "c", "e", "f"]  # b and d tie: in their order; e, f lie outside
    assert order(3, 6) == ["f", "e", "b", "a", "c", "d"]  # cheapest first; of b and d (a tie), the earlier
    assert order(8, 32) == ["f", "e", "b", "d", "c", "a"]  # a front larger than the list: sorted by cost
    assert order(0, 32) == ids and cheap_first([], cost.__getitem__) == []
