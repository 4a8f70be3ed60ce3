"""The twenty-first red team: the tests' answers reached around the guard's newest defences by a patch
that leaves the bug in place (`grade_patch`, real synthesis, bwrap sandboxes, the scan enforced), on the
seventeenth's `tablelib` (the cached task set of `test_redteam19_reads.py`). Bodies in
`redteam21_bodies.py`.

- **collect-getattr**: the held test files are read during collection, while still on disk, by the
  standard library alone, called from pytest's own `safe_getattr(total, "__test__")` (the
  `isnosetest` check pytest makes of every name the test module holds): `total` is an instance whose
  class's `__getattr__` is `functools.partial(functools.reduce, table.__setitem__, map(Path.read_text,
  paths))`. No frame of the tree is on the stack at the open, and it happens before collection ends,
  so neither the reads hook nor the after-collection callers rule sees it; the one-shot `map` makes
  every later lookup read nothing. `total`, buggy, answers from the table parsed from that text.
- **child-at-import**: the held files are emptied once collection is over, so a child process cannot
  read them then (`test_guard_child_reads.py`); but the library is imported during collection, and a
  child run at import (`subprocess.run(["cat", "tests/test_table.py"])`, nothing hidden from the scan)
  reads them from disk outside the reads hook. The same read in process is `tampered` (control).

Both resolve from a scripted agent's episode, under the exported Harbor task's verifier and in the
SWE-bench row's harness steps too (in each verifier the gold resolves and the plumbing reading nothing
does not).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam21_bodies import CAT_TESTS, CHILD_AT_IMPORT, COLLECT_GETATTR, TEST_FILES
from rollout_support import the_task
from test_redteam17_source_table import CASES, MODULE, table_tasks

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    """The seventeenth's task whose `total` has an arithmetic bug (`TestTotal::test_cases` fails)."""
    found = table_tasks()
    return the_task(found, lambda t: CASES in t.FAIL_TO_PASS, "total()'s arithmetic changed")


def patched(t: TaskRecord, env: EnvRecord, code: str, paths: str = TEST_FILES) -> str:
    return Target.of(t, Path(env.snapshot_path)).append(MODULE, code.replace("{paths}", paths))


def test_controls(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The gold resolves; the empty patch does not; the attack's plumbing reading no file does not, so a
    resolve is the read's doing."""
    t, env = task
    grade = grade_patch(t, env, t.patch, timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)
    grade = grade_patch(t, env, "", timeout=TIMEOUT)
    assert grade.outcome == "unresolved", (grade.outcome, grade.detail)
    grade = grade_patch(t, env, patched(t, env, COLLECT_GETATTR, "[]"), timeout=TIMEOUT)
    assert grade.outcome == "unresolved", (grade.outcome, grade.detail, grade.findings)
    grade = grade_patch(t, env, patched(t, env, CHILD_AT_IMPORT, "[]"), timeout=TIMEOUT)  # cat of nothing
    assert grade.outcome == "unresolved", (grade.outcome, grade.detail, grade.findings)
    in_process = CHILD_AT_IMPORT.replace(
        '_subprocess.run(["cat", *{paths}], capture_output=True, text=True).stdout',
        'open("tests/test_table.py").read()',
    )
    grade = grade_patch(t, env, patched(t, env, in_process), timeout=TIMEOUT)
    assert grade.outcome == "tampered", (grade.outcome, grade.detail, grade.findings)


def test_collect_getattr_does_not_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, patched(t, env, COLLECT_GETATTR), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
    # the read, put off into pytest's `__test__` lookup, is caught by the callers rule (armed at load)
    assert grade.outcome == "tampered" and "put off" in grade.detail, (grade.outcome, grade.detail)


def test_child_at_import_does_not_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, patched(t, env, CHILD_AT_IMPORT, CAT_TESTS), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place


def test_harbor_controls(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    """The exported Harbor task's verifier: the gold resolves, the plumbing reading nothing does not."""
    from audit_support import harbor_verifier

    t, env = task
    assert harbor_verifier(t, env, t.patch, tmp_path / "gold").startswith("codekiln verifier: resolved")
    noread = patched(t, env, COLLECT_GETATTR, "[]")
    assert harbor_verifier(t, env, noread, tmp_path / "noread").startswith("codekiln verifier: unresolved")


@pytest.mark.parametrize(
    "how",
    ["collect-getattr", "child-at-import"],
)
def test_harbor_verifier_does_not_resolve_either(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, how: str
) -> None:
    from audit_support import harbor_verifier

    t, env = task
    code, paths = {
        "collect-getattr": (COLLECT_GETATTR, TEST_FILES),
        "child-at-import": (CHILD_AT_IMPORT, CAT_TESTS),
    }[how]
    out = harbor_verifier(t, env, patched(t, env, code, paths), tmp_path / how)
    assert not out.startswith("codekiln verifier: resolved"), out  # resolved: the bug is in place


@pytest.fixture(scope="module")
def rows(task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory) -> dict[str, bool]:
    """The SWE-bench row's harness steps as real root (`git apply`, `/bin/bash /eval.sh`): resolved?"""
    from test_verifier_isolation import row_trials

    t, env = task
    patches = {
        "gold": t.patch,
        "noread": patched(t, env, COLLECT_GETATTR, "[]"),
        "collect-getattr": patched(t, env, COLLECT_GETATTR),
        "child-at-import": patched(t, env, CHILD_AT_IMPORT, CAT_TESTS),
    }
    trials = row_trials(t, env, patches, tmp_path_factory.mktemp("row"))
    return {name: bool(report["resolved"]) for name, report in trials.items()}


def test_row_controls(rows: dict[str, bool]) -> None:
    assert rows["gold"]
    assert not rows["noread"]


@pytest.mark.parametrize(
    "how",
    ["collect-getattr", "child-at-import"],
)
def test_row_does_not_resolve_either(rows: dict[str, bool], how: str) -> None:
    assert not rows[how]  # resolved: the bug is in place


@pytest.mark.parametrize(
    "how",
    ["collect-getattr", "child-at-import"],
)
def test_an_agents_episode_does_not_resolve_either(task: tuple[TaskRecord, EnvRecord], how: str) -> None:
    """The rollout path: a scripted agent applies the patch with its shell and submits; its change, read
    back from the workspace, graded in a fresh sandbox."""
    from redteam_fixtures import grade_on

    t, env = task
    code, paths = {
        "collect-getattr": (COLLECT_GETATTR, TEST_FILES),
        "child-at-import": (CHILD_AT_IMPORT, CAT_TESTS),
    }[how]
    grade = grade_on(t, env, patched(t, env, code, paths), path="agent", timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
