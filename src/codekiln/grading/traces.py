"""Timestamps the agent's workspace setup leaves behind, put back as in the snapshot.

`prepare_workspace` writes the bug in, deletes the hidden tests and rewrites manifests after the
snapshot was made, so those files and their folders got the setup's time: `ls -lt` or `find -newer`
named the buggy module and the folder a hidden test was taken from, and so did the fresh git
history's index (`git ls-files --debug`) when the times were put back after it. `restore_times` gives
every path the setup touched (and each folder above it) the snapshot's own access and modification
times; a path the snapshot lacks (a file the bug adds) gets the snapshot root's.

What it cannot put back (tests/audit/test_redteam_traces.py): a change time (`stat -c %z`) is the
kernel's, and a rewritten file gets a fresh inode, while the untouched ones keep the snapshot's, whose
sequence has a hole where each deleted test was; in overlay mode a folder the setup wrote to shows the
upper layer's size and link count, and `df` the upper layer's use. Closing those needs a tree made
for the task, in an order that says nothing, as the lower layer.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from codekiln.core.errors import CodekilnError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox


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
    "for rel, atime, mtime in json.load(sys.stdin):\n"
    "    if os.path.lexists(rel):\n"
    "        os.utime(rel, ns=(atime, mtime), follow_symlinks=False)\n"
)


def restore_times(sandbox: Sandbox, snapshot_dir: Path, paths: Iterable[str]) -> None:
    """Give each of `paths` and the folders above it, as far as they exist in the workspace, the
    snapshot's times (the root's for a path the snapshot lacks)."""
    stamps = []
    for rel in _touched_with_folders(paths):
        source = Path(snapshot_dir) / rel
        st = os.stat(source if os.path.lexists(source) else snapshot_dir, follow_symlinks=False)
        stamps.append([rel, st.st_atime_ns, st.st_mtime_ns])
    res = sandbox.exec(
        ["python", "-I", "-c", UTIME], timeout=120, cwd=sandbox.workdir, input=json.dumps(stamps).encode()
    )
    if not res.ok:
        raise CodekilnError(
            f"could not put the snapshot's file times back in the workspace: {tail(res.output, 10)}",
            hint="check that the environment's python runs in the sandbox (codekiln env test)",
        )
