"""The twenty-second red team's (part A) attacks (`test_redteam22a_memory.py`) under the exported
SWE-bench row's harness steps as real root (`git apply`, `/bin/bash /eval.sh`): each resolves there too,
with the bug in place; the gold resolves and the plumbing walking no importer does not."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_redteam22a_memory import ATTACKS, patched, task

from codekiln.envs import EnvRecord
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and the row's steps in bwrap sandboxes

__all__ = ["task"]  # the memory file's module fixture: the seventeenth's task, `total`'s bug


@pytest.fixture(scope="module")
def rows(task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bool]:
    """Each patch run through the row's harness steps: resolved?"""
    from test_verifier_isolation import row_trials

    t, env = task
    patches = {"gold": t.patch, "noread": patched(t, env, "importer-bytes", "[]")}
    patches.update({how: patched(t, env, how) for how in ATTACKS})
    trials = row_trials(t, env, patches, tmp_path_factory.mktemp("row"))
    return {name: bool(report["resolved"]) for name, report in trials.items()}


def test_row_controls(rows: dict[str, bool]) -> None:
    assert rows["gold"]
    assert not rows["noread"]


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="open: the exported row has no twins yet (closed under the grader)",
)
@pytest.mark.parametrize("how", sorted(ATTACKS))
def test_row_does_not_resolve_either(rows: dict[str, bool], how: str) -> None:
    assert not rows[how]  # resolved: the bug is in place
