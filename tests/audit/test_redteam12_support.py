"""The twelfth red team: test support code that lives in the package. A unittest-style library whose
tests share assertions from `unitlib/_checks.py` (as numpy.testing, pandas._testing or a package's
own helpers): a patch that made `assert_close` and `assert_same_items` return at once fixed nothing
and scored resolved, through both paths, since every graded assertion went through them. Now a module
that only the graded tests import and that the task's fix leaves alone is put back as in the snapshot
(`grading.support`), by the grader and by an exported task's verifier. Real synthesized tasks, real
bwrap sandboxes, the real grader."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

import harbor_support as hs
from audit_support import harbor_verdict
from rollout_support import library_tasks, setuptools_pyproject, the_task
from tiering import paths

from codekiln.audit.grader import play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy, grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.grading.pathrules import SUPPORT
from codekiln.grading.support import support_modules
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0
CHECKS = "unitlib/_checks.py"
LIBRARY = {
    "unitlib/__init__.py": (
        "def mean(values):\n    total = 0.0\n    count = 0\n    for v in values:\n        total += v\n"
        "        count += 1\n    return total / count\n\n\n"
        "def normalize(values):\n    s = sum(values)\n    return [v / s for v in values]\n\n\n"
        "def words(text):\n    return sorted(text.split())\n"
    ),
    "unitlib/stats.py": "from unitlib import mean\n\n\ndef spread(values):\n    m = mean(values)\n    return max(values) - m\n",
    CHECKS: (
        '"""Assertions the test suite shares."""\n\n\n'
        "def assert_close(actual, expected, tol=1e-9):\n    if abs(actual - expected) > tol:\n"
        "        raise AssertionError(f'{actual!r} != {expected!r} within {tol}')\n\n\n"
        "def assert_same_items(actual, expected):\n    if sorted(actual) != sorted(expected):\n"
        "        raise AssertionError(f'{actual!r} and {expected!r} differ')\n"
    ),
    "tests/test_core.py": (
        "import unittest\n\nfrom unitlib import mean, normalize, words\nfrom unitlib._checks import assert_close, assert_same_items\n"
        "from unitlib.stats import spread\n\n\n"
        "class TestNumbers(unittest.TestCase):\n"
        "    @classmethod\n    def setUpClass(cls):\n        cls.values = [1, 2, 3, 4]\n\n"
        "    def test_mean(self):\n        assert_close(mean(self.values), 2.5)\n\n"
        "    def test_mean_one(self):\n        assert_close(mean([7]), 7.0)\n\n"
        "    def test_spread(self):\n        assert_close(spread(self.values), 1.5)\n\n"
        "    def test_normalize(self):\n        assert_close(sum(normalize([1, 2, 3])), 1.0)\n"
        "        assert_close(normalize([1, 3])[0], 0.25)\n\n\n"
        "class TestWords(unittest.TestCase):\n"
        "    def test_words(self):\n        assert_same_items(words('b a c'), ['a', 'b', 'c'])\n\n"
        "    def test_sorted(self):\n        self.assertEqual(words('z y'), ['y', 'z'])\n"
    ),
    "pyproject.toml": setuptools_pyproject("unitlib"),
}


def mean_task() -> tuple[TaskRecord, EnvRecord]:
    """A task whose bug is an arithmetic slip in `mean`, asked of synthesis so (`functions`,
    `mutators`), not hoped for among the library's first tasks: its failing tests (test_mean,
    test_mean_one, test_spread) assert only through the shared helpers, and nothing raises first, so
    an attack that quiets the helpers makes them pass wherever nothing stops it."""
    found = library_tasks(
        LIBRARY,
        "unit-library",
        "audit-tasks-unitlib-mean",
        1,
        functions=["mean"],
        mutators=["change_arith_op"],
    )
    return the_task(
        found,
        lambda t: patch_paths(t.bug_patch) == {"unitlib/__init__.py"},
        "an arithmetic bug in unitlib's mean()",
    )


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    found = [
        (t, e)
        for t, e in library_tasks(LIBRARY, "unit-library", "audit-tasks-unitlib", 3)
        if CHECKS not in patch_paths(t.bug_patch)
    ]
    assert found, "no task synthesized from the unittest library"
    return found


def _helpers_neutered(task: TaskRecord, env: EnvRecord) -> str:
    """The attack: both shared assertions return at once; the bug is left as it is."""
    target = Target.of(task, Path(env.snapshot_path))
    text = target.text(CHECKS) or ""
    for line in ("    if abs(actual", "    if sorted(actual)"):
        text = text.replace(line, "    return\n" + line)
    return target.new(CHECKS, text)


def test_the_gold_patch_resolves_and_neutered_helpers_do_not(
    tasks: list[tuple[TaskRecord, EnvRecord]],
) -> None:
    for task, env in tasks:
        gold = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert gold.outcome == "resolved", (task.instance_id, gold.outcome, gold.detail)
        grade = grade_patch(task, env, _helpers_neutered(task, env), timeout=TIMEOUT)
        assert grade.outcome == "unresolved", (
            task.instance_id,
            grade.outcome,
            grade.statuses,
        )  # was resolved
        assert {"kind": "reverted", "path": CHECKS, "detail": SUPPORT} in grade.findings


@pytest.mark.parametrize(
    "path", paths("test_redteam12_support.py", "test_neutered_helpers_through_both_paths")
)
def test_neutered_helpers_through_both_paths(tasks: list[tuple[TaskRecord, EnvRecord]], path: str) -> None:
    task, env = tasks[0]
    patch = _helpers_neutered(task, env)
    if path == "agent":
        patch = play_commands(task, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
        assert CHECKS in patch_paths(patch)
    grade = grade_patch(task, env, patch, timeout=TIMEOUT)
    assert (grade.resolved, grade.outcome) == (False, "unresolved"), (grade.outcome, grade.statuses)


def test_what_counts_as_support(tmp_path: Path) -> None:
    for rel, text in {
        **LIBRARY,
        "unitlib/_compat.py": "X = 1\n",  # imported by a support module only: support too
        "unitlib/_fmt.py": "Y = 2\n",  # imported by the library as well: the library's
        "unitlib/cli.py": "from . import _fmt\n",
        "tests/helpers.py": "from unitlib import _shared\n",  # a test file: put back by its own rule
        "unitlib/_shared.py": "Z = 3\n",  # imported through that helper: support
        "tests/test_other.py": "import helpers\n",
        # loaded by a literal name: the tests' import too (a name computed at run time cannot be read)
        "tests/test_named.py": "import importlib\n\nc = importlib.import_module('unitlib._named')\n"
        "d = __import__('unitlib._dunder')\ne = importlib.import_module('._rel', package='unitlib')\n"
        "f = importlib.import_module(NAME)\n",
        "unitlib/_named.py": "",
        "unitlib/_dunder.py": "",
        "unitlib/_rel.py": "",
        "unitlib/_lazy.py": "import importlib\n\nimportlib.import_module('unitlib._named')\n",
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    (tmp_path / CHECKS).write_text(LIBRARY[CHECKS] + "from unitlib._compat import X\nfrom ._fmt import Y\n")
    tests = ["tests/test_core.py"]
    # unitlib/stats.py is the library's API, but only the tests import it: it counts too (the price:
    # a fix made there for a bug elsewhere is put back; a bug in it is the fix's, and stays)
    stats = "unitlib/stats.py"
    assert support_modules(tmp_path, tests, fixed={"unitlib/__init__.py"}) == {
        CHECKS,
        "unitlib/_compat.py",
        stats,
    }
    assert support_modules(tmp_path, tests, fixed={CHECKS, stats}) == {"unitlib/_compat.py"}
    assert support_modules(tmp_path, tests, fixed=()) == set()  # the fix unknown: nothing is put back
    assert support_modules(tmp_path, ["tests/test_other.py"], fixed={"unitlib/__init__.py"}) == {
        "unitlib/_shared.py"
    }
    # unitlib/_lazy.py loads _named by name too: the library's loads by name are not read (the price, as above)
    named = {"unitlib/_named.py", "unitlib/_dunder.py", "unitlib/_rel.py"}
    assert support_modules(tmp_path, ["tests/test_named.py"], fixed={"unitlib/__init__.py"}) == named


def test_the_exported_verifier_puts_the_helpers_back(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """The exported Harbor task's `tests/test.sh` on its starting tree (bwrap, no image): the gold's
    reward is 1, the neutered helpers' 0 (it was 1), the helper put back."""
    task, env = tasks[0]
    assert harbor_verdict(task, env, task.patch, tmp_path / "gold")[0] == "1"
    reward, grade = harbor_verdict(task, env, _helpers_neutered(task, env), tmp_path / "attack")
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade
    assert {"kind": "reverted", "path": CHECKS, "detail": SUPPORT} in grade["findings"]


# The same in a Harbor trial's container: the image holds the verifier the test above runs.
@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_redteam12_support.py::test_the_exported_verifier_puts_the_helpers_back (the same "
    "tests/test.sh on the same tree, in bwrap); tests/tasks/test_harbor.py's trials run test.sh in the image"
)
def test_the_harbor_verifier_puts_the_helpers_back(
    tasks: list[tuple[TaskRecord, EnvRecord]], harbor: hs.Trials
) -> None:
    task, env = tasks[0]
    reward, grade = harbor.run(task, hs.applying(_helpers_neutered(task, env)))
    assert (harbor.oracle(task)[0], reward, grade["outcome"]) == ("1", "0", "unresolved"), (
        grade
    )  # reward was 1
    assert {"kind": "reverted", "path": CHECKS, "detail": SUPPORT} in grade["findings"]


def test_swebench_rows_reset_the_helpers_too(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """swebench's own harness steps on the exported row: the neutered helpers resolved there too (the
    eval script reset the test files and data only); the gold still resolves."""
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    task, env = tasks[0]
    gold, attack = run_row(
        task, env, {"gold": task.patch, "attack": _helpers_neutered(task, env)}, tmp_path
    ).values()
    assert gold["patch_successfully_applied"] and attack["patch_successfully_applied"]
    assert (gold["resolved"], attack["resolved"]) == (True, False), attack["tests_status"]


def _helpers_rebound(task: TaskRecord, env: EnvRecord) -> str:
    """The same helpers left as they are on disk and rebound from the library at import."""
    target = Target.of(task, Path(env.snapshot_path))
    init = "unitlib/__init__.py"
    added = (
        "\n\nfrom unitlib import _checks as _c\n\n\ndef _quiet(*args, **kwargs):\n    return None\n\n\n"
        "_c.assert_close = _quiet\n_c.assert_same_items = _quiet\n"
    )
    return target.new(init, (target.text(init) or "") + added)


def test_helpers_rebound_at_import(tasks: list[tuple[TaskRecord, EnvRecord]]) -> None:
    task, env = tasks[0]
    """Closed twice: the scan finds library code importing the tests' own helpers (`test-import`,
    `grading.scan_reach`), and with the scan advisory the guard, holding the support modules to their
    trusted source before each test (`guard_plugin_support`), finds the stand-in is not what
    `_checks.py` binds."""
    grade = grade_patch(task, env, _helpers_rebound(task, env), timeout=TIMEOUT)
    assert (grade.outcome, grade.reason) == ("rejected", "scan"), (grade.outcome, grade.detail)
    assert any(f.get("kind") == "test-import" for f in grade.findings), grade.findings
    policy = GradePolicy(scan="advisory")
    grade = grade_patch(task, env, _helpers_rebound(task, env), timeout=TIMEOUT, policy=policy)
    assert grade.outcome == "tampered", (grade.outcome, grade.statuses)  # was resolved
    assert f"{CHECKS}: assert_close is not what its source binds (_quiet() from" in grade.detail


def test_the_exported_verifier_refuses_the_helpers_rebound(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """The exported task's `tests/test.sh` (bwrap, no image) runs the same scan first."""
    task, env = tasks[0]
    reward, grade = harbor_verdict(task, env, _helpers_rebound(task, env), tmp_path)
    assert (reward, grade["outcome"], grade["reason"]) == ("0", "rejected", "scan"), grade
    assert any(f.get("kind") == "test-import" for f in grade["findings"]), grade


@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_redteam12_support.py::test_the_exported_verifier_refuses_the_helpers_rebound (the "
    "same tests/test.sh, in bwrap); tests/tasks/test_harbor.py's trials run test.sh in the image"
)
def test_the_harbor_verifier_refuses_the_helpers_rebound(
    tasks: list[tuple[TaskRecord, EnvRecord]], harbor: hs.Trials
) -> None:
    """The exported task's verifier runs the same scan first (`test-import`: the guard, given the
    task's support modules, is shown holding them with the scan advisory above)."""
    task, env = tasks[0]
    reward, grade = harbor.run(task, hs.applying(_helpers_rebound(task, env)))
    assert (reward, grade["outcome"], grade["reason"]) == ("0", "rejected", "scan"), grade
    assert any(f.get("kind") == "test-import" for f in grade["findings"]), grade
