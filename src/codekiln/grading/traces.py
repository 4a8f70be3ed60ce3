"""Timestamps the agent's workspace setup leaves behind, put back as in the snapshot.

`prepare_workspace` writes the bug in, deletes the hidden tests and rewrites manifests after the
snapshot was made, so those files and their folders got the setup's time: `ls -lt` or `find -newer`
named the buggy module and the folder a hidden test was taken from, and so did the fresh git
history's index (`git ls-files --debug`) when the times were put back after it. `restoring_times` gives
every path the setup touched (and each folder above it) the snapshot's own access and modification
times; a path the snapshot lacks (a file the bug adds) gets the snapshot root's.

What it cannot put back (tests/audit/test_redteam_traces.py): a change time (`stat -c %z`) is the
kernel's, and a rewritten file gets a fresh inode, while the untouched ones keep the snapshot's, whose
sequence has a hole where each deleted test was; in overlay mode a folder the setup wrote to shows the
upper layer's size and link count. So `open_task_sandbox` no longer writes the setup in: it opens on
a tree made for the task (`grading.start`, `sandbox.tasktree`); this serves `prepare_workspace`,
for a sandbox that was opened on the snapshot.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath


def _touched_with_folders(paths: Iterable[str]) -> list[str]:
    """`paths` and every folder above them (the root as "."), deepest first."""
    out = set()
    for rel in paths:
        p = PurePosixPath(rel)
        out.add(str(p))
        out.update(str(parent) for parent in p.parents)
    return sorted(out, key=lambda rel: (-len(PurePosixPath(rel).parts), rel))


# Run by the environment's own python (the tests need one; coreutils' touch may be busybox's).
UTIME = (
    "import json, os, sys\n"
    "for rel, atime, mtime in json.loads(sys.argv[1]):\n"
    "    if os.path.lexists(rel):\n"
    "        os.utime(rel, ns=(atime, mtime), follow_symlinks=False)\n"
)


def _stamps(snapshot_dir: Path, rels: Iterable[str]) -> str:
    stamps = []
    for rel in rels:
        source = Path(snapshot_dir) / rel
        st = os.stat(source if os.path.lexists(source) else snapshot_dir, follow_symlinks=False)
        stamps.append([rel, st.st_atime_ns, st.st_mtime_ns])
    return json.dumps(stamps)


def restoring_times(snapshot_dir: Path, paths: Iterable[str], command: str) -> list[str]:
    """An argv that gives each of `paths` and the folders above it, as far as they exist in the
    workspace, the snapshot's times (the root's for a path the snapshot lacks), then runs the shell
    `command` (the fresh history: its index sees the times put back), then puts the root's back (which
    `command` may rewrite). One process in the sandbox: each costs a sandbox start."""
    script = f'python -I -c "$0" "$1" && {{ {command}; }} && python -I -c "$0" "$2"'
    return ["sh", "-c", script, UTIME, _stamps(snapshot_dir, _touched_with_folders(paths)),
            _stamps(snapshot_dir, ["."])]  # fmt: skip
