"""An honest test that patches through a callable object or a closure a fixture hands it (pytest-mock's
`mocker.patch(...)` runs `_Patcher.__call__`; a conftest fixture returns `start` and the test calls it
`patcher`). The patched module is one only the tests import, so the guard holds it to its source, and a
write there was the test's own only when the test's call named the function doing it: every run of such
a suite, its gold's included, was `tampered` (natsort 8.4.0 lost 2 candidates and every shared gold
run). Now the call may run, under another name, the very function or object's `__call__` it names,
read through the test's names (`guard_plugin_held.TestCode`), and the gold resolves. Real synthesized
tasks, real bwrap sandboxes, the real grader (`codekiln eval`'s path)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import library_tasks, setuptools_pyproject

from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
LIBRARY = {
    "calllib/__init__.py": (
        "def mean(values):\n    total = 0.0\n    count = 0\n    for v in values:\n        total += v\n"
        "        count += 1\n    return total / count\n"
    ),
    "calllib/_cli.py": (
        '"""What only the tests import."""\n\nfrom calllib import mean\n\n\n'
        "def show(x):\n    print(x)\n\n\ndef main(values):\n    show(mean(values))\n"
    ),
    "tests/conftest.py": (
        "from unittest import mock\n\nimport pytest\n\n\n"
        "class _Patcher:\n    def __init__(self):\n        self.started = []\n\n"
        "    def __call__(self, target, new):\n        self.started.append(mock.patch(target, new))\n"
        "        return self.started[-1].start()\n\n\n"
        "@pytest.fixture\ndef patch_object():\n    patcher = _Patcher()\n    yield patcher\n"
        "    for p in reversed(patcher.started):\n        p.stop()\n\n\n"
        "@pytest.fixture\ndef patcher():\n    started = []\n\n"
        "    def start(target, new):\n        started.append(mock.patch(target, new))\n        return started[-1].start()\n\n"
        "    yield start\n    for p in reversed(started):\n        p.stop()\n"
    ),
    "tests/test_cli.py": (
        "from calllib import _cli\n\n\n"
        "def test_main_object(patch_object):\n    seen = []\n    patch_object('calllib._cli.show', seen.append)\n"
        "    _cli.main([1, 2, 3, 4])\n    assert seen == [2.5]\n\n\n"
        "def test_main_closure(patcher):\n    seen = []\n    patcher('calllib._cli.show', seen.append)\n"
        "    _cli.main([1, 2, 3, 6])\n    assert seen == [3.0]\n"
    ),
    "tests/test_core.py": "from calllib import mean\n\n\ndef test_mean():\n    assert mean([7]) == 7.0\n",
    "pyproject.toml": setuptools_pyproject("calllib"),
}


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    found = library_tasks(LIBRARY, "callable-patcher-lib", "audit-tasks-calllib", 4)
    assert found, "no task synthesized"
    return found


def test_the_gold_of_a_suite_patching_through_a_callable_resolves(
    tasks: list[tuple[TaskRecord, EnvRecord]],
) -> None:
    patching = {"tests/test_cli.py::test_main_object", "tests/test_cli.py::test_main_closure"}
    found = [(t, e) for t, e in tasks if patching <= set(t.FAIL_TO_PASS)]
    assert found, [t.FAIL_TO_PASS for t, _ in tasks]
    for task, env in found:
        got = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert got.outcome == "resolved", (got.outcome, got.detail)  # was tampered
