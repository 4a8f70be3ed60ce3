"""The thirteenth red team: an honest fix beside what an agent leaves in its workspace. An agent that
dumps a debug pickle, writes a binary scratch file or makes its `repro.sh` executable, then fixes the
bug, scored 0: the patch was `rejected` ("binary content", "creates an executable file") though each
such file is not Python source and no part of the fix, so the grader puts it back (deletes it) before
a test runs. What a put-back file holds now rejects nothing (`pathrules.put_back`); its kind (a link, a
compiled artefact, git metadata) and a changed mode of a snapshot's file still do. Likewise a scratch
module named like an installed one (`trace.py`, `code.py` at the root, which the rule against modules
hiding installed ones rejected) is put back now, with its finding: no fix needs one."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import library_tasks
from test_redteam12_support import CHECKS, LIBRARY

from codekiln.audit.grader import play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.grading.pathrules import DATA, SHADOWS, Rules, put_back, reject_reason
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

TIMEOUT = 30.0
LEFTOVERS = [
    "python -c \"open('debug.bin', 'wb').write(bytes(range(256)))\"",
    "python -c \"import pickle; pickle.dump({'a': [1.5, 2]}, open('unitlib/state.pkl', 'wb'))\"",
    "printf '#!/bin/sh\\npython -c pass\\n' > repro.sh && chmod +x repro.sh",  # no mode in its patch
]
SCRATCH = {"debug.bin", "unitlib/state.pkl", "repro.sh"}
# A prediction carries the mode: SWE-bench patches often add an executable reproduction script.
SCRIPT = "diff --git a/repro.sh b/repro.sh\nnew file mode 100755\n--- /dev/null\n+++ b/repro.sh\n@@ -0,0 +1,2 @@\n+#!/bin/sh\n+python -c pass\n"


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    for t, e in library_tasks(LIBRARY, "unit-library", "audit-tasks-unitlib", 3):
        if CHECKS not in patch_paths(t.bug_patch):
            return t, e
    raise AssertionError("no task synthesized from the unittest library")


@pytest.mark.root  # synthesis, a scripted agent and grading in bwrap sandboxes
def test_an_honest_fix_beside_scratch_files_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    patch = play_commands(t, env, [*LEFTOVERS, apply_command(t.patch)], backend=DEFAULT_BACKEND)
    assert patch_paths(patch) >= SCRATCH
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("resolved", True), grade.detail  # was rejected
    reverted = {f["path"] for f in grade.findings if f["kind"] == "reverted" and f["detail"] == DATA}
    assert reverted == SCRATCH
    # the same files with no fix: the bug stands, and they change nothing
    alone = grade_patch(t, env, play_commands(t, env, LEFTOVERS, backend=DEFAULT_BACKEND), timeout=TIMEOUT)
    assert (alone.outcome, alone.resolved) == ("unresolved", False), alone.detail


@pytest.mark.root  # synthesis and grading in bwrap sandboxes
def test_a_prediction_adding_an_executable_script_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, t.patch + SCRIPT, timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("resolved", True), grade.detail  # was rejected
    assert {"kind": "reverted", "path": "repro.sh", "detail": DATA} in grade.findings
    assert grade_patch(t, env, SCRIPT, timeout=TIMEOUT).outcome == "unresolved"


@pytest.mark.root
def test_an_honest_fix_beside_a_scratch_module_named_like_an_installed_one_resolves(
    task: tuple[TaskRecord, EnvRecord],
) -> None:
    t, env = task
    scratch = Target.of(t, Path(env.snapshot_path)).new(
        "trace.py", "from unitlib import mean\nprint(mean([1, 2]))\n"
    )
    grade = grade_patch(t, env, t.patch + scratch, timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("resolved", True), grade.detail  # was rejected
    assert {"kind": "shadows_module", "path": "trace.py", "detail": "trace"} in grade.findings
    assert {"kind": "reverted", "path": "trace.py", "detail": SHADOWS} in grade.findings


def test_what_a_put_back_file_holds_rejects_nothing_but_its_kind_does() -> None:
    rules, fixed = Rules(), {"pkg/core.py"}
    blob = bytes(range(256))
    assert (
        put_back("debug.bin", fixed) and put_back("tests/test_x.py", fixed) and put_back("conftest.py", fixed)
    )
    assert not put_back("pkg/core.py", fixed) and not put_back("pkg/new.py", fixed)
    assert not put_back("pkg/logo.png", {"pkg/logo.png"})  # the fix's own file is judged
    for rel in ("debug.bin", "pkg/state.pkl"):
        assert reject_reason(rel, "file", blob, True, None, rules, put_back(rel, fixed)) is None
        assert reject_reason(rel, "file", blob, False, None, rules) == f"{rel}: binary content"
    # a Python file the fix may keep is judged as before
    assert (
        reject_reason("pkg/new.py", "file", blob, False, None, rules, False) == "pkg/new.py: binary content"
    )
    # kinds and modes are judged whatever happens to the content
    assert (
        reject_reason("pkg/_x.so", "file", blob, False, None, rules, True)
        == "pkg/_x.so: adds a compiled artefact"
    )
    assert (
        reject_reason("docs/a.txt", "symlink", None, False, None, rules, True)
        == "docs/a.txt: creates a symbolic link"
    )
    assert (
        reject_reason("data.txt", "file", b"x", True, False, rules, True)
        == "data.txt: changes the file's mode"
    )
