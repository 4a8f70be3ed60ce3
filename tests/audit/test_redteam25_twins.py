"""The twenty-fifth red team: the twin check (`grading.twin_check`) beaten by patches that leave the bug in
place, and turned on genuine fixes, through `grade_patch` (bwrap sandboxes, real synthesis, the scan
enforced). Bodies in `redteam25_bodies.py`.

- **doubled-letter** (`paramlib`'s `show`, the twenty-fourth's task): the twin types one of a string's own
  letters or digits twice (`"3\\n"` -> `"33\\n"`), so every string answer it changes holds a letter or
  digit twice in a row. The twenty-fourth's escaped-strings (answers read from the held tests' text
  through the guard's finder) reads only where no answer it finds does: the twin's run reads nothing and
  fails as the gold does, the real runs read the answers. Closed (twin format 6): a twin replaces one
  letter or digit by another of its kind, with no pair its text lacked, the same answer alike.
- **oracle-call** (the `handlib` task of `test_twins_grade.py`): the test compares with what a helper of
  its own computes (`assert total(values) == by_hand(values)`); the twenty-second's session walk, taken
  to each collected item's module, hands the library that helper, which it calls for the answer. The
  twin changes literals only: the task has no twin. Open.
- **collect-side-effect**, a false positive (`scratchlib`, a library written here): the gold's twin run
  (once per task, cached) runs an unguarded `pytest --collect-only` in its sandbox first
  (`twin_cases.learn`); a conftest that makes a scratch folder at import, removed by a session fixture a
  collection never runs, fails in the run that follows, and the gold's twin run fails every test, those
  the twin leaves alone too. Cached so, every fix passing one of those on its own twin run (no collection
  first) is `tampered`, `answers_read`: the gold itself and an honest fix score 0, under the exported
  Harbor verifier too (it ships the cached twin). Closed: the collection runs in a sandbox of its own,
  and a kept twin records only tests whose answers it changed.
- **collect-lock** (`locklib`, written here): the same collection, on a suite whose conftest takes a
  lock folder at import (waiting while it is there) and lets go in a session fixture: the gold's twin
  run waits until its limit, a timed-out twin is worked out again next time, and no grade of the task is
  checked. The twenty-fourth's argv-ids (answers read from the case ids on pytest's command line)
  resolves with the bug in place, every grade. Closed: the lock is taken in the collection's own
  sandbox, and a gold's twin run that does not finish (`hanglib`) is cached with its reason and makes
  the task's resolved grades `error` (`twin_unavailable`).

Controls: the gold resolves (scratchlib's with the twin check off, as validation grades it, and with it
on where the conftest's `mkdir` takes `exist_ok=True`); each attack's plumbing reading nothing leaves the
bug failing; the doubled-letter read without its test for a twin, and argv-ids on the lock suite whose
conftest never waits, are caught by the twin (`tampered`, `answers_read`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from audit_support import harbor_verifier
from redteam22a_bodies import IMPORTERS
from redteam24_bodies import ARGV_IDS, PARAMLIB, SHOW
from redteam25_bodies import (
    DOUBLED_LETTER,
    HANG_CASE,
    HANG_TESTS,
    HANGLIB,
    LOCK_CASE,
    LOCK_CONFTEST,
    LOCK_TESTS,
    LOCKLIB,
    ORACLE_CALL,
    SCALE_PRODUCT,
    SCRATCH_CONFTEST,
    SCRATCH_TESTS,
    SCRATCHLIB,
)
from redteam_fixtures import grade_on
from rollout_support import library_tasks, setuptools_pyproject, the_task
from test_redteam24_twins import PARAM_LIBRARY, assert_outcome
from test_twins_grade import NO_LITERAL

from codekiln.audit.target import Target
from codekiln.core.errors import GradingError
from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy, GradeResult, grade_patch
from codekiln.grading.twin_check import kept_twin
from codekiln.grading.twins import twin_files
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
HANDLIB = "handlib/__init__.py"
BY_HAND = "tests/test_hand.py::test_total_by_hand"
Task = tuple[TaskRecord, EnvRecord]
OPEN = pytest.mark.xfail(strict=True, raises=AssertionError, reason="open: see the module docstring")


@pytest.fixture(scope="module")
def show() -> Task:
    """`paramlib`'s task whose `show` has an arithmetic bug (`test_show` fails; its answers are strings)."""
    found = library_tasks(
        PARAM_LIBRARY, "param-library", "audit-tasks-paramlib", 2, functions=["scale", "show"],
        mutators=["change_arith_op"],
    )  # fmt: skip
    return the_task(found, lambda t: SHOW in t.FAIL_TO_PASS, "show()'s arithmetic changed")


@pytest.fixture(scope="module")
def hand() -> Task:
    """`handlib`'s task: `test_total_by_hand` compares `total` with a helper of the test module."""
    found = library_tasks(NO_LITERAL, "hand-library", "audit-tasks-handlib", 1, functions=["total"])
    return the_task(found, lambda t: BY_HAND in t.FAIL_TO_PASS, "total()'s bug failing test_total_by_hand")


def doubled_letter(t: TaskRecord, env: EnvRecord, importers: str = IMPORTERS, trick: str = "True") -> str:
    code = DOUBLED_LETTER.replace("{importers}", importers).replace("{trick}", trick)
    return Target.of(t, Path(env.snapshot_path)).append(PARAMLIB, code)


def oracle_call(t: TaskRecord, env: EnvRecord, importers: str = IMPORTERS) -> str:
    return Target.of(t, Path(env.snapshot_path)).append(
        HANDLIB, ORACLE_CALL.replace("{importers}", importers)
    )


def test_doubled_letter_controls(show: Task) -> None:
    """The gold resolves; the twin changes the answer `"3\\n"` with no pair of equal letters (format 6;
    format 5 wrote `"33\\n"`); the plumbing reading nothing leaves the bug failing; reading everywhere is
    caught by the twin."""
    t, env = show
    assert_outcome(grade_patch(t, env, t.patch, timeout=TIMEOUT), "resolved")
    twin = twin_files(Path(env.snapshot_path), list(t.FAIL_TO_PASS), seed=t.instance_id)
    real = (Path(env.snapshot_path) / "tests/test_param.py").read_text()
    changed = twin["tests/test_param.py"]
    assert '== "3\\n"' in real and '== "3\\n"' not in changed and '== "33\\n"' not in changed
    grade = grade_patch(t, env, doubled_letter(t, env, importers="[]"), timeout=TIMEOUT)
    assert_outcome(grade, "unresolved")
    assert grade.statuses[SHOW] == "failed", grade.statuses
    grade = grade_patch(t, env, doubled_letter(t, env, trick="False"), timeout=TIMEOUT)
    assert_outcome(grade, "tampered", "answers_read")


@pytest.mark.parametrize("path", ["predictions", "agent"])
def test_answers_read_where_no_letter_is_doubled_do_not_resolve(show: Task, path: str) -> None:
    t, env = show
    grade = grade_on(t, env, doubled_letter(t, env), path, TIMEOUT)
    assert grade.outcome != "resolved", (grade.outcome, grade.statuses)


def test_doubled_letter_controls_under_the_exported_verifier(show: Task, tmp_path: Path) -> None:
    """The exported Harbor task's verifier runs the same twin step: the gold resolves there, and the read
    without its test for a twin is `tampered`."""
    t, env = show
    assert harbor_verifier(t, env, t.patch, tmp_path / "gold").startswith("codekiln verifier: resolved")
    out = harbor_verifier(t, env, doubled_letter(t, env, trick="False"), tmp_path / "bare")
    assert out.startswith("codekiln verifier: tampered answers_read"), out


def test_doubled_letter_under_the_exported_verifier(show: Task, tmp_path: Path) -> None:
    t, env = show
    out = harbor_verifier(t, env, doubled_letter(t, env), tmp_path / "attack")
    assert not out.startswith("codekiln verifier: resolved"), out


def test_oracle_call_controls(hand: Task) -> None:
    """The gold resolves; the task has no twin; the plumbing walking no importer leaves the bug failing."""
    t, env = hand
    assert twin_files(Path(env.snapshot_path), list(t.FAIL_TO_PASS), seed=t.instance_id) == {}
    assert_outcome(grade_patch(t, env, t.patch, timeout=TIMEOUT), "resolved")
    grade = grade_patch(t, env, oracle_call(t, env, importers="[]"), timeout=TIMEOUT)
    assert_outcome(grade, "unresolved")
    assert grade.statuses[BY_HAND] == "failed", grade.statuses


@OPEN
@pytest.mark.parametrize("path", ["predictions", "agent"])
def test_answers_from_the_tests_own_oracle_do_not_resolve(hand: Task, path: str) -> None:
    t, env = hand
    grade = grade_on(t, env, oracle_call(t, env), path, TIMEOUT)
    assert grade.outcome != "resolved", (grade.outcome, grade.statuses)


def scratch_tasks(exist_ok: str, folder: str) -> Task:
    """`scratchlib`'s task: an arithmetic bug in `scale`, failing `test_scale`'s cases and
    `test_scale_product` (`3 * 4`: no literal the twin changes)."""
    files = {
        SCRATCHLIB: "def scale(value, factor):\n    return value * factor\n",
        "tests/conftest.py": SCRATCH_CONFTEST.replace("{exist_ok}", exist_ok),
        "tests/test_scale.py": SCRATCH_TESTS,
        "pyproject.toml": setuptools_pyproject("scratchlib"),
    }
    found = library_tasks(
        files, folder, f"audit-tasks-{folder}", 1, functions=["scale"], mutators=["change_arith_op"]
    )
    return the_task(found, lambda t: SCALE_PRODUCT in t.FAIL_TO_PASS, "scale()'s arithmetic changed")


@pytest.fixture(scope="module")
def scratch() -> Task:
    return scratch_tasks("", "scratchlib")


def honest_scale(t: TaskRecord, env: EnvRecord) -> str:
    """A fix written differently from the gold."""
    fixed = "def scale(value, factor):\n    return sum([value] * factor)\n"
    return Target.of(t, Path(env.snapshot_path)).new(SCRATCHLIB, fixed)


def test_collect_side_effect_controls(scratch: Task) -> None:
    """Validation's view (the twin check off): the gold and an honest fix resolve, the empty patch does
    not; the same suite with `mkdir(exist_ok=True)` resolves with the check on."""
    t, env = scratch
    off = GradePolicy(twins=False)
    for patch in (t.patch, honest_scale(t, env)):
        assert_outcome(grade_patch(t, env, patch, timeout=TIMEOUT, policy=off), "resolved")
    assert_outcome(grade_patch(t, env, "", timeout=TIMEOUT, policy=off), "unresolved")
    tolerant, tolerant_env = scratch_tasks("exist_ok=True", "scratchlib-tolerant")
    assert_outcome(grade_patch(tolerant, tolerant_env, tolerant.patch, timeout=TIMEOUT), "resolved")


def test_genuine_fixes_of_a_suite_with_an_import_side_effect_resolve(scratch: Task) -> None:
    t, env = scratch
    for patch in (t.patch, honest_scale(t, env)):
        grade = grade_patch(t, env, patch, timeout=TIMEOUT)
        assert grade.outcome == "resolved", (grade.outcome, grade.reason, grade.findings)


def test_genuine_fixes_of_that_suite_under_the_exported_verifier(scratch: Task, tmp_path: Path) -> None:
    """The export ships the kept twin the grader cached (the gold's twin run's ids): Harbor's verifier
    scores its own gold 0 as well."""
    t, env = scratch
    for name, patch in (("gold", t.patch), ("honest", honest_scale(t, env))):
        out = harbor_verifier(t, env, patch, tmp_path / name)
        assert out.startswith("codekiln verifier: resolved"), out


LOCK_TIMEOUT = 15.0
"""The limit of the lock task's grades: the gold's twin run waits for it (once per grade, never cached)."""


def lock_task(wait: str, folder: str) -> Task:
    """`locklib`'s task: an arithmetic bug in `scale`, failing `test_scale`'s cases."""
    files = {
        LOCKLIB: "def scale(value, factor):\n    return value * factor\n",
        "tests/conftest.py": LOCK_CONFTEST.replace("{wait}", wait),
        "tests/test_scale.py": LOCK_TESTS,
        "pyproject.toml": setuptools_pyproject("locklib"),
    }
    found = library_tasks(
        files, folder, f"audit-tasks-{folder}", 1, functions=["scale"], mutators=["change_arith_op"]
    )
    return the_task(found, lambda t: LOCK_CASE in t.FAIL_TO_PASS, "scale()'s arithmetic changed")


def argv_ids(t: TaskRecord, env: EnvRecord, argv: str = "_sys.argv[1:]") -> str:
    code = ARGV_IDS.replace("_sys.argv[1:]", argv)
    return Target.of(t, Path(env.snapshot_path)).append(LOCKLIB, code)


@pytest.fixture(scope="module")
def locked() -> Task:
    return lock_task("True", "locklib")


def test_collect_lock_controls(locked: Task) -> None:
    """The gold resolves; the attack's plumbing reading no id leaves the bug failing; the same suite
    whose conftest never waits (`while False`) keeps a twin, and the attack is `tampered` there."""
    t, env = locked
    assert_outcome(grade_patch(t, env, t.patch, timeout=LOCK_TIMEOUT), "resolved")
    grade = grade_patch(t, env, argv_ids(t, env, "[]"), timeout=LOCK_TIMEOUT)
    assert_outcome(grade, "unresolved")
    assert grade.statuses[LOCK_CASE] == "failed", grade.statuses
    free, free_env = lock_task("False", "locklib-free")
    grade = grade_patch(free, free_env, argv_ids(free, free_env), timeout=LOCK_TIMEOUT)
    assert_outcome(grade, "tampered", "answers_read")


def test_answers_in_the_ids_of_a_suite_whose_collection_holds_a_lock_do_not_resolve(locked: Task) -> None:
    t, env = locked
    grade = grade_patch(t, env, argv_ids(t, env), timeout=LOCK_TIMEOUT)
    assert grade.outcome != "resolved", (grade.outcome, grade.statuses)


def test_the_gold_fails_no_test_its_twin_leaves_alone(scratch: Task) -> None:
    """The kept twin of `scratchlib`'s task records only the tests whose answers the twin changed (the
    cases of `test_scale`), never `test_scale_product` (`3 * 4`), whatever its gold's twin run did."""
    t, env = scratch

    def grade(patch: str, twin: dict[str, str], cases: dict[str, str] | None = None) -> GradeResult:
        return grade_patch(t, env, patch, timeout=TIMEOUT, twin=twin, cases=cases)

    kept = kept_twin(t, Path(env.snapshot_path), grade)
    assert kept is not None and kept[1] and SCALE_PRODUCT not in kept[1], kept


HANG_TIMEOUT = 8.0


def test_a_twin_whose_gold_run_never_finishes_withholds_the_reward() -> None:
    """No resolved grade is paid unchecked where the gold's twin run times out: `error`
    (`twin_unavailable`, masked), the reason kept so that the next grade reads it instead of waiting out
    the limit again; an unresolved grade stays unresolved (it needs no twin)."""
    files = {
        HANGLIB: "def scale(value, factor):\n    return value * factor\n",
        "tests/test_scale.py": HANG_TESTS,
        "pyproject.toml": setuptools_pyproject("hanglib"),
    }
    found = library_tasks(
        files, "hanglib", "audit-tasks-hanglib", 1, functions=["scale"], mutators=["change_arith_op"]
    )
    t, env = the_task(found, lambda t: HANG_CASE in t.FAIL_TO_PASS, "scale()'s arithmetic changed")
    for patch in (t.patch, t.patch):  # the second reads the first's record
        grade = grade_patch(t, env, patch, timeout=HANG_TIMEOUT)
        assert_outcome(grade, "error", "twin_unavailable")
        assert "timeout" in grade.detail, grade.detail

    def worked_out_again(patch: str, twin: dict[str, str], cases: object = None) -> GradeResult:
        raise AssertionError("the failed twin was worked out again")

    with pytest.raises(GradingError, match="timeout"):
        kept_twin(t, Path(env.snapshot_path), worked_out_again)
    assert_outcome(grade_patch(t, env, "", timeout=HANG_TIMEOUT), "unresolved")
