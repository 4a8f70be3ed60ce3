"""The task-tree cache's bound (`sandbox.treecache`): trees built by the real code for recorded toolz tasks
(`grading.start.agent_start`, as rollouts open them), evicted least recently used first down to
`$CODEKILN_TASKTREE_BUDGET`, never while a sandbox is open on one, also when the evictor is another
process racing the opener. Each test has a `$CODEKILN_HOME` of its own: other tests' trees neither count
nor go."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import toolz_tasks

from codekiln.core.errors import ConfigError
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import open_task_sandbox
from codekiln.grading.start import agent_start
from codekiln.sandbox import SANDBOX_UID, StartTree
from codekiln.sandbox.tasktree import Tree, task_tree
from codekiln.sandbox.treecache import BUDGET_ENV, DEFAULT_BUDGET, budget, clear, usage
from codekiln.sandbox.trees import walk
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord

OWNER = (SANDBOX_UID, SANDBOX_UID)
EVICTOR = """
import sys, time
from codekiln.sandbox.treecache import clear
until, gone = time.time() + float(sys.argv[1]), clear()
while time.time() < until:
    time.sleep(0.002)
    gone += clear()
print(gone)
"""


def test_the_budget_reads_sizes_and_refuses_what_is_not_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    assert budget() == DEFAULT_BUDGET == 20 * 2**30
    for raw, want in (
        ("1234", 1234),
        ("512K", 512 * 2**10),
        ("3g", 3 * 2**30),
        ("2GiB", 2 * 2**30),
        ("0", 0),
    ):
        monkeypatch.setenv(BUDGET_ENV, raw)
        assert budget() == want, raw
    monkeypatch.setenv(BUDGET_ENV, "lots")
    with pytest.raises(ConfigError, match=BUDGET_ENV) as err:
        budget()
    assert f"{BUDGET_ENV}=20G" in (err.value.hint or "")


@pytest.fixture(scope="module")
def toolz() -> tuple[list[TaskRecord], EnvRecord, list[StartTree]]:
    """Three recorded toolz tasks, their environment, and their agent starting states."""
    tasks = read_tasks(toolz_tasks() / "tasks.jsonl")[:3]
    env = load_env(tasks[0].environment_id or "")
    starts = [agent_start(task, Path(env.snapshot_path)) for task in tasks]
    assert len({tuple(sorted(s.files.items())) for s in starts}) == 3  # three different trees
    return tasks, env, starts


@pytest.fixture
def own_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(BUDGET_ENV, raising=False)
    return tmp_path / "home" / "tasktrees"


def built(env: EnvRecord, start: StartTree) -> Tree:
    tree = task_tree(Path(env.snapshot_path), start, OWNER)
    tree.lease.release()
    return tree


@pytest.mark.root
def test_the_least_recently_used_trees_go_first_down_to_the_budget(
    toolz: tuple[list[TaskRecord], EnvRecord, list[StartTree]],
    own_home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, env, (a, b, c) = toolz
    first, second = built(env, a), built(env, b)
    time.sleep(0.02)
    assert built(env, a).path == first.path  # from the cache, and now used more recently than b
    held = usage()
    assert (held.trees, held.in_use) == (2, 0) and held.bytes > 100_000
    monkeypatch.setenv(BUDGET_ENV, str(held.bytes + held.bytes // 4))  # room for ~2.5 trees
    third = built(env, c)
    assert not second.path.exists()
    assert first.path.is_dir() and third.path.is_dir()
    left = usage()
    assert left.trees == 2 and left.bytes <= left.budget
    assert sorted(p.name for p in own_home.iterdir()) == sorted(
        [first.path.parent.name, third.path.parent.name]
    )


@pytest.mark.root
def test_a_tree_a_sandbox_is_open_on_stays_whatever_the_budget(
    toolz: tuple[list[TaskRecord], EnvRecord, list[StartTree]], own_home: Path
) -> None:
    tasks, env, (_, b, _) = toolz
    other = built(env, b)
    with open_task_sandbox(tasks[0], env) as sb:
        assert usage().in_use == 1
        evictor = subprocess.run(
            [sys.executable, "-c", EVICTOR, "0"], capture_output=True, text=True, timeout=60,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )  # fmt: skip
        assert evictor.returncode == 0 and evictor.stdout == "1\n", evictor.stderr
        assert not other.path.exists() and usage().trees == 1  # the other process's clear(): one went
        sb.reset()  # goes back to the tree, which is still there
        res = sb.exec("git status --porcelain && git log --format=%s")
        assert res.ok and res.stdout == "initial commit\n", res.output
    assert usage().in_use == 0
    assert clear() == 1 and usage().trees == 0 and list(own_home.iterdir()) == []


@pytest.mark.root
def test_an_opener_racing_an_evictor_in_another_process_never_sees_half_a_tree(
    toolz: tuple[list[TaskRecord], EnvRecord, list[StartTree]], own_home: Path
) -> None:
    _, env, (a, _, _) = toolz
    whole = sorted(rel for rel in _files(built(env, a).path))
    evictor = subprocess.Popen(
        [sys.executable, "-c", EVICTOR, "2.5"], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )  # fmt: skip
    opened, rebuilt, seen = 0, 0, set()
    try:
        while evictor.poll() is None:
            tree = task_tree(Path(env.snapshot_path), a, OWNER)
            inode = tree.path.parent.stat().st_ino
            rebuilt += inode not in seen
            seen.add(inode)
            time.sleep(0.01)  # give the evictor its chances while the lease is held
            assert sorted(_files(tree.path)) == whole, "the tree changed under its lease"
            tree.lease.release()
            opened += 1
            time.sleep(0.01)  # and while it is not: the evictor's chance to take it, on any machine's speed
    finally:
        out = evictor.communicate(timeout=60)[0]
    assert evictor.returncode == 0
    assert int(out) >= 2 and rebuilt >= 2 and opened >= 3, (out, rebuilt, opened)  # a real race


def _files(root: Path) -> list[str]:
    return [os.path.relpath(os.path.join(d, n), root) for d, _, names in walk(root) for n in names]
