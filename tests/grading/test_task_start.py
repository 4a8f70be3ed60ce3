"""The agent's workspace as `open_task_sandbox` opens it, on a tree made for the task
(`grading.start`, `sandbox.tasktree`): the same files, modes, times and git history as the setup
written into a sandbox opened on the snapshot (`prepare_workspace`) made, and `reset` goes back to
it. On a recorded toolz task, through real bwrap sandboxes."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import toolz_tasks

from codekiln.core.protocols import Sandbox
from codekiln.envs import load_env
from codekiln.grading import open_task_sandbox, prepare_workspace, workspace_patch
from codekiln.grading.graded import patch_paths
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.export.datasets import read_tasks

pytestmark = pytest.mark.root

LISTING = (
    "find . -path ./.git -prune -o -type d -printf '%P %M %T@\\n' -o -printf '%P %M %s %T@\\n' | sort"
    " && git rev-parse HEAD && git status --porcelain"
)
"""Every path but .git with its kind, mode, size (folders' differ: the point) and modification time;
the history's commit (its id hashes the whole tracked tree); what git sees as changed."""


def state(sb: Sandbox) -> str:
    res = sb.exec(["sh", "-c", LISTING + " && md5sum $(git ls-files) | md5sum"])
    assert res.ok, res.output
    return res.stdout


def test_the_task_tree_is_what_the_setup_wrote_in_place_and_reset_goes_back_to_it() -> None:
    task = next(t for t in read_tasks(toolz_tasks() / "tasks.jsonl") if t.hidden_tests)
    env = load_env(task.environment_id or "")
    with env.open_sandbox(DEFAULT_BACKEND) as old:
        prepare_workspace(old, task, Path(env.snapshot_path))
        expected = state(old)
    with open_task_sandbox(task, env) as sb:
        assert state(sb) == expected
        assert workspace_patch(task, sb, Path(env.snapshot_path)) == ""
        bug = sorted(patch_paths(task.bug_patch))[0]
        sb.write_file(bug, (Path(env.snapshot_path) / bug).read_bytes())  # the fix, as an agent makes it
        sb.write_file(task.hidden_tests[0], "def test_mine():\n    pass\n")
        patch = workspace_patch(task, sb, Path(env.snapshot_path))
        assert f"+++ b/{bug}" in patch and f"+++ b/{task.hidden_tests[0]}" in patch
        sb.reset()
        assert state(sb) == expected
        assert workspace_patch(task, sb, Path(env.snapshot_path)) == ""


def test_an_edit_within_the_same_second_at_the_same_size_runs_as_written() -> None:
    """An agent's second edit of a module, as long and in the same second as its first, is the code
    Python runs (no byte-code cached from the first: its key is the size and the modification second)."""
    task = next(t for t in read_tasks(toolz_tasks() / "tasks.jsonl") if t.hidden_tests)
    env = load_env(task.environment_id or "")
    with open_task_sandbox(task, env) as sb:
        run = ["python", "-c", "import probe_mod; print(probe_mod.X)"]
        sb.write_file("probe_mod.py", "X = 'a'\n")
        assert sb.exec(run).stdout == "a\n"
        stamp = sb.exec(["stat", "-c", "%Y", "probe_mod.py"]).stdout.strip()
        sb.write_file("probe_mod.py", "X = 'b'\n")
        sb.exec(["touch", "-m", "-d", f"@{stamp}", "probe_mod.py"])  # the same second, made certain
        assert sb.exec(run).stdout == "b\n"
