"""Which valid tasks are worth keeping, and how much of each decision to store: the difficulty
filters, balancing, the difficulty mix, and compact records. Pure functions of records, no I/O.

    flt = TaskFilter(max_f2p_share=0.5, balance="mutator")    # import breakage dropped by default
    screen(task, flt)                  # None, or (RejectReason.import_breakage, "why") for one to drop
    kept = select_tasks(tasks, flt, limit=100)   # screened, then balanced across mutators
    mix(tasks)                         # {"level": {"easy": 3, ...}, "f2p_share": {...}, ...}
    compact(decision)                  # what synth writes: statuses trimmed to what decided it
    details_row(decision)              # the full statuses, for the side file (`synth --details`)

A task's features live on its record (`TaskRecord.difficulty`: F2P count and share of the selected
tests, import breakage, lines changed, files touched; `mutators` and `source` say how it was made).
`codekiln synth` screens each validated task as it is decided (a dropped task is a rejection with its
own reason, counted in the funnel) and balances with per-group quotas; `codekiln tasks export`
screens and balances what it exports.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import BaseModel, Field

from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord, Validation

BalanceKey = Literal["mutator", "level", "source", "files"]
KEEP_TESTS = 10
"""How many deciding tests a compact rejection keeps statuses for."""
SHARE_BINS = ((0.1, "<=10%"), (0.25, "<=25%"), (0.5, "<=50%"), (0.99, "<100%"), (math.inf, "100%"))


class TaskFilter(BaseModel):
    """Which valid tasks to keep, and how to balance them."""

    allow_import_breakage: bool = Field(
        default=False, description="keep tasks whose bug breaks the package at import (dropped by default)"
    )
    max_f2p_share: float | None = Field(
        default=None, ge=0.0, le=1.0, description="drop tasks failing more than this share of their tests"
    )
    balance: BalanceKey | None = Field(
        default=None, description="spread the tasks evenly across the values of this feature"
    )


def group_of(task: TaskRecord, by: BalanceKey) -> str:
    """The value of feature `by` a task is balanced on (a combination of mutators is its own group)."""
    if by == "mutator":
        return "+".join(task.mutators) or "-"
    if by == "level":
        return task.difficulty.level if task.difficulty else "-"
    if by == "files":
        return str(task.difficulty.files_changed) if task.difficulty else "-"
    return str(task.source.value)


def screen(task: TaskRecord, flt: TaskFilter) -> tuple[RejectReason, str] | None:
    """Why a valid task is dropped by the filter (None: kept)."""
    d = task.difficulty
    if d is None:
        return None
    if d.import_breakage and not flt.allow_import_breakage:
        return (
            RejectReason.import_breakage,
            f"the bug breaks the package at import: all {d.n_selected} selected tests fail to collect "
            "(--allow-import-breakage keeps such tasks)",
        )
    if flt.max_f2p_share is not None and d.f2p_share > flt.max_f2p_share:
        return (
            RejectReason.f2p_share,
            f"{d.n_fail_to_pass} of {d.n_selected} selected tests fail ({d.f2p_share:.0%}), "
            f"more than --max-f2p-share {flt.max_f2p_share:g}",
        )
    return None


def dropped(task: TaskRecord, reason: RejectReason, detail: str) -> RejectedCandidate:
    """A valid task the filter drops, as the rejection synth records (its evidence compacted)."""
    return RejectedCandidate(
        candidate_id=task.candidate_id or task.instance_id,
        repo=task.repo,
        base_commit=task.base_commit,
        reason=reason,
        detail=detail,
        mutators=task.mutators,
        entities=task.entities,
        validation=task.validation.model_copy(deep=True) if task.validation else None,
    )


def balance(tasks: list[TaskRecord], by: BalanceKey, limit: int | None = None) -> list[TaskRecord]:
    """The tasks spread evenly across the groups of `by`, each group in its given order: with `limit`,
    round-robin across the groups until `limit` tasks (groups that run out leave their turn to the
    others); without, every group cut to the size of the smallest. Result in the input order."""
    groups: dict[str, list[int]] = {}
    for i, task in enumerate(tasks):
        groups.setdefault(group_of(task, by), []).append(i)
    if not groups:
        return []
    if limit is None:
        size = min(len(g) for g in groups.values())
        keep = {i for g in groups.values() for i in g[:size]}
    else:
        keep, depth = set(), 0
        while len(keep) < limit and any(depth < len(g) for g in groups.values()):
            for g in groups.values():
                if depth < len(g) and len(keep) < limit:
                    keep.add(g[depth])
            depth += 1
    return [t for i, t in enumerate(tasks) if i in keep]


def select_tasks(tasks: list[TaskRecord], flt: TaskFilter, limit: int | None = None) -> list[TaskRecord]:
    """The tasks `screen` keeps, balanced by `flt.balance` (if set), at most `limit` of them."""
    kept = [t for t in tasks if screen(t, flt) is None]
    if flt.balance is not None:
        return balance(kept, flt.balance, limit)
    return kept if limit is None else kept[:limit]


def quota(max_tasks: int, n_groups: int) -> int:
    """Tasks per group when synth balances `max_tasks` over `n_groups` groups."""
    return max(1, math.ceil(max_tasks / max(1, n_groups)))


def share_bin(share: float) -> str:
    return next(label for top, label in SHARE_BINS if share <= top)


def mix(tasks: Iterable[TaskRecord]) -> dict[str, dict[str, int]]:
    """The difficulty mix: per feature, how many tasks have each value (shares binned)."""
    out: dict[str, Counter[str]] = {
        k: Counter() for k in ("level", "f2p_share", "import_breakage", "files", "mutator")
    }
    for task in tasks:
        d = task.difficulty
        out["mutator"][group_of(task, "mutator")] += 1
        if d is None:
            continue
        out["level"][d.level] += 1
        out["f2p_share"][share_bin(d.f2p_share)] += 1
        out["import_breakage"]["yes" if d.import_breakage else "no"] += 1
        out["files"][str(d.files_changed)] += 1
    order = {label: i for i, (_, label) in enumerate(SHARE_BINS)} | {"easy": 0, "medium": 1, "hard": 2}
    return {k: dict(sorted(c.items(), key=lambda kv: (order.get(kv[0], 9), kv[0]))) for k, c in out.items()}


# -- compact records ---------------------------------------------------------------------------------
def _counts(v: Validation) -> dict[str, dict[str, int]]:
    if v.trimmed:
        return v.counts
    sides = {"before": v.before, "after": v.after, "gold": v.gold}
    return {side: dict(Counter(statuses.values())) for side, statuses in sides.items() if statuses}


def _deciding(v: Validation) -> list[str]:
    """The tests that decided a rejection: the flaky ones, then those failing with the bug, then those
    failing on the clean side, at most `KEEP_TESTS`."""
    seen: dict[str, None] = dict.fromkeys(v.flaky)
    seen.update(dict.fromkeys(t for t, s in v.after.items() if s != "passed"))
    seen.update(dict.fromkeys(t for t, s in v.gold.items() if s != "passed"))
    return list(seen)[:KEEP_TESTS]


def compact_validation(v: Validation, keep: list[str]) -> Validation:
    """`v` with its status maps cut to the tests in `keep` (and `counts`, `selected` kept)."""
    if v.trimmed:
        return v
    return v.model_copy(
        update={
            "before": {t: v.before[t] for t in keep if t in v.before},
            "after": {t: v.after[t] for t in keep if t in v.after},
            "gold": {t: v.gold[t] for t in keep if t in v.gold},
            "flaky": v.flaky[:KEEP_TESTS],
            "selected": v.selected or len(v.after),
            "counts": _counts(v),
            "trimmed": True,
        }
    )


def compact(decision: TaskRecord | RejectedCandidate) -> TaskRecord | RejectedCandidate:
    """What synth stores: a task keeps `after` for its FAIL_TO_PASS tests (what graders and reports
    read), a rejection the statuses of the tests that decided it; both keep counts per status."""
    v = decision.validation
    if v is None:
        return decision
    if isinstance(decision, RejectedCandidate):
        return decision.model_copy(update={"validation": compact_validation(v, _deciding(v))})
    small = compact_validation(v, decision.FAIL_TO_PASS)
    if not v.trimmed:  # every selected test passed before and with the gold patch: counts say so
        small = small.model_copy(update={"before": {}, "gold": {}})
    return decision.model_copy(update={"validation": small})


def details_row(decision: TaskRecord | RejectedCandidate) -> dict[str, Any] | None:
    """The full run details of a decision for the side file (None when it has none or they are trimmed)."""
    v = decision.validation
    if v is None or v.trimmed:
        return None
    row: dict[str, Any] = {"candidate_id": decision.candidate_id}
    if isinstance(decision, TaskRecord):
        row["instance_id"] = decision.instance_id
    row["validation"] = v.model_dump(mode="json")
    return row
