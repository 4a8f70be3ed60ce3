"""Red team of the agent's workspace from inside (h36's brief): what `stat` says about how the workspace
was made. The agent's tree was the snapshot with the bug written in, the hidden tests deleted and
manifests rewritten (`grading.prepare_workspace`), and every such write left a trace:

- modification times: the buggy module, the folder a hidden test was taken from and the rewritten
  SOURCES.txt were the only paths newer than the rest (`ls -lt`, `find -newer`, and the fresh git
  history's index: `git ls-files --debug`). Fixed: the setup puts the snapshot's times back
  (`grading.traces`).
- change times and inode numbers: the kernel sets a change time no one can put back, and a written
  file gets a fresh inode (in overlay mode one of the upper layer's, far from the snapshot's), so the
  buggy module stood out; and the snapshot's files were made in name order, so the untouched files'
  inodes count up by one through each folder except where a hidden test was deleted: the hole fell
  between the names either side of it (toolz: test_dicttoolz.py and test_inspect_args.py around
  test_functoolz.py).
- folder sizes: in overlay mode a folder the setup wrote to showed its upper layer's size (20 bytes an
  entry on tmpfs, whiteouts included) and a link count of 1.
Fixed: the workspace opens on a tree made for the task (`sandbox.tasktree`, `grading.start`): every
file written in one walk, the hidden tests never made, the upper layer empty. The control
(`test_the_attacks_see_a_setup_written_in_place`) runs the same attacks on a workspace made the old
way and shows that each still finds what it looks for there.

Each attack is the probe an agent could run from its shell, on the recorded toolz tasks and the
markupsafe tasks (src layout, tests/ at the root), through `open_task_sandbox` as rollouts open it.
"""

from __future__ import annotations

import functools
import itertools
import os
import statistics
import sys
from pathlib import Path, PurePosixPath

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from audit_support import synth_markupsafe
from rollout_support import toolz_tasks

from codekiln.envs import load_env
from codekiln.grading import open_task_sandbox, prepare_workspace
from codekiln.grading.graded import patch_paths
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # real tasks: environment and workspace in bwrap sandboxes

PROBE = "find . -path ./.git -prune -o -printf '%P\\t%i\\t%T@\\t%C@\\t%y\\t%s\\n'"


class Entry:
    def __init__(self, line: str) -> None:
        rel, ino, mtime, ctime, kind, size = line.split("\t")
        self.rel, self.ino, self.mtime, self.ctime = rel or ".", int(ino), float(mtime), float(ctime)
        self.kind, self.size = kind, int(size)
        self.indexed: float | None = None
        """The modification time `git ls-files --debug` shows (the fresh history's index)."""


@functools.cache
def seen_in(library: str, in_place: bool = False) -> tuple[TaskRecord, dict[str, Entry], Path]:
    """A task of `library` with hidden tests, what `find -printf` shows of every path in its agent
    workspace, and its snapshot. `in_place`: the workspace as it was made before the task trees, the
    setup written into a sandbox opened on the snapshot (`prepare_workspace`), the attacks' control."""
    tasks = toolz_tasks() if library == "toolz" else synth_markupsafe()
    task = next(t for t in read_tasks(tasks / "tasks.jsonl") if t.hidden_tests)
    env = load_env(task.environment_id or "")
    if in_place:
        opened = env.open_sandbox(DEFAULT_BACKEND)
        prepare_workspace(opened, task, Path(env.snapshot_path))
    else:
        opened = open_task_sandbox(task, env)
    with opened as sb:
        res = sb.exec(["sh", "-c", PROBE])
        index = sb.exec(["git", "ls-files", "--debug"])
    assert res.ok and index.ok, res.output + index.output
    entries = {e.rel: e for e in (Entry(line) for line in res.stdout.splitlines() if line)}
    lines = index.stdout.splitlines()
    for rel, stamp in zip(lines, lines[2:], strict=False):
        if rel in entries and stamp.startswith("  mtime: "):  # seconds:nanoseconds
            seconds, ns = stamp.removeprefix("  mtime: ").split(":")
            entries[rel].indexed = int(seconds) + int(ns) / 1e9
    return task, entries, Path(env.snapshot_path)


@pytest.fixture(params=["toolz", "markupsafe"])
def seen(request: pytest.FixtureRequest) -> tuple[TaskRecord, dict[str, Entry], Path]:
    return seen_in(request.param)


def test_no_modification_time_says_what_the_setup_touched(
    seen: tuple[TaskRecord, dict[str, Entry], Path],
) -> None:
    """Every path the agent sees has the snapshot's modification time (`find -printf %T@`: ten
    significant decimals, so compared to the microsecond), and so has every file in the index of the
    workspace's fresh git history (`git ls-files --debug`: it had the setup's times when they were
    put back after the history was made)."""
    task, entries, snapshot = seen
    assert patch_paths(task.bug_patch) <= set(entries)
    # The environment's compiled extensions (markupsafe's `_speedups`) are shown at their paths in the
    # tree but are no file of the snapshot (`envs.extensions`): the same in every task, they say nothing
    # of its setup. Any other path the snapshot lacks fails here.
    beyond = {rel for rel in entries if not os.path.lexists(snapshot / rel)}
    assert {rel for rel in beyond if not rel.endswith((".so", ".pyd"))} == set()
    moved = {
        rel: (e.mtime, os.lstat(snapshot / rel).st_mtime)
        for rel, e in entries.items()
        if rel not in beyond and abs(e.mtime - os.lstat(snapshot / rel).st_mtime) > 1e-5
    }
    assert moved == {}
    indexed = {rel: e.indexed for rel, e in entries.items() if e.indexed is not None}
    assert patch_paths(task.bug_patch) <= set(indexed)
    assert {rel: t for rel, t in indexed.items() if abs(t - entries[rel].mtime) > 1e-5} == {}


def newest_by_change_time(entries: dict[str, Entry]) -> set[str]:
    """The attack: the files changed well after most of the tree was (a second past the median)."""
    files = [e for e in entries.values() if "." in PurePosixPath(e.rel).name and e.rel != "."]
    median = statistics.median(e.ctime for e in files)
    return {e.rel for e in files if e.ctime > median + 1}


def far_inodes(entries: dict[str, Entry]) -> set[str]:
    """The attack: files in a small run of inode numbers (a tenth of the files at most) that lies
    further than 10 x the entries from the next (another layer's, or made later). Folders are left
    out (the overlay makes up their numbers). ext4 hands out freed inodes first, so even a tree written
    in one walk can fall into two long runs: a trait that many files share places nothing."""
    files = sorted((e for e in entries.values() if e.kind == "f"), key=lambda e: e.ino)
    runs: list[list[Entry]] = [[files[0]]]
    for a, b in itertools.pairwise(files):
        if b.ino - a.ino > 10 * len(entries):
            runs.append([])
        runs[-1].append(b)
    return {e.rel for run in runs if len(run) <= len(files) // 10 for e in run}


def test_the_buggy_module_does_not_stand_out(seen: tuple[TaskRecord, dict[str, Entry], Path]) -> None:
    task, entries, _ = seen
    bug = patch_paths(task.bug_patch)
    assert (bug <= newest_by_change_time(entries), bug <= far_inodes(entries)) == (False, False)


def test_the_attacks_see_a_setup_written_in_place() -> None:
    """The control: on a workspace made the old way (the setup written into a sandbox opened on the
    snapshot) each attack finds what it looks for: the buggy module's change time and inode, the
    folders the setup wrote to, the hole where toolz's hidden test was."""
    task, entries, _ = seen_in("toolz", in_place=True)
    bug = patch_paths(task.bug_patch)
    assert (bug <= newest_by_change_time(entries), bug <= far_inodes(entries)) == (True, True)
    touched = {str(PurePosixPath(rel).parent) for rel in [*task.hidden_tests, *bug]}
    assert touched <= odd_sized_folders(entries)
    assert placed_by_holes(task, entries) == task.hidden_tests


def odd_sized_folders(entries: dict[str, Entry]) -> set[str]:
    """The attack: folders whose size is not a whole number of 4 KiB blocks. In overlay mode a folder
    the setup wrote to shows its upper layer's size, tmpfs's 20 bytes an entry: a whiteout per
    deleted file, so it counts them too (toolz/tests: 80 bytes, two entries: its two hidden tests)."""
    return {rel for rel, e in entries.items() if e.kind == "d" and e.size % 4096}


def test_folder_sizes_do_not_say_where_the_setup_wrote(
    seen: tuple[TaskRecord, dict[str, Entry], Path],
) -> None:
    task, entries, _ = seen
    touched = {str(PurePosixPath(rel).parent) for rel in [*task.hidden_tests, *patch_paths(task.bug_patch)]}
    assert not touched <= odd_sized_folders(entries)


def holes(entries: dict[str, Entry], folder: str) -> list[tuple[str, str]]:
    """The attack: where a folder's files, in name order, skip more inode numbers than the steps on
    either side of the gap (1 on tmpfs; 1 or 16 on an ext4 tree, changing within one folder where other
    processes created files while it was made, so the folder's median step can hide a gap of 2); only when
    the files' inodes rise with their names (as a tree made in name order has them), else the order says
    nothing."""
    files = sorted(
        (e for e in entries.values() if str(PurePosixPath(e.rel).parent) == folder and e.rel != folder),
        key=lambda e: PurePosixPath(e.rel).name,
    )
    inodes = [e.ino for e in files]
    if inodes != sorted(inodes):
        return []
    steps = [b - a for a, b in itertools.pairwise(inodes)]
    gaps = []
    for i, (a, b) in enumerate(itertools.pairwise(files)):
        around = steps[max(i - 1, 0) : i] + steps[i + 1 : i + 2]
        if around and steps[i] > max(around):
            gaps.append((a.rel, b.rel))
    return gaps


def test_inode_holes_do_not_place_the_hidden_tests() -> None:
    """On toolz: test_functoolz.py between test_dicttoolz.py and test_inspect_args.py. (markupsafe's
    hidden test file is the last of its folder by name: no hole shows between two files.)"""
    task, entries, _ = seen_in("toolz")
    assert placed_by_holes(task, entries) == []


def placed_by_holes(task: TaskRecord, entries: dict[str, Entry]) -> list[str]:
    placed = []
    for rel in task.hidden_tests:
        folder = str(PurePosixPath(rel).parent)
        placed += [rel for a, b in holes(entries, folder) if a < rel < b]
    return placed
