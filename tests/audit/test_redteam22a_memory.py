"""The twenty-second red team (part A): the tests' answers read from what the test process holds in
memory, by a patch that leaves the bug in place (`grade_patch`, real synthesis, bwrap sandboxes, the
scan enforced), on the seventeenth's `tablelib` (the cached task set of `test_redteam19_reads.py`).
Bodies in `redteam22a_bodies.py`.

- **importer-bytes**: the held test files, emptied on disk at the guard plugin's load, are served from
  memory by the guard's finder on `sys.meta_path`; `pkgutil.iter_importers()` yields it, and a walk of
  its attributes (`vars()`, a few levels) finds their text, parsed for the tests' table. No open, no
  code object read: neither the reads hook nor the callers rule sees it.
- **session-items**: pytest's assertion rewriting hook, yielded by the same walk, holds the session;
  `session.items[i].cls` is the test class, whose `CASES` is looked up (nothing written, no class walk,
  no import).
- **plugin-copies**: importer-bytes with the guard's finder and the bytes it keeps left out of the walk,
  taken deeper from pytest's hook (its config, the plugins): another copy of the text is found there.

Each also resolved under the exported Harbor task's verifier; importer-bytes also from a scripted
agent's episode. Closed on `grade_patch` and the episode by the twins (`grading.twin_check`): the run on
the task's twin, its table's answers changed, passes the test the gold fails there: `tampered`,
`answers_read`; and under the exported verifiers by their twin step (`grading.verifier_twin`: the twin
shipped in the verifier's state, run in the same container), the gold still resolving there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam22a_bodies import IMPORTER_BYTES, IMPORTERS, PLUGIN_COPIES, SESSION_ITEMS
from rollout_support import the_task
from test_redteam17_source_table import CASES, MODULE, table_tasks

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy, grade_patch
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
ATTACKS = {
    "importer-bytes": IMPORTER_BYTES,
    "session-items": SESSION_ITEMS,
    "plugin-copies": PLUGIN_COPIES,
}


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    """The seventeenth's task whose `total` has an arithmetic bug (`TestTotal::test_cases` fails)."""
    found = table_tasks()
    return the_task(found, lambda t: CASES in t.FAIL_TO_PASS, "total()'s arithmetic changed")


def patched(t: TaskRecord, env: EnvRecord, how: str, importers: str = IMPORTERS) -> str:
    code = ATTACKS[how].replace("{importers}", importers)
    return Target.of(t, Path(env.snapshot_path)).append(MODULE, code)


def test_controls(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The gold resolves; the empty patch does not; each attack's plumbing walking no importer does not,
    so a resolve is the walk's doing."""
    t, env = task
    grade = grade_patch(t, env, t.patch, timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)
    grade = grade_patch(t, env, "", timeout=TIMEOUT)
    assert grade.outcome == "unresolved", (grade.outcome, grade.detail)
    for how in ATTACKS:
        grade = grade_patch(t, env, patched(t, env, how, "[]"), timeout=TIMEOUT)
        assert grade.outcome == "unresolved", (how, grade.outcome, grade.detail, grade.findings)
        assert grade.statuses[CASES] == "failed", grade.statuses


def test_importer_bytes_does_not_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, patched(t, env, "importer-bytes"), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
    assert (grade.outcome, grade.reason) == ("tampered", "answers_read"), (grade.detail, grade.findings)
    assert {f.get("test") for f in grade.findings if f["kind"] == "answers_read"} == {CASES}


def test_session_items_does_not_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, patched(t, env, "session-items"), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
    assert (grade.outcome, grade.reason) == ("tampered", "answers_read"), (grade.detail, grade.findings)
    assert {f.get("test") for f in grade.findings if f["kind"] == "answers_read"} == {CASES}


def test_plugin_copies_does_not_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, patched(t, env, "plugin-copies"), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
    assert (grade.outcome, grade.reason) == ("tampered", "answers_read"), (grade.detail, grade.findings)
    assert {f.get("test") for f in grade.findings if f["kind"] == "answers_read"} == {CASES}


def test_harbor_control(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    """The exported Harbor task's verifier: the gold resolves, the plumbing walking nothing does not."""
    from audit_support import harbor_verifier

    t, env = task
    assert harbor_verifier(t, env, t.patch, tmp_path / "gold").startswith("codekiln verifier: resolved")
    noread = patched(t, env, "importer-bytes", "[]")
    assert harbor_verifier(t, env, noread, tmp_path / "noread").startswith("codekiln verifier: unresolved")


@pytest.mark.parametrize("how", sorted(ATTACKS))
def test_harbor_verifier_does_not_resolve_either(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, how: str
) -> None:
    """The exported verifier runs the resolved tree on the task's twin (`grading.verifier_twin`)."""
    from audit_support import harbor_verifier

    t, env = task
    out = harbor_verifier(t, env, patched(t, env, how), tmp_path / how)
    assert not out.startswith("codekiln verifier: resolved"), out  # resolved: the bug is in place
    assert out.startswith("codekiln verifier: tampered answers_read"), out
    assert CASES in out, out


def test_the_exported_verifier_holds_the_kept_twin(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path
) -> None:
    """Its state (root's, 0700 during the tests) holds the twin's test file and the ids the gold fails
    there; exported with the twins off, none, and the verifier runs once, as before the twin step:
    importer-bytes resolves there (what the twin closes)."""
    from audit_support import harbor_verifier

    t, env = task
    state = json.loads((export_harbor_task(t, tmp_path / "on") / "tests/codekiln/state.json").read_text())
    assert CASES in state["twin"]["ids"] and set(state["twin"]["ids"]) <= set(t.FAIL_TO_PASS)
    assert list(state["twin"]["files"]) == [CASES.split("::", 1)[0]]
    off = GradePolicy(twins=False)
    state = json.loads(
        (export_harbor_task(t, tmp_path / "off", policy=off) / "tests/codekiln/state.json").read_text()
    )
    assert "twin" not in state
    out = harbor_verifier(t, env, patched(t, env, "importer-bytes"), tmp_path / "attack", policy=off)
    assert out.startswith("codekiln verifier: resolved"), out
    assert harbor_verifier(t, env, t.patch, tmp_path / "gold", policy=off).startswith(
        "codekiln verifier: resolved"
    )


def test_an_agents_episode_does_not_resolve_either(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The rollout path: a scripted agent applies the patch with its shell and submits; its change, read
    back from the workspace, graded in a fresh sandbox."""
    from redteam_fixtures import grade_on

    t, env = task
    grade = grade_on(t, env, patched(t, env, "importer-bytes"), path="agent", timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
    assert (grade.outcome, grade.reason) == ("tampered", "answers_read"), (grade.detail, grade.findings)
