"""The twenty-second red team (part B): a folder mode the agent leaves for the exported Harbor task's
verifier, which runs as root and drops to `nobody` for the tests (real root in bwrap, as
`test_verifier_isolation.py` lays out the image), on the seventeenth's `tablelib`.

- **held-unemptied**: the guard plugin empties each held test file at its load (unlink, then create
  anew) and serves it from memory, so that a child process of the test process finds nothing; where the
  unlink fails it goes on without a word (`guard_plugin_hide.Hide`: `except OSError: continue`), the
  file left whole on disk. The verifier restores the hidden tests as root, `chown -R`s the tree to
  `nobody` and keeps folder modes: a `tests/` the agent left at 0555 is `nobody`'s but not writable by
  it, so nothing is emptied, and the library, the bug in place, runs `cat tests/test_table.py` in a
  child at import (the twenty-first red team's child-at-import, closed elsewhere by the emptying) and
  answers from the text: reward 1. A patch cannot carry a folder's mode, so `grade_patch`, rollouts and
  the SWE-bench row (`git apply`) are out of its reach; a Harbor agent's `/testbed` is the verifier's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam21_bodies import CAT_TESTS, CHILD_AT_IMPORT
from rollout_support import the_task
from test_redteam17_source_table import CASES, MODULE, table_tasks
from test_verifier_isolation import as_root

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, and the verifier as real root in bwrap


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    """The seventeenth's task whose `total` has an arithmetic bug (`TestTotal::test_cases` fails)."""
    found = table_tasks()
    return the_task(found, lambda t: CASES in t.FAIL_TO_PASS, "total()'s arithmetic changed")


def trial(t: TaskRecord, env: EnvRecord, patch: str, work: Path, tests_mode: int | None) -> tuple[str, str]:
    """tests/test.sh as root on the starting tree with `patch` applied and, where given, `tests/` left
    at `tests_mode` (what the agent's shell can do): (reward.txt, grade.json's outcome)."""
    folder = export_harbor_task(t, work / "harbor")
    testbed, logs, tests = work / "testbed", work / "logs", work / "tests"
    testbed.mkdir()
    logs.mkdir()
    with tarfile.open(folder / "environment" / "testbed.tar.gz") as tar:
        tar.extractall(testbed, filter="tar")
    subprocess.run(
        ["bash", str(folder / "environment" / "prepare.sh"), str(testbed)], check=True, capture_output=True
    )
    subprocess.run(["git", "-C", str(testbed), "apply", "-"], input=patch, text=True, check=True)
    if tests_mode is not None:
        os.chmod(testbed / "tests", tests_mode)
    shutil.copytree(folder / "tests", tests)  # as Harbor uploads it
    out = as_root(env, [(testbed, "/testbed"), (tests, "/tests"), (logs, "/logs")], {}, "bash /tests/test.sh")
    grade_file = logs / "verifier" / "grade.json"
    assert grade_file.is_file(), out[-3000:]
    outcome = json.loads(grade_file.read_text())["outcome"]
    return (logs / "verifier" / "reward.txt").read_text().strip(), outcome


def child_read(t: TaskRecord, env: EnvRecord, paths: str) -> str:
    return Target.of(t, Path(env.snapshot_path)).append(MODULE, CHILD_AT_IMPORT.replace("{paths}", paths))


@pytest.fixture(scope="module")
def trials(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, tuple[str, str]]:
    t, env = task
    work = tmp_path_factory.mktemp("harbor-modes")
    runs = {
        "gold": (t.patch, None),
        "child-read": (child_read(t, env, CAT_TESTS), None),  # tests/ as shipped: emptied, reads nothing
        "noread-0555": (child_read(t, env, "[]"), 0o555),  # the mode alone, the child reading nothing
        "child-read-0555": (child_read(t, env, CAT_TESTS), 0o555),
    }
    return {name: trial(t, env, patch, work / name, mode) for name, (patch, mode) in runs.items()}


def test_controls(trials: dict[str, tuple[str, str]]) -> None:
    """The gold resolves; the child's read on the tree as shipped, and the 0555 folder with a child
    reading nothing, do not: a reward is the read of the unemptied file."""
    assert trials["gold"] == ("1", "resolved")
    assert trials["child-read"] == ("0", "unresolved")
    assert trials["noread-0555"] == ("0", "unresolved")


def test_read_only_tests_folder_does_not_resolve(trials: dict[str, tuple[str, str]]) -> None:
    assert trials["child-read-0555"][0] == "0", trials["child-read-0555"]  # was ("1", "resolved")
