"""The twenty-fourth red team: the twin check (`grading.twin_check`) beaten by patches that leave the bug in
place, through `grade_patch` (bwrap sandboxes, real synthesis). Bodies in `redteam24_bodies.py`.

- **page-cache-mark** (the seventeenth's `tablelib`, the task of `test_redteam23_twins.py`): the
  twenty-second's importer-bytes, made in every run but the one the library takes for the twin's. Each
  run has a sandbox of its own, but every sandbox reads the host's /usr through one page cache: a read
  with RWF_NOWAIT says whether a manual page is cached, and caches it, so a run learns its place among
  the grade's runs. Bounded since by the order of the twin check's runs (the real one, then the twin's
  and the real rerun in a random order, `GradePolicy.twin_order`): the mark guessing the twin's run is
  the second, the attack is `tampered` when the twin's run comes last and resolves when it comes second,
  half the grades under the random order (the bound, asserted here under each order fixed).
- **argv-ids** (`paramlib`, a library written here): a `parametrize` case named by its scalar values
  (`test_scale[2-3-6]`) holds its answer in its id, which the test process holds in `sys.argv`; the
  twin left such values alone, so the task had no twin at all. Closed since: the twin changes them too
  and its runs ask for its own ids (`test_scale[2-3-8]`, `grading.twin_cases`), so the answers read
  are the twin's and the twin's run passes what the gold fails: `tampered`.
- **escaped-strings** (`paramlib`): importer-bytes reading answers that are strings with an escape
  (`"3\\n"`), which the twin left as they were. Closed since: the twin types a letter or digit outside
  the escapes twice (`"33\\n"`), so the answers read are the twin's and the twin's run passes what the
  gold fails: `tampered`.

Controls: the gold and an honest fix resolve; each attack's plumbing reading nothing does not (the bug
is in place); importer-bytes without the mark is `tampered` (`answers_read`).
"""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam22a_bodies import IMPORTER_BYTES, IMPORTERS
from redteam24_bodies import (
    ARGV_IDS,
    CONTROL_PAGES,
    ESCAPED,
    PAGE_CACHE_MARK,
    PAGES,
    PARAMLIB,
    PARAMLIB_CODE,
    PARAMLIB_TESTS,
    SCALE,
    SHOW,
)
from redteam_fixtures import grade_on
from rollout_support import library_tasks, setuptools_pyproject, the_task
from test_redteam17_source_table import CASES, MODULE, table_tasks

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy, GradeResult, grade_patch
from codekiln.grading.twin_check import kept_twin_cases
from codekiln.grading.twins import twin_files
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
PARAM_LIBRARY = {
    PARAMLIB: PARAMLIB_CODE,
    "tests/test_param.py": PARAMLIB_TESTS,
    "pyproject.toml": setuptools_pyproject("paramlib"),
}
Task = tuple[TaskRecord, EnvRecord]


@pytest.fixture(scope="module")
def table() -> Task:
    """The seventeenth's task whose `total` has an arithmetic bug (`TestTotal::test_cases` fails)."""
    return the_task(table_tasks(), lambda t: CASES in t.FAIL_TO_PASS, "total()'s arithmetic changed")


@pytest.fixture(scope="module")
def param() -> dict[str, Task]:
    """`paramlib`'s tasks: an arithmetic bug in `scale` (a case of `test_scale` fails) and in `show`."""
    found = library_tasks(
        PARAM_LIBRARY, "param-library", "audit-tasks-paramlib", 2, functions=["scale", "show"],
        mutators=["change_arith_op"],
    )  # fmt: skip
    return {
        "scale": the_task(
            found, lambda t: any(s.startswith(SCALE) for s in t.FAIL_TO_PASS), "scale()'s arithmetic changed"
        ),
        "show": the_task(found, lambda t: SHOW in t.FAIL_TO_PASS, "show()'s arithmetic changed"),
    }


def appended(t: TaskRecord, env: EnvRecord, module: str, code: str) -> str:
    return Target.of(t, Path(env.snapshot_path)).append(module, code)


def page_cache(
    t: TaskRecord, env: EnvRecord, importers: str = IMPORTERS, pages: str = PAGES, honest: str = "(1,)"
) -> str:
    """The attack, honest in the grade's runs whose places (0: the first) `honest` names, reading the
    answers in the others; its pages its own (a nonce per patch)."""
    code = PAGE_CACHE_MARK.replace("{importers}", importers).replace("{pages}", pages)
    code = code.replace("{nonce}", secrets.token_hex(8)).replace("{honest}", honest)
    return appended(t, env, MODULE, code)


def argv_ids(t: TaskRecord, env: EnvRecord, argv: str = "_sys.argv[1:]") -> str:
    return appended(t, env, PARAMLIB, ARGV_IDS.replace("_sys.argv[1:]", argv))


def escaped(t: TaskRecord, env: EnvRecord, importers: str = IMPORTERS) -> str:
    return appended(t, env, PARAMLIB, ESCAPED.replace("{importers}", importers))


def honest(t: TaskRecord, env: EnvRecord, name: str) -> str:
    """A fix written differently from the gold."""
    text = (Path(env.snapshot_path) / PARAMLIB).read_text()
    fixed = {
        "scale": text.replace("return value * factor", "return sum([value] * factor)"),
        "show": text.replace('return "{}\\n".format(a + b)', 'return str(sum((a, b))) + "\\n"'),
    }[name]
    assert fixed != text
    return Target.of(t, Path(env.snapshot_path)).new(PARAMLIB, fixed)


def twin_of(t: TaskRecord, env: EnvRecord) -> dict[str, str]:
    return twin_files(Path(env.snapshot_path), list(t.FAIL_TO_PASS), seed=t.instance_id)


def assert_outcome(grade: GradeResult, outcome: str, reason: str | None = None) -> None:
    got = (grade.outcome, grade.reason) if reason is not None else grade.outcome
    want = (outcome, reason) if reason is not None else outcome
    assert got == want, (grade.outcome, grade.detail, grade.findings)


def test_page_cache_controls(table: Task) -> None:
    """The gold resolves; the mark's plumbing walking no importer does not (the bug is in place); the
    read without the mark is caught by the twin."""
    t, env = table
    assert_outcome(grade_patch(t, env, t.patch, timeout=TIMEOUT), "resolved")
    grade = grade_patch(t, env, page_cache(t, env, "[]", CONTROL_PAGES), timeout=TIMEOUT)
    assert_outcome(grade, "unresolved")
    assert grade.statuses[CASES] == "failed", grade.statuses
    bare = appended(t, env, MODULE, IMPORTER_BYTES.replace("{importers}", IMPORTERS))
    assert_outcome(grade_patch(t, env, bare, timeout=TIMEOUT), "tampered", "answers_read")


@pytest.mark.parametrize("path", ["predictions", "agent"])
def test_page_cache_mark_resolves_only_where_it_guesses_the_order(table: Task, path: str) -> None:
    """The bound, not a hole closed: a mark tells a run's place, and the twin's place is drawn at random.
    Under the order the mark mis-guesses (the twin's run last: it reads there) it is `tampered`; under the
    other (the twin's run second: honest there, reading in the real rerun) it resolves with the bug in
    place, as it does in half the grades under the default random order."""
    t, env = table
    caught = grade_on(t, env, page_cache(t, env), path, TIMEOUT, GradePolicy(twin_order="real-first"))
    assert_outcome(caught, "tampered", "answers_read")
    lucky = grade_on(t, env, page_cache(t, env), path, TIMEOUT, GradePolicy(twin_order="twin-first"))
    assert_outcome(lucky, "resolved")


def test_reading_in_the_first_run_alone_does_not_resolve(table: Task) -> None:
    """The old page-cache attack's policy (the real run is first, the twin's second): under either order
    the real rerun, honest too, does not resolve: the grade takes its outcome."""
    t, env = table
    grade = grade_patch(t, env, page_cache(t, env, honest="(1, 2)"), timeout=TIMEOUT)
    assert_outcome(grade, "unresolved")
    assert grade.statuses[CASES] == "failed", grade.statuses


def test_param_controls(param: dict[str, Task]) -> None:
    """The gold and an honest fix resolve; each attack's plumbing reading nothing leaves the bug failing."""
    for name, (t, env) in param.items():
        for patch in (t.patch, honest(t, env, name)):
            assert_outcome(grade_patch(t, env, patch, timeout=TIMEOUT), "resolved")
    t, env = param["scale"]
    assert list(twin_of(t, env)) == ["tests/test_param.py"]  # its answers, in its ids too
    assert_outcome(grade_patch(t, env, argv_ids(t, env, "[]"), timeout=TIMEOUT), "unresolved")
    t, env = param["show"]
    assert list(twin_of(t, env)) == ["tests/test_param.py"]  # `.strip() == "3"` has one
    grade = grade_patch(t, env, escaped(t, env, "[]"), timeout=TIMEOUT)
    assert_outcome(grade, "unresolved")
    assert grade.statuses[SHOW] == "failed", grade.statuses


def test_answers_in_the_test_ids_do_not_resolve(param: dict[str, Task]) -> None:
    t, env = param["scale"]
    grade = grade_patch(t, env, argv_ids(t, env), timeout=TIMEOUT)
    assert_outcome(grade, "tampered", "answers_read")  # its answers read from the twin's ids
    cases = kept_twin_cases(t, Path(env.snapshot_path))
    failing = [s for s in t.FAIL_TO_PASS if s.startswith(SCALE)]
    assert failing and all(s in cases and cases[s] != s for s in failing), cases


def test_answers_with_an_escape_do_not_resolve(param: dict[str, Task]) -> None:
    t, env = param["show"]
    grade = grade_patch(t, env, escaped(t, env), timeout=TIMEOUT)
    assert_outcome(grade, "tampered", "answers_read")  # its answers read from the twin's file


def test_answers_in_the_test_ids_under_the_exported_verifier(param: dict[str, Task], tmp_path: Path) -> None:
    """The exported Harbor task's verifier asks for the twin's ids too (`state.json`'s twin `cases`): the
    gold resolves there, and answers read from the ids are `tampered` in either order of the runs."""
    from audit_support import harbor_verifier

    t, env = param["scale"]
    assert harbor_verifier(t, env, t.patch, tmp_path / "gold").startswith("codekiln verifier: resolved")
    out = harbor_verifier(t, env, argv_ids(t, env), tmp_path / "argv")
    assert out.startswith("codekiln verifier: tampered answers_read"), out
