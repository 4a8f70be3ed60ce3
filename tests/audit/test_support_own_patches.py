"""A test suite that changes its own support module: a fixture that tightens the shared assertions'
tolerance with `monkeypatch`, a `setUp` that swaps in a stricter helper and a `tearDown` that puts it
back (`patchlib/_checks.py`, a module only the tests import, so the guard holds it to its source). The
guard took every such change for code under test rebinding the helpers: each honest run, the gold
patch's included, was `tampered`, and the library made no task at all. Now a write that the test's own
code makes is the test's (`grading.guard_plugin_held`), and a write made from library code that a
fixture calls is still evidence. Real synthesized tasks, real bwrap sandboxes, the real grader
(`codekiln eval`'s path) and an exported Harbor task's verifier."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

import harbor_support as hs
from audit_support import harbor_verdict
from rollout_support import library_tasks, setuptools_pyproject

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
CHECKS = "patchlib/_checks.py"
INIT = "patchlib/__init__.py"
LIBRARY = {
    INIT: (
        "def mean(values):\n    total = 0.0\n    count = 0\n    for v in values:\n        total += v\n"
        "        count += 1\n    return total / count\n\n\n"
        "def normalize(values):\n    s = sum(values)\n    return [v / s for v in values]\n\n\n"
        "def words(text):\n    return sorted(text.split())\n\n\n"
        "def reset():\n    return None\n"
    ),
    CHECKS: (
        '"""Assertions the test suite shares."""\n\nTOL = 1e-9\n\n\n'
        "def assert_close(actual, expected, tol=None):\n    tol = TOL if tol is None else tol\n"
        "    if abs(actual - expected) > tol:\n"
        "        raise AssertionError(f'{actual!r} != {expected!r} within {tol}')\n\n\n"
        "def assert_same_items(actual, expected):\n    if sorted(actual) != sorted(expected):\n"
        "        raise AssertionError(f'{actual!r} and {expected!r} differ')\n"
    ),
    "tests/conftest.py": (
        "import pytest\n\nimport patchlib\nfrom patchlib import _checks\n\n\n"
        "@pytest.fixture(autouse=True)\ndef strict(monkeypatch):\n    patchlib.reset()\n"
        "    monkeypatch.setattr(_checks, 'TOL', 1e-12)\n"
    ),
    "tests/test_core.py": (
        "import unittest\n\nfrom patchlib import _checks, mean, normalize, words\n"
        "from patchlib._checks import assert_close\n\n\n"
        "def _in_order(actual, expected):\n    if list(actual) != list(expected):\n"
        "        raise AssertionError(f'{actual!r} is not {expected!r}')\n\n\n"
        "def test_mean():\n    assert_close(mean([1, 2, 3, 4]), 2.5)\n\n\n"
        "def test_mean_one():\n    assert_close(mean([7]), 7.0)\n\n\n"
        "def test_normalize():\n    assert_close(sum(normalize([1, 2, 3])), 1.0)\n"
        "    assert_close(normalize([1, 3])[0], 0.25)\n\n\n"
        "class TestWords(unittest.TestCase):\n"
        "    def setUp(self):\n        self.saved = _checks.assert_same_items\n"
        "        _checks.assert_same_items = _in_order\n\n"
        "    def tearDown(self):\n        _checks.assert_same_items = self.saved\n\n"
        "    def test_words(self):\n        _checks.assert_same_items(words('b a c'), ['a', 'b', 'c'])\n\n"
        "    def test_sorted(self):\n        self.assertEqual(words('z y'), ['y', 'z'])\n"
    ),
    "pyproject.toml": setuptools_pyproject("patchlib"),
}


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    found = library_tasks(LIBRARY, "own-patches-library", "audit-tasks-patchlib", 2)
    assert found, "no task synthesized: the gold patches' runs were called tampered"
    return found


def _neutered_from_a_fixture(task: TaskRecord, env: EnvRecord) -> str:
    """The attack: `reset()`, which the tests' own fixture calls, makes the shared assertions return at
    once, through the support module's attributes as a test's fixture would; the bug stays."""
    target = Target.of(task, Path(env.snapshot_path))
    text = (target.text(INIT) or "") + (
        "\n\ndef _quiet(*args, **kwargs):\n    return None\n\n\n"
        "def reset():\n    import sys\n\n    checks = sys.modules['patchlib._checks']\n"
        "    checks.assert_close = checks.assert_same_items = _quiet\n"
    )
    return target.new(INIT, text)


def test_the_gold_resolves_and_a_library_change_made_in_a_fixture_is_evidence(
    tasks: list[tuple[TaskRecord, EnvRecord]],
) -> None:
    for task, env in tasks:
        gold = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert gold.outcome == "resolved", (task.instance_id, gold.outcome, gold.detail)  # was tampered
        empty = grade_patch(task, env, "", timeout=TIMEOUT)
        assert empty.outcome == "unresolved", (task.instance_id, empty.outcome, empty.detail)
        attack = grade_patch(task, env, _neutered_from_a_fixture(task, env), timeout=TIMEOUT)
        assert attack.outcome == "tampered", (task.instance_id, attack.outcome, attack.statuses)
        assert f"{CHECKS}: assert_close is not what its source binds (_quiet() from" in attack.detail


def test_the_exported_verifier_rewards_the_gold_and_refuses_the_attack(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """The exported Harbor task's `tests/test.sh` on its starting tree (bwrap, no image)."""
    task, env = tasks[0]
    oracle, gold = harbor_verdict(task, env, task.patch, tmp_path / "gold")
    reward, grade = harbor_verdict(task, env, _neutered_from_a_fixture(task, env), tmp_path / "attack")
    assert (oracle, gold["outcome"]) == ("1", "resolved"), gold  # was 0, tampered
    assert (reward, grade["outcome"]) == ("0", "tampered"), grade
    assert f"{CHECKS}: assert_close is not what its source binds" in grade["detail"], grade


@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_support_own_patches.py::test_the_exported_verifier_rewards_the_gold_and_refuses_the_attack "
    "(the same tests/test.sh on the same tree, in bwrap); tests/tasks/test_harbor.py's trials run test.sh in the image"
)
def test_the_harbor_verifier_rewards_the_gold_and_refuses_the_attack(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    problem = hs.podman_problem()
    if problem is not None:
        pytest.skip(f"podman cannot run: {problem}")
    task, env = tasks[0]
    exported = export_harbor_task(task, tmp_path / "export")
    patch = _neutered_from_a_fixture(task, env)
    image = hs.build_task_image(exported)
    try:
        oracle, gold = hs.run_trial(image, exported, "bash /solution/solve.sh", tmp_path / "oracle")
        reward, grade = hs.run_trial(
            image, exported, f"git apply - <<'CODEKILN_EOF'\n{patch}CODEKILN_EOF\n", tmp_path / "attack"
        )
    finally:
        hs.remove_image(image)
    assert (oracle, gold["outcome"]) == ("1", "resolved"), gold  # was 0, tampered
    assert (reward, grade["outcome"]) == ("0", "tampered"), grade
    assert f"{CHECKS}: assert_close is not what its source binds" in grade["detail"], grade
