"""Rewards from a graded episode: the outcome (`resolved`, `graded`), shaping terms, and the mask.

    reward = compute_reward(trajectory, grade, task)           # Reward record
    reward.value, reward.resolved, reward.graded, reward.masked
    reward.format_penalties                                    # [(step, char span, token span, penalty)]

- `resolved`: SWE-bench semantics, every FAIL_TO_PASS and PASS_TO_PASS test passes (the grader's verdict).
- `graded`: the fraction of FAIL_TO_PASS tests that pass times the fraction of PASS_TO_PASS tests kept
  passing (1.0 for an empty list), a denser signal than `resolved`.
- `value`: the outcome term (`RewardConfig.outcome`: resolved as 1/0, or graded) plus
  `unfinished_penalty` (-0.5, as in the report) when the agent never submitted (turn limit, token limit,
  wall time, too many format errors).
- `format_penalties`: one entry per turn whose output broke the chat format or the scaffold's rules,
  carrying the span of that turn's completion (characters of the raw text and, when the backend gave
  token ids, the completion-token indices) so training can put `format_penalty` on those tokens only.
  They are not added to `value`: they are token-level terms.
- `masked`: the episode says nothing about the model because the machinery failed (the model server or the
  sandbox broke during the episode, the grader could not run the tests). Masked episodes have `value`
  None: they must be left out of training and of success rates, never counted as a 0.

A patch that does not apply, a rejected or tampered patch, a test run the patch broke and a test run
that times out are the agent's doing (SWE-bench scores them as unresolved), so they are scored 0, never
masked: only the grader's `error` (the harness failed on its own) masks an episode.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from codekiln.agents.records import Trajectory
from codekiln.core.records import Record
from codekiln.grading import GradeResult
from codekiln.tasks.records import TaskRecord

INFRA_EXITS = frozenset({"model_error", "sandbox_error"})
INFRA_OUTCOMES = frozenset({"error"})


class RewardConfig(BaseModel):
    """How an episode is scored."""

    outcome: Literal["resolved", "graded"] = "resolved"
    """The outcome term of `value`: resolved (1/0) or graded (f2p fraction x p2p fraction)."""
    unfinished_penalty: float = -0.5
    """Added to `value` when the agent never submitted."""
    format_penalty: float = -1.0
    """Per-token penalty on the completion tokens of a turn that broke the format (not added to `value`)."""


class FormatPenalty(BaseModel):
    """A token-level penalty on one turn's completion."""

    step: int
    """Index of the step (`Trajectory.steps[step]`)."""
    char_span: tuple[int, int]
    """[start, end) in that step's raw output text."""
    token_span: tuple[int, int] | None = None
    """[start, end) in that step's `completion_ids`; None when the backend gave no token ids."""
    penalty: float
    reason: str = ""


class Reward(Record):
    """The score of one episode (see the module docstring)."""

    schema_version: int = 1
    value: float | None
    """The scalar reward; None when `masked`."""
    resolved: bool = False
    graded: float = 0.0
    f2p_passed: int = 0
    f2p_total: int = 0
    p2p_passed: int = 0
    p2p_total: int = 0
    finished: bool = False
    """The agent submitted (rather than running out of turns, tokens or time)."""
    unfinished_penalty: float = 0.0
    format_penalties: list[FormatPenalty] = Field(default_factory=list)
    masked: bool = False
    mask_reason: str = ""
    outcome: str = ""
    """The grader's outcome (resolved, unresolved, patch_failed, rejected, tampered, timeout, error) or
    `not_graded`."""


def fraction_passing(statuses: dict[str, str], tests: list[str]) -> tuple[int, float]:
    """How many of `tests` passed, and that as a fraction (1.0 when there are none)."""
    passed = sum(1 for t in tests if statuses.get(t) == "passed")
    return passed, (passed / len(tests) if tests else 1.0)


def format_penalties(trajectory: Trajectory, penalty: float) -> list[FormatPenalty]:
    """A penalty over the whole completion of every turn with a format (or scaffold-rule) error."""
    out = []
    for step in trajectory.steps:
        if step.parse_error is None:
            continue
        ids = step.completion_ids
        out.append(
            FormatPenalty(
                step=step.index,
                char_span=(0, len(step.raw)),
                token_span=(0, len(ids)) if ids is not None else None,
                penalty=penalty,
                reason=step.parse_error[:300],
            )
        )
    return out


def mask_reason(trajectory: Trajectory | None, grade: GradeResult | None) -> str:
    """Why this episode must be masked, or "" when it can be scored."""
    if trajectory is None:
        return "no trajectory: the episode could not start"
    if trajectory.exit_reason in INFRA_EXITS:
        message = (trajectory.error or {}).get("message") or trajectory.exit_message
        return f"{trajectory.exit_reason}: {message}"[:500]
    if trajectory.exit_reason is None:
        return "the episode did not end"
    if grade is None:
        return "not graded"
    if grade.outcome in INFRA_OUTCOMES:
        return f"grader {grade.outcome}: {grade.detail}"[:500]
    return ""


def compute_reward(
    trajectory: Trajectory | None,
    grade: GradeResult | None,
    task: TaskRecord,
    config: RewardConfig | None = None,
) -> Reward:
    """Score one episode on `task` from its trajectory and the grader's result on its patch."""
    config = config or RewardConfig()
    reason = mask_reason(trajectory, grade)
    outcome = grade.outcome if grade is not None else "not_graded"
    if reason:
        return Reward(value=None, masked=True, mask_reason=reason, outcome=outcome)
    assert trajectory is not None and grade is not None
    f2p_passed, f2p_frac = fraction_passing(grade.statuses, task.FAIL_TO_PASS)
    p2p_passed, p2p_frac = fraction_passing(grade.statuses, task.PASS_TO_PASS)
    scored = grade.outcome in ("resolved", "unresolved")
    graded = f2p_frac * p2p_frac if scored else 0.0
    resolved = bool(grade.resolved)
    finished = trajectory.exit_reason == "submitted"
    penalty = 0.0 if finished else config.unfinished_penalty
    term = (1.0 if resolved else 0.0) if config.outcome == "resolved" else graded
    return Reward(
        value=term + penalty,
        resolved=resolved,
        graded=graded,
        f2p_passed=f2p_passed if scored else 0,
        f2p_total=len(task.FAIL_TO_PASS),
        p2p_passed=p2p_passed if scored else 0,
        p2p_total=len(task.PASS_TO_PASS),
        finished=finished,
        unfinished_penalty=penalty,
        format_penalties=format_penalties(trajectory, config.format_penalty),
        outcome=outcome,
    )


def group_advantages(rewards: list[Reward]) -> list[float | None]:
    """GRPO-style advantages within one group of samples of a task: value minus the group's mean
    over the unmasked samples (None for masked ones; 0.0 for all when fewer than two are unmasked)."""
    values = [r.value for r in rewards if not r.masked and r.value is not None]
    if len(values) < 2:
        return [None if r.masked else 0.0 for r in rewards]
    mean = sum(values) / len(values)
    return [None if r.masked or r.value is None else r.value - mean for r in rewards]


def summarize(rewards: list[Reward]) -> dict[str, Any]:
    """Counts over many episodes: graded (unmasked), resolved, masked, mean value and mean graded."""
    scored = [r for r in rewards if not r.masked]
    n = len(scored)
    return {
        "episodes": len(rewards),
        "graded": n,
        "resolved": sum(r.resolved for r in scored),
        "masked": len(rewards) - n,
        "mean_reward": sum(r.value or 0.0 for r in scored) / n if n else None,
        "mean_graded": sum(r.graded for r in scored) / n if n else None,
        "finished": sum(r.finished for r in scored),
    }
