"""The twenty-second red team's (part A) attacks (`test_redteam22a_memory.py`) under the exported
SWE-bench row's harness steps as real root (`git apply`, `/bin/bash /eval.sh`): each resolved there too,
with the bug in place, until the row's verifier ran a resolved tree on the task's twin
(`grading.verifier_twin`): now every status line reads FAILED with the guard's `answers_read`; the gold
resolves and the plumbing walking no importer does not."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_redteam22a_memory import ATTACKS, patched, task

from codekiln.envs import EnvRecord
from codekiln.grading.unstable_ids import blank
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and the row's steps in bwrap sandboxes

__all__ = ["task"]  # the memory file's module fixture: the seventeenth's task, `total`'s bug


@pytest.fixture(scope="module")
def rows(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """Each patch run through the row's harness steps: swebench's report, by name."""
    from test_verifier_isolation import row_trials

    t, env = task
    patches = {"gold": t.patch, "noread": patched(t, env, "importer-bytes", "[]")}
    patches.update({how: patched(t, env, how) for how in ATTACKS})
    return row_trials(t, env, patches, tmp_path_factory.mktemp("row"))


def test_row_controls(rows: dict[str, dict[str, Any]]) -> None:
    assert rows["gold"]["resolved"], rows["gold"]["log"][-3000:]
    assert not rows["noread"]["resolved"]
    assert "codekiln guard: unresolved" in rows["noread"]["log"]


@pytest.mark.parametrize("how", sorted(ATTACKS))
def test_row_does_not_resolve_either(
    task: tuple[TaskRecord, EnvRecord], rows: dict[str, dict[str, Any]], how: str
) -> None:
    t, _ = task
    report = rows[how]
    assert not report["resolved"], report["log"][-3000:]  # resolved: the bug is in place
    assert "codekiln guard: tampered answers_read" in report["log"], report["log"][-3000:]
    assert set(report["status_map"].values()) == {"FAILED"}, report["status_map"]
    assert set(report["status_map"]) == {blank(test) for test in t.tests}
