"""Task trees (`sandbox.tasktree`): a workspace that starts from a tree made for it, built once, cached
under a key no changed snapshot or start can reuse, safe when two processes build it at once, and
what `changed`, `diff` and `reset` do on it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sbhelpers import FILES, PODMAN

from codekiln.core.config import state_dir
from codekiln.sandbox.base import SANDBOX_UID
from codekiln.sandbox.tasktree import StartTree, publish, sweep, task_tree
from codekiln.sandbox.workspace import Workspace
from codekiln.testing import make_repo

MODULE, GONE = "pkg/mod.py", "tests/test_mod.py"
START = StartTree({MODULE: b"changed = True\n", GONE: None, "new/pkg/added.py": b"x = 1\n"})
ME = (os.geteuid(), os.getegid())


@pytest.fixture
def snap(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "snap", FILES)


def listing(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """rel -> (mode, mtime_ns, content) of every file, .git left out."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) == root and d == ".git")]
        for name in filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            out[str(path.relative_to(root))] = (st.st_mode, st.st_mtime_ns, path.read_bytes())
    return out


def git(tree: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "safe.directory=*", "-C", str(tree), *args], capture_output=True, text=True, check=True
    ).stdout


def test_a_tree_is_the_snapshot_with_the_start_written_in_and_a_history_of_its_own(snap: Path) -> None:
    before = listing(snap)
    tree = task_tree(snap, START, ME)
    assert listing(snap) == before  # the snapshot is never written
    seen = listing(tree.path)
    assert seen[MODULE][2] == b"changed = True\n" and seen["new/pkg/added.py"][2] == b"x = 1\n"
    assert GONE not in seen
    untouched = set(before) - {MODULE, GONE}
    assert {rel: seen[rel] for rel in untouched} == {rel: before[rel] for rel in untouched}
    assert seen[MODULE][:2] == before[MODULE][:2]  # the snapshot's mode and time, new content
    assert (tree.path.stat().st_mtime_ns, tree.path.stat().st_mode) == (
        snap.stat().st_mtime_ns,
        snap.stat().st_mode,
    )
    assert git(tree.path, "log", "--format=%an %ad %s", "--date=iso-strict") == (
        "codekiln 2000-01-01T00:00:00+00:00 initial commit\n"
    )
    assert git(tree.path, "status", "--porcelain") == ""
    assert "new/pkg/added.py" in git(tree.path, "ls-files")
    assert {k: v for k, v in tree.changes.items() if not k.startswith(".git/")} == {
        MODULE: "file", GONE: "deleted", "new": "dir", "new/pkg": "dir", "new/pkg/added.py": "file"
    }  # fmt: skip
    assert {k for k in tree.changes if k.startswith(".git/")}  # its history is not the snapshot's
    again = task_tree(snap, START, ME)
    assert again == tree and again.path.stat().st_ino == tree.path.stat().st_ino  # from the cache


def test_a_changed_start_or_snapshot_never_reuses_a_tree(snap: Path) -> None:
    tree = task_tree(snap, START, ME)
    other = task_tree(snap, StartTree({**START.files, MODULE: b"changed = False\n"}), ME)
    assert other.path != tree.path and (other.path / MODULE).read_bytes() == b"changed = False\n"
    shutil.rmtree(snap)  # the snapshot made again at the same path, one file different
    make_repo(snap, {**FILES, "README.md": "rewritten\n"})
    remade = task_tree(snap, START, ME)
    assert remade.path not in (tree.path, other.path)
    assert (remade.path / "README.md").read_text() == "rewritten\n"
    other.lease.release()
    assert sweep(state_dir("tasktrees")) >= 1  # the old snapshot's tree no one holds
    assert not other.path.exists() and tree.path.is_dir() and remade.path.is_dir()  # held: kept
    tree.lease.release()
    assert sweep(state_dir("tasktrees")) >= 1
    assert not tree.path.exists() and remade.path.is_dir()


def test_a_build_that_loses_the_race_keeps_the_winner(tmp_path: Path) -> None:
    final, scratch = tmp_path / "final", tmp_path / "scratch"
    for folder, word in ((final, "winner"), (scratch, "loser")):
        folder.mkdir()
        (folder / "changes.json").write_text(json.dumps({word: "file"}))
    assert publish(scratch, final) is False
    assert json.loads((final / "changes.json").read_text()) == {"winner": "file"}
    half = tmp_path / "half"
    half.mkdir()
    (half / "junk").write_text("")  # a folder in the way that is no finished build: an error
    with pytest.raises(OSError):
        publish(scratch, half)


RACER = """
import sys, time
from pathlib import Path
from codekiln.sandbox.tasktree import StartTree, task_tree
while time.time() < float(sys.argv[2]):
    time.sleep(0.001)
print(task_tree(Path(sys.argv[1]), StartTree({"racer.py": b"1\\n"}), (0, 0)).path)
"""


@pytest.mark.root
def test_two_processes_building_one_tree_at_once_both_get_it(snap: Path) -> None:
    go = f"{time.time() + 1.0}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(snap), go], stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(2)
    ]
    paths = {r.communicate(timeout=60)[0].strip() for r in racers}
    assert [r.returncode for r in racers] == [0, 0] and len(paths) == 1
    root = state_dir("tasktrees")
    assert [p.name for p in root.iterdir() if p.name.startswith(".build-")] == []
    assert (Path(paths.pop()) / "racer.py").read_text() == "1\n"


@pytest.mark.root
@pytest.mark.parametrize("mode", ["overlay", "copy"])
def test_a_workspace_on_a_tree_changes_and_resets_against_the_right_trees(snap: Path, mode: str) -> None:
    """It opens on the tree with nothing in its upper layer and no idmap (the tree belongs to the
    sandbox uid), reports changes against the snapshot, and resets to the tree."""
    ws = Workspace(snap, uid=SANDBOX_UID, mode=mode, start=START)  # type: ignore[arg-type]
    try:
        assert ws.mode == mode and listing(ws.path) == listing(ws.start)
        if mode == "overlay":
            assert ws.stage is not None and not any((ws.stage / "upper").iterdir())
            assert not (ws.stage / "lower").exists()
        assert (ws.path / MODULE).stat().st_uid == SANDBOX_UID
        start_changes = ws.changed()
        assert {k: v for k, v in start_changes.items() if not k.startswith(".git/")} == {
            MODULE: "file", GONE: "deleted", "new": "dir", "new/pkg": "dir", "new/pkg/added.py": "file"
        }  # fmt: skip
        (ws.path / GONE).write_bytes((snap / GONE).read_bytes())  # put back as in the snapshot: a write
        (ws.path / "new/pkg/added.py").unlink()  # what the snapshot lacks, deleted: no difference
        (ws.path / "mine.txt").write_text("agent\n")
        changed = ws.changed(whole=["new"])
        assert {k: v for k, v in changed.items() if not k.startswith(".git/")} == {
            MODULE: "file", "mine.txt": "file", "new": "dir", "new/pkg": "dir",
            **({GONE: "file"} if mode == "overlay" else {}),  # copy mode compares contents
        }  # fmt: skip
        assert "+changed = True" in ws.diff() and "mine.txt" in ws.diff()
        ws.reset()
        assert listing(ws.path) == listing(ws.start)
        assert ws.changed() == start_changes
    finally:
        ws.close()


@pytest.mark.root
@pytest.mark.parametrize("backend", ["bwrap", PODMAN])
def test_a_sandbox_on_a_tree_shows_it_with_a_clean_history(open_sb, backend: str) -> None:
    sb = open_sb(backend, start=START)
    res = sb.exec(f"git status --porcelain && cat {MODULE} && test ! -e {GONE} && git log --format=%s")
    assert res.ok and res.stdout == "changed = True\ninitial commit\n", res.output
    sb.exec(f"echo more >> {MODULE} && rm new/pkg/added.py")
    sb.reset()
    assert sb.exec(f"cat {MODULE} new/pkg/added.py").stdout == "changed = True\nx = 1\n"
