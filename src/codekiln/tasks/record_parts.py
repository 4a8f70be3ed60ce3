"""The parts a task record is made of: its difficulty features, the validation evidence it was kept on,
and, for mined tasks, its provenance. `codekiln.tasks.records` (the records themselves) re-exports them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from codekiln.core.diffs import diff_stats


class Difficulty(BaseModel):
    """A task's difficulty features: the size of the fix, how much of the suite notices it, and a rough
    level. What `TaskFilter` (tasks.quality) filters and balances by."""

    files_changed: int
    lines_changed: int
    hunks: int
    n_bugs: int = 1
    n_fail_to_pass: int = 0
    level: Literal["easy", "medium", "hard"] = "easy"
    n_selected: int = 0
    """Tests selected for the task (FAIL_TO_PASS + PASS_TO_PASS)."""
    f2p_share: float = 0.0
    """n_fail_to_pass / n_selected: 1.0 means every selected test fails with the bug."""
    import_breakage: bool = False
    """The bug breaks the package at import: every selected test fails to collect (no test ran)."""

    @classmethod
    def estimate(
        cls,
        patch: str,
        *,
        n_fail_to_pass: int = 0,
        n_bugs: int = 1,
        n_selected: int = 0,
        import_breakage: bool = False,
    ) -> Difficulty:
        """hard: several files, 3+ bugs or 10+ changed lines; medium: 2 bugs, several hunks or 5+
        lines; easy otherwise."""
        files, lines, hunks = diff_stats(patch)
        if files > 1 or n_bugs >= 3 or lines >= 10:
            level: Literal["easy", "medium", "hard"] = "hard"
        elif n_bugs == 2 or hunks > 1 or lines >= 5:
            level = "medium"
        else:
            level = "easy"
        return cls(
            files_changed=files,
            lines_changed=lines,
            hunks=hunks,
            n_bugs=n_bugs,
            n_fail_to_pass=n_fail_to_pass,
            level=level,
            n_selected=n_selected,
            f2p_share=round(n_fail_to_pass / n_selected, 4) if n_selected else 0.0,
            import_breakage=import_breakage,
        )


NOT_COLLECTED = frozenset({"missing", "error"})
"""Statuses of a test that never ran its body: not reported (its module failed to collect) or errored."""


class Validation(BaseModel):
    """The evidence a task was validated on: test statuses per run and how many reruns agreed.

    Written in full while validating; `tasks.quality.compact` trims what is stored (`trimmed`): a task
    keeps `after` for its FAIL_TO_PASS tests (its PASS_TO_PASS passed there, and every test passed
    before and with the gold patch, by construction), a rejection the statuses of the few tests that
    decided it; `counts` keeps how many tests had each status on each side. Full statuses go to the
    side file only when asked for (`codekiln synth --details`)."""

    before: dict[str, str] = {}
    """Test id -> status (passed, failed, error, skipped) on the clean snapshot."""
    after: dict[str, str] = {}
    """... with the bug applied."""
    gold: dict[str, str] = {}
    """... with the bug and then the gold patch applied."""
    reruns: int = 0
    flaky: list[str] = []
    duration_s: float = 0.0
    detail: str = ""
    selected: int = 0
    """How many tests were selected (0 on records written before it was kept: count `after`)."""
    counts: dict[str, dict[str, int]] = {}
    """Side (before, after, gold) -> status -> number of selected tests (kept when maps are trimmed)."""
    trimmed: bool = False
    """The status maps hold only the tests that decided the verdict (see above)."""

    def breaks_import(self, failing: list[str]) -> bool:
        """Whether every selected test failed to collect with the bug: all of them fail, and none ran
        its body (`NOT_COLLECTED`), as when `import package` itself raises."""
        n_selected = self.selected or len(self.after)
        if not failing or not self.after or len(failing) < n_selected:
            return False
        return all(self.after.get(t, "missing") in NOT_COLLECTED for t in failing)


class Provenance(BaseModel):
    """Where a task mined from history (`source: history`) came from."""

    commit: str
    """The change's commit (for a merged pull request, its merge commit)."""
    parent: str
    """The state before the change: the buggy code is this commit's, with the change's tests."""
    author_date: str
    pr: int | None = None
    kind: str = "commit"
    """"merge", "squash" or "commit" (see `tasks.history.walk`)."""
    title: str = ""
    message: str = ""
    statement_source: str = ""
    """Who wrote `problem_statement`: "pr" (title and body), "commit" (its message) or "template"."""
    split: str = ""
    """"train" or "test" under `codekiln mine --split-date`, else empty."""


__all__ = ["NOT_COLLECTED", "Difficulty", "Provenance", "Validation"]
