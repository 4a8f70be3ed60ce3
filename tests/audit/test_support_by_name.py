"""Test helpers in the package that the import graph did not read (the twelfth red team's open forms):
`namelib/_checks.py`, which the tests load by a name in a string (`importlib.import_module`), and
`namelib/_compare.py`, which the package's `__init__.py` re-exports. A patch that made either helper
return at once fixed nothing and scored resolved. Both are support modules now and are put back:
`grading.support` reads a literal name's load as an import, follows `from namelib import
assert_same_items` through the package's re-export, and does not count a library module that only
re-exports a module's names, when that module imports no module of the snapshot, as the library's use
of it. Real synthesized tasks, real bwrap sandboxes, the real grader (`codekiln eval`'s path) and an
exported Harbor task's verifier."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

import harbor_support as hs
from rollout_support import NoSuchTask, library_tasks, setuptools_pyproject

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.pathrules import SUPPORT
from codekiln.grading.support import support_modules
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
BY_NAME = "namelib/_checks.py"
REEXPORTED = "namelib/_compare.py"
LIBRARY = {
    "namelib/__init__.py": (
        "from ._compare import assert_same_items\n\n\n"
        "def mean(values):\n    total = 0.0\n    count = 0\n    for v in values:\n        total += v\n"
        "        count += 1\n    return total / count\n\n\n"
        "def normalize(values):\n    s = sum(values)\n    return [v / s for v in values]\n\n\n"
        "def words(text):\n    return [w.lower() for w in text.split()]\n\n\n"
        "def initials(text):\n    return [w[0].upper() for w in text.split() if w]\n"
    ),
    BY_NAME: (
        '"""Assertions the numeric tests share."""\n\n\n'
        "def assert_close(actual, expected, tol=1e-9):\n    if abs(actual - expected) > tol:\n"
        "        raise AssertionError(f'{actual!r} != {expected!r} within {tol}')\n"
    ),
    REEXPORTED: (
        '"""A public testing helper of the package."""\n\n\n'
        "def assert_same_items(actual, expected):\n    if sorted(actual) != sorted(expected):\n"
        "        raise AssertionError(f'{actual!r} and {expected!r} differ')\n"
    ),
    "tests/test_numbers.py": (
        "import importlib\n\nfrom namelib import mean, normalize\n\n"
        "_checks = importlib.import_module('namelib._checks')\n\n\n"
        "def test_mean():\n    _checks.assert_close(mean([1, 2, 3, 4]), 2.5)\n\n\n"
        "def test_mean_one():\n    _checks.assert_close(mean([7]), 7.0)\n\n\n"
        "def test_normalize():\n    _checks.assert_close(sum(normalize([1, 2, 3])), 1.0)\n"
        "    _checks.assert_close(normalize([1, 3])[0], 0.25)\n"
    ),
    "tests/test_words.py": (
        "from namelib import assert_same_items, initials, words\n\n\n"
        "def test_words():\n    assert_same_items(words('B a C'), ['a', 'b', 'c'])\n\n\n"
        "def test_initials():\n    assert_same_items(initials('ab cd'), ['A', 'C'])\n"
    ),
    "pyproject.toml": setuptools_pyproject("namelib"),
}


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    """Tasks of each test file, asked of synthesis by the functions each file tests rather than hoped
    for among the library's first eight (the seeded order decides those)."""
    return [
        *library_tasks(
            LIBRARY, "by-name-library", "audit-tasks-namelib-numbers", 3, functions=["mean", "normalize"]
        ),
        *library_tasks(
            LIBRARY, "by-name-library", "audit-tasks-namelib-words", 3, functions=["words", "initials"]
        ),
    ]


def _failing_in(
    tasks: list[tuple[TaskRecord, EnvRecord]], test_file: str
) -> list[tuple[TaskRecord, EnvRecord]]:
    out = [
        (t, e)
        for t, e in tasks
        if t.FAIL_TO_PASS
        and all(x.startswith(test_file + "::") for x in t.FAIL_TO_PASS)
        and BY_NAME not in t.patch
        and REEXPORTED not in t.patch
    ]
    if not out:  # an error naming what is missing, not a failed assertion
        raise NoSuchTask(
            f"no task whose failing tests are all in {test_file}: {[t.FAIL_TO_PASS for t, _ in tasks]}"
        )
    return out


def _neutered(task: TaskRecord, env: EnvRecord, rel: str) -> str:
    """The attack: the helper returns at once; the bug stays."""
    target = Target.of(task, Path(env.snapshot_path))
    text = (target.text(rel) or "").replace("    if ", "    return\n    if ", 1)
    return target.new(rel, text)


def test_a_helper_loaded_by_name_is_support(tasks: list[tuple[TaskRecord, EnvRecord]]) -> None:
    snapshot = Path(tasks[0][1].snapshot_path)
    assert support_modules(snapshot, ["tests/test_numbers.py"], fixed={"namelib/__init__.py"}) == {BY_NAME}
    assert support_modules(snapshot, ["tests/test_words.py"], fixed={"namelib/__init__.py"}) == {REEXPORTED}
    assert (
        support_modules(snapshot, ["tests/test_words.py"], fixed={"namelib/__init__.py", REEXPORTED}) == set()
    )


def test_a_helper_loaded_by_name_is_put_back(tasks: list[tuple[TaskRecord, EnvRecord]]) -> None:
    for task, env in _failing_in(tasks, "tests/test_numbers.py"):
        gold = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert gold.outcome == "resolved", (task.instance_id, gold.outcome, gold.detail)
        grade = grade_patch(task, env, _neutered(task, env, BY_NAME), timeout=TIMEOUT)
        assert grade.outcome == "unresolved", (
            task.instance_id,
            grade.outcome,
            grade.statuses,
        )  # was resolved
        assert {"kind": "reverted", "path": BY_NAME, "detail": SUPPORT} in grade.findings


def test_a_helper_the_package_reexports(tasks: list[tuple[TaskRecord, EnvRecord]]) -> None:
    """Was resolved (a strict xfail): `_compare.py` counted as the library's, since the package's
    `__init__.py` imports it, though only to re-export its name."""
    for task, env in _failing_in(tasks, "tests/test_words.py"):
        gold = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert gold.outcome == "resolved", (task.instance_id, gold.outcome, gold.detail)
        grade = grade_patch(task, env, _neutered(task, env, REEXPORTED), timeout=TIMEOUT)
        assert grade.outcome == "unresolved", (task.instance_id, grade.outcome, grade.statuses)
        assert {"kind": "reverted", "path": REEXPORTED, "detail": SUPPORT} in grade.findings


@pytest.mark.podman
# The verifier puts back the helpers the export lists (`support_modules`, host side, as the grader does):
# which helpers those are is `test_a_helper_loaded_by_name_is_support`; the put-back of a listed helper by
# the exported verifier is the twelfth red team's. Both run by default.
@pytest.mark.slow(
    covered_by="test_support_by_name.py::test_a_helper_loaded_by_name_is_support (the export's list) and "
    "test_redteam12_support.py::test_the_exported_verifier_puts_the_helpers_back (the verifier puts a listed "
    "helper back)"
)
@pytest.mark.parametrize(
    ("helper", "tests"), [(BY_NAME, "tests/test_numbers.py"), (REEXPORTED, "tests/test_words.py")]
)
def test_the_harbor_verifier_puts_the_helper_back(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path, helper: str, tests: str
) -> None:
    problem = hs.podman_problem()
    if problem is not None:
        pytest.skip(f"podman cannot run: {problem}")
    task, env = _failing_in(tasks, tests)[0]
    exported = export_harbor_task(task, tmp_path / "export")
    patch = _neutered(task, env, helper)
    image = hs.build_task_image(exported)
    try:
        reward, grade = hs.run_trial(
            image, exported, f"git apply - <<'CODEKILN_EOF'\n{patch}CODEKILN_EOF\n", tmp_path / "attack"
        )
    finally:
        hs.remove_image(image)
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade  # reward was 1
    assert {"kind": "reverted", "path": helper, "detail": SUPPORT} in grade["findings"]
