"""Rewards on real grades: the gold patch, the empty patch and a patch that does not apply, graded by the
real grader on a recorded toolz task; the graded fraction, shaping terms and the infrastructure mask.

The grades are recorded too (tests/fixtures/recorded), so the reward rules run without root;
`test_recorded_grades_are_what_the_grader_gives` (root) regrades the three patches and compares, and
rewrites the recording when run with CODEKILN_RERECORD=1."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from codekiln.agents.records import Step, Trajectory
from codekiln.envs import EnvRecord
from codekiln.grading import GradeResult, grade_patch
from codekiln.rewards import Reward, RewardConfig, compute_reward, group_advantages, summarize
from codekiln.tasks.records import TaskRecord

BAD_PATCH = "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n"
GRADES = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "toolz-1.2.0.grades.json"
# What must not change between the recording and a regrade (durations do).
VERDICT = ("instance_id", "outcome", "resolved", "statuses", "missing", "reason")


def episode(exit_reason: str = "submitted", steps: list[Step] | None = None) -> Trajectory:
    return Trajectory(scaffold="swe", exit_reason=exit_reason, steps=steps or [])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def grades() -> dict[str, GradeResult]:
    """The real grader's verdicts on the first recorded task's gold, empty and bad patches."""
    return {k: GradeResult.model_validate(v) for k, v in json.loads(GRADES.read_text()).items()}


@pytest.mark.root  # grades in bwrap sandboxes
def test_recorded_grades_are_what_the_grader_gives(
    tasks: list[TaskRecord], env: EnvRecord, grades: dict[str, GradeResult]
) -> None:
    task = tasks[0]
    live = {
        "gold": grade_patch(task, env, task.patch),
        "empty": grade_patch(task, env, ""),
        "bad": grade_patch(task, env, BAD_PATCH),
    }
    if os.environ.get("CODEKILN_RERECORD") == "1":
        dump = {k: g.model_dump(mode="json") for k, g in live.items()}
        GRADES.write_text(json.dumps(dump, indent=1, sort_keys=True) + "\n")
    for name, grade in live.items():
        assert grade.model_dump(include=set(VERDICT)) == grades[name].model_dump(include=set(VERDICT)), (
            f"the {name} patch grades differently from {GRADES.name}: if the grader changed on purpose, "
            "re-record with CODEKILN_RERECORD=1 pytest tests/rewards/test_rewards.py -k recorded_grades"
        )
    assert (live["gold"].outcome, live["empty"].outcome, live["bad"].outcome) == (
        "resolved",
        "unresolved",
        "patch_failed",
    )


def test_gold_patch_earns_full_reward(recorded: list[TaskRecord], grades: dict[str, GradeResult]) -> None:
    task = recorded[0]
    r = compute_reward(episode(), grades["gold"], task)
    assert (r.value, r.resolved, r.graded, r.masked, r.finished) == (1.0, True, 1.0, False, True)
    assert (r.f2p_passed, r.f2p_total) == (len(task.FAIL_TO_PASS), len(task.FAIL_TO_PASS))
    assert (r.p2p_passed, r.p2p_total) == (len(task.PASS_TO_PASS), len(task.PASS_TO_PASS))


def test_empty_patch_scores_zero_and_keeps_pass_to_pass(
    recorded: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    task = recorded[0]
    r = compute_reward(episode(), grades["empty"], task, RewardConfig(outcome="graded"))
    assert (r.value, r.resolved, r.graded, r.masked, r.f2p_passed) == (0.0, False, 0.0, False, 0)
    assert r.p2p_passed == len(task.PASS_TO_PASS) and r.outcome == "unresolved"


def test_patch_that_does_not_apply_is_the_agents_zero(
    recorded: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    r = compute_reward(episode(), grades["bad"], recorded[0])
    assert grades["bad"].outcome == "patch_failed"
    assert (r.value, r.masked, r.graded, r.outcome) == (0.0, False, 0.0, "patch_failed")


def test_unfinished_episode_gets_the_penalty(
    recorded: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    r = compute_reward(episode("max_turns"), grades["gold"], recorded[0])
    assert (r.value, r.finished, r.unfinished_penalty, r.resolved) == (0.5, False, -0.5, True)
    r = compute_reward(
        episode("format_errors"), grades["empty"], recorded[0], RewardConfig(unfinished_penalty=-0.25)
    )
    assert r.value == -0.25


def test_graded_is_the_product_of_the_two_fractions(recorded: list[TaskRecord]) -> None:
    task = recorded[0].model_copy(update={"FAIL_TO_PASS": ["a", "b"], "PASS_TO_PASS": ["c", "d", "e", "f"]})
    statuses = {"a": "passed", "b": "failed", "c": "passed", "d": "passed", "e": "passed", "f": "error"}
    grade = GradeResult(instance_id=task.instance_id, outcome="unresolved", statuses=statuses)
    r = compute_reward(episode(), grade, task, RewardConfig(outcome="graded"))
    assert r.graded == pytest.approx(0.5 * 0.75) and r.value == pytest.approx(0.375) and not r.resolved


def test_infrastructure_failures_are_masked_never_zero(
    recorded: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    task = recorded[0]
    grader_down = GradeResult(instance_id=task.instance_id, outcome="error", detail="sandbox did not start")
    cases = [
        compute_reward(episode(), grader_down, task),
        compute_reward(episode("sandbox_error"), None, task),
        compute_reward(episode("model_error"), grades["gold"], task),
        compute_reward(None, None, task),
    ]
    for r in cases:
        assert r.masked and r.value is None and not r.resolved and r.mask_reason
    assert "sandbox did not start" in cases[0].mask_reason
    counts = summarize([*cases, compute_reward(episode(), grades["gold"], task)])
    assert (counts["graded"], counts["masked"], counts["resolved"], counts["mean_reward"]) == (1, 4, 1, 1.0)


def test_format_penalties_point_at_the_bad_turns_tokens(
    recorded: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    steps = [
        Step(
            index=0,
            raw="no call here",
            parse_error="Your reply contains no tool call.",
            completion_ids=[5, 6, 7],
        ),
        Step(index=1, raw="<tool_call>ok</tool_call>", completion_ids=[1, 2]),
        Step(index=2, raw="<tool_call>broken", parse_error="unclosed <tool_call>"),
    ]
    r = compute_reward(episode(steps=steps), grades["gold"], recorded[0], RewardConfig(format_penalty=-0.2))
    assert r.value == 1.0  # token-level terms stay out of the scalar
    first, second = r.format_penalties
    assert (first.step, first.char_span, first.token_span, first.penalty) == (0, (0, 12), (0, 3), -0.2)
    assert (second.step, second.char_span, second.token_span) == (2, (0, 17), None)


def test_group_advantages_ignore_masked_samples() -> None:
    rewards = [
        Reward(value=1.0, resolved=True),
        Reward(value=0.0),
        Reward(value=None, masked=True),
        Reward(value=-0.5),
    ]
    assert group_advantages(rewards) == [
        pytest.approx(5 / 6),
        pytest.approx(-1 / 6),
        None,
        pytest.approx(-4 / 6),
    ]
    assert group_advantages([Reward(value=1.0), Reward(value=None, masked=True)]) == [0.0, None]
