"""Rewards on real grades: the gold patch, the empty patch and a patch that does not apply, graded by the
real grader on synthesized toolz tasks; the graded fraction, shaping terms and the infrastructure mask."""

from __future__ import annotations

import pytest

from codekiln.agents.records import Step, Trajectory
from codekiln.envs import EnvRecord
from codekiln.grading import GradeResult, grade_patch
from codekiln.rewards import Reward, RewardConfig, compute_reward, group_advantages, summarize
from codekiln.tasks.records import TaskRecord

BAD_PATCH = "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n"


def episode(exit_reason: str = "submitted", steps: list[Step] | None = None) -> Trajectory:
    return Trajectory(scaffold="swe", exit_reason=exit_reason, steps=steps or [])  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def grades(tasks: list[TaskRecord], env: EnvRecord) -> dict[str, GradeResult]:
    task = tasks[0]
    return {
        "gold": grade_patch(task, env, task.patch),
        "empty": grade_patch(task, env, ""),
        "bad": grade_patch(task, env, BAD_PATCH),
    }


def test_gold_patch_earns_full_reward(tasks: list[TaskRecord], grades: dict[str, GradeResult]) -> None:
    task = tasks[0]
    r = compute_reward(episode(), grades["gold"], task)
    assert (r.value, r.resolved, r.graded, r.masked, r.finished) == (1.0, True, 1.0, False, True)
    assert (r.f2p_passed, r.f2p_total) == (len(task.FAIL_TO_PASS), len(task.FAIL_TO_PASS))
    assert (r.p2p_passed, r.p2p_total) == (len(task.PASS_TO_PASS), len(task.PASS_TO_PASS))


def test_empty_patch_scores_zero_and_keeps_pass_to_pass(
    tasks: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    task = tasks[0]
    r = compute_reward(episode(), grades["empty"], task, RewardConfig(outcome="graded"))
    assert (r.value, r.resolved, r.graded, r.masked, r.f2p_passed) == (0.0, False, 0.0, False, 0)
    assert r.p2p_passed == len(task.PASS_TO_PASS) and r.outcome == "unresolved"


def test_patch_that_does_not_apply_is_the_agents_zero(
    tasks: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    r = compute_reward(episode(), grades["bad"], tasks[0])
    assert grades["bad"].outcome == "patch_failed"
    assert (r.value, r.masked, r.graded, r.outcome) == (0.0, False, 0.0, "patch_failed")


def test_unfinished_episode_gets_the_penalty(tasks: list[TaskRecord], grades: dict[str, GradeResult]) -> None:
    r = compute_reward(episode("max_turns"), grades["gold"], tasks[0])
    assert (r.value, r.finished, r.unfinished_penalty, r.resolved) == (0.5, False, -0.5, True)
    r = compute_reward(
        episode("format_errors"), grades["empty"], tasks[0], RewardConfig(unfinished_penalty=-0.25)
    )
    assert r.value == -0.25


def test_graded_is_the_product_of_the_two_fractions(tasks: list[TaskRecord]) -> None:
    task = tasks[0].model_copy(update={"FAIL_TO_PASS": ["a", "b"], "PASS_TO_PASS": ["c", "d", "e", "f"]})
    statuses = {"a": "passed", "b": "failed", "c": "passed", "d": "passed", "e": "passed", "f": "error"}
    grade = GradeResult(instance_id=task.instance_id, outcome="unresolved", statuses=statuses)
    r = compute_reward(episode(), grade, task, RewardConfig(outcome="graded"))
    assert r.graded == pytest.approx(0.5 * 0.75) and r.value == pytest.approx(0.375) and not r.resolved


def test_infrastructure_failures_are_masked_never_zero(
    tasks: list[TaskRecord], grades: dict[str, GradeResult]
) -> None:
    task = tasks[0]
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
    tasks: list[TaskRecord], grades: dict[str, GradeResult]
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
    r = compute_reward(episode(steps=steps), grades["gold"], tasks[0], RewardConfig(format_penalty=-0.2))
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
