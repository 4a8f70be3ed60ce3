"""The agent's starting state of a task, as the tree its sandbox opens on (`sandbox.tasktree`).

    sandbox = env.open_sandbox(backend, start=agent_start(task, snapshot_dir))

The snapshot with the bug written in, the hidden tests absent and the manifests that name them
scrubbed (`grading.manifests`), with a fresh git history of that state alone: what
`prepare_workspace` writes into a sandbox opened on the snapshot, but built as a tree of its own, in
one walk, before the sandbox opens (the workspace's upper layer is empty). So nothing of the agent's
tree (times, change times, inode numbers, folder sizes, `df`) says which files the setup touched
(tests/audit/test_redteam_traces.py), and a reset goes back to the task's starting state.
"""

from __future__ import annotations

from pathlib import Path

from codekiln.core.errors import CodekilnError, TaskError
from codekiln.core.patches import apply_diff
from codekiln.grading.graded import patch_paths
from codekiln.grading.manifests import scrubbed_manifests
from codekiln.grading.subject import GradedTask
from codekiln.sandbox import StartTree

ENCODING = ("utf-8", "surrogateescape")
"""Files go through the patch as text and back to the same bytes (line endings and odd bytes kept)."""


def agent_start(task: GradedTask, snapshot_dir: Path) -> StartTree:
    """The files the task's starting state writes over the snapshot (None: absent)."""
    snapshot_dir = Path(snapshot_dir)
    texts = {
        rel: (snapshot_dir / rel).read_bytes().decode(*ENCODING)
        for rel in sorted(patch_paths(task.bug_patch))
        if (snapshot_dir / rel).is_file()
    }
    try:
        applied = apply_diff(texts, task.bug_patch)
    except TaskError as err:
        raise CodekilnError(
            f"the bug patch of {task.instance_id} does not apply: {err.message}",
            hint="rebuild the task's environment",
        ) from err
    files: dict[str, bytes | None] = {
        rel: None if text is None else text.encode(*ENCODING) for rel, text in applied.items()
    }
    files.update(dict.fromkeys(task.hidden_tests))
    files.update(
        {rel: text.encode() for rel, text in scrubbed_manifests(snapshot_dir, task.hidden_tests).items()}
    )
    return StartTree(files)
