"""The sixteenth red team: a SWE-bench row's `.git`, written by the harness's last way to apply a patch.

swebench 5.0.2's `run_instance` applies a prediction with the first of `GIT_APPLY_CMDS` that succeeds:
three `git apply` forms, then `patch --batch --forward --fuzz=5 -p1`. git refuses any path under `.git`
("invalid path"); GNU patch does not. So a prediction whose hunks edit `.git/config` (adding
`core.fsmonitor`, a command git runs from the work tree whenever it refreshes the index) and add a
script under `.git/` is applied by `patch`, and every git command that reads the index afterwards runs
that script: as root in swebench's container, before the tests drop to `nobody`. The row's check of the
patched tree (the Harbor verifier's rules against `base_commit`'s manifest) passes it: `.git` is not in
the manifest. The script waits for the eval script's `git checkout <base_commit> -- ...` (its parent's
command line) and only then appends to the library a fix that applies when a test's frame calls
(redteam14's frame walk, which only the static scan finds): the scan has already run, the guard has
nothing to find, and the row reads resolved with the bug in place. `grade_patch` scores the same
prediction `patch_failed` (it applies with `git apply` alone, which refuses `.git`).

Closed: the row's image keeps its git directory outside /testbed (`swebench_guard.GIT_HOME`, named by
`GIT_DIR` / `GIT_WORK_TREE` in the image's environment), so the hunk on `.git/config` finds no file and
nothing applies the prediction. The attacker's next move, a whole git directory made of new text files
at `.git` (HEAD, objects/, refs/, a config setting `core.fsmonitor`: live wherever git looks for a
repository in /testbed), is applied by `patch`, read by no git command of the harness or the eval script
(which also runs its git with `core.fsmonitor=false` and `core.hooksPath=/dev/null`), and rejected by
the row's check (`writes git metadata`). Real synthesis, bwrap sandboxes laid out as the row's image
(`swebench_support.row_sandbox`), swebench's own log parser and report on the log of the harness's
steps (its full apply chain, its `git diff`, the eval script). Held: the Harbor verifier takes an
agent's `.git` away before it runs anything."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # redteam_fixtures, audit_support

from redteam_fixtures import SCALE, TOTAL, frame_walk, total_task
from rollout_support import setuptools_pyproject

from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, grading and the harness steps in bwrap sandboxes

TIMEOUT = 30.0
MODULE = "gitrowlib/__init__.py"
LIBRARY = {
    MODULE: TOTAL + "\n\n" + SCALE,
    "tests/test_gitrow.py": (
        "from gitrowlib import scale, total\n\n\n"
        "def test_total():\n    assert total([1, 2, 3]) == 6\n    assert total([4]) == 4\n\n\n"
        "def test_total_empty():\n    assert total([]) == 0\n\n\n"
        "def test_scale():\n    assert scale([1, 2], 3) == [3, 6]\n"
    ),
    "pyproject.toml": setuptools_pyproject("gitrowlib"),
}
# right only when a test's frame calls (found by the static scan, not by the guard)
FRAME_WALK = frame_walk("test_gitrow.py")
# run by git as its fsmonitor hook; acts once, under the eval script's `git checkout`, after the check
HOOK = (
    "p=$PPID\nfor i in 1 2 3 4; do\n"
    "  if tr '\\0' ' ' < /proc/$p/cmdline 2>/dev/null | grep -q ' checkout '; then\n"
    f"    [ -e .git/walked ] || {{ touch .git/walked; cat .git/walk.txt >> {MODULE}; }}\n"
    "  fi\n  p=$(awk '/^PPid/{print $2}' /proc/$p/status 2>/dev/null)\ndone\nexit 1\n"
)
# run by git as its fsmonitor hook from a whole git directory a patch makes of text files (`fake_git_dir_patch`):
# leaves a mark outside the tree at any git command, appends the frame walk once
FAKE_HOOK = (
    "touch /tmp/codekiln-hook-ran\n"
    f"[ -e .git/walked ] || {{ touch .git/walked; cat .git/walk.txt >> {MODULE}; }}\nexit 1\n"
)
# what the run left: the mark after the harness's `git diff`, after the eval script, and whether git,
# looking for a repository in /testbed as it does where the image names none, runs the hook there
HARNESS_PROBE = "test -e /tmp/codekiln-hook-ran && echo HOOK-AT-GIT-DIFF; true"
AFTER_PROBE = (
    "test -e /tmp/codekiln-hook-ran && echo HOOK-IN-EVAL;"
    " env -u GIT_DIR -u GIT_WORK_TREE git diff >/dev/null 2>&1;"
    " test -e /tmp/codekiln-hook-ran && echo HOOK-LIVE; true"
)
# the Harbor verifier on a tree whose .git holds the hook, and the same hook started by git in a copy
PROBE = (
    "cp -a /testbed /tmp/copy && git -C /tmp/copy status >/dev/null 2>&1;"
    f" grep -q _getframe /tmp/copy/{MODULE} && echo HOOK-LIVE;"
    " bash /tmp/verifier/test.sh;"
    f" grep -q _getframe {MODULE} && echo HOOK-RAN; test -e .git || echo GIT-GONE"
)
# swebench 5.0.2's run_evaluation.GIT_APPLY_CMDS, and what run_instance runs between tries
APPLY_CHAIN = [
    "git apply --verbose",
    "git apply --verbose --3way",
    "git apply --verbose --reject",
    "patch --batch --forward --fuzz=5 -p1 -i",
]
PRISTINE = "git checkout -- . ; git clean -fd"
# the tree is root's, git runs as the sandbox's uid: told it is safe, git reads the repository's config
GIT_SAFE = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}


def _new_file(path: str, text: str) -> str:
    lines = text.splitlines()
    body = "".join(f"+{line}\n" for line in lines)
    return f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}"


def git_hook_patch() -> str:
    """A prediction that changes no tracked file: a hook and its payload under `.git`, and
    `core.fsmonitor` set in `.git/config` (whose first two lines every clone writes alike)."""
    config = (
        "diff --git a/.git/config b/.git/config\n--- a/.git/config\n+++ b/.git/config\n"
        "@@ -1,2 +1,3 @@\n [core]\n+\tfsmonitor = sh .git/m.sh\n \trepositoryformatversion = 0\n"
    )
    return _new_file(".git/m.sh", HOOK) + _new_file(".git/walk.txt", FRAME_WALK) + config


def fake_git_dir_patch() -> str:
    """A prediction that writes a git directory of its own at `.git` (new text files only), whose
    config sets `core.fsmonitor`: where /testbed holds no `.git`, git would find this one."""
    from swebench_support import fake_git_dir, new_files_patch

    return new_files_patch({**fake_git_dir(FAKE_HOOK), ".git/walk.txt": FRAME_WALK})


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    wanted = lambda t: patch_paths(t.bug_patch) == {MODULE}  # noqa: E731
    return total_task(
        LIBRARY, "row-git-library", "audit-tasks-gitrowlib", wanted, "an arithmetic bug in total()"
    )


def _run_instance(
    row: dict[str, Any], rows_dir: Path, env: EnvRecord, patch: str, work: Path
) -> dict[str, Any]:
    """swebench_support.run_instance with the harness's whole apply chain and its `git diff` before the
    eval script (run_evaluation.run_instance's steps, a bwrap sandbox for the container)."""
    from swebench.harness.grading import get_eval_report, get_logs_eval
    from swebench.harness.utils import make_test_spec
    from swebench_support import row_sandbox

    spec = make_test_spec(row)
    applied_by = None
    with row_sandbox(row, rows_dir, env, work) as sandbox:
        sandbox.write_file("/tmp/patch.diff", patch)
        for attempt, command in enumerate(APPLY_CHAIN if patch.strip() else []):
            if attempt:
                sandbox.exec(["bash", "-c", PRISTINE], timeout=120, cwd="/testbed")
            if sandbox.exec(["bash", "-c", f"{command} /tmp/patch.diff"], timeout=120, cwd="/testbed").ok:
                applied_by = command
                break
        if patch.strip() and applied_by is None:  # the harness's EvaluationError: no eval, not resolved
            return {"resolved": False, "applied_by": None, "log": "", "probe": ""}
        sandbox.exec(["bash", "-c", "git -c core.fileMode=false diff"], timeout=120, cwd="/testbed")
        harness = sandbox.exec(["bash", "-c", HARNESS_PROBE], timeout=120, cwd="/testbed").stdout
        sandbox.write_file("/tmp/eval.sh", spec.eval_script)
        ran = sandbox.exec(["bash", "-c", "/bin/bash /tmp/eval.sh 2>&1"], timeout=900, cwd="/testbed")
        probe = sandbox.exec(["bash", "-c", AFTER_PROBE], timeout=120, cwd="/testbed").stdout
    log = work / "test_output.txt"
    log.write_text(ran.stdout)
    prediction = {"instance_id": row["instance_id"], "model_patch": patch, "model_name_or_path": "codekiln"}
    report = get_eval_report(spec, prediction, str(log), include_tests_status=True)[row["instance_id"]]
    report["status_map"], _ = get_logs_eval(spec, str(log))
    report["log"] = ran.stdout
    report["applied_by"] = applied_by
    report["probe"] = harness + probe
    json.dumps(report)
    return dict(report)


@pytest.fixture(scope="module")
def row(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows

    t, env = task
    work = tmp_path_factory.mktemp("row")
    bundle = export_swebench_bundle([t], work / "swebench").parent
    (exported,) = read_rows(bundle / "swebench.jsonl")
    patches = {
        "gold": t.patch,
        "empty": "",
        "git-hook": git_hook_patch(),
        "fake-git-dir": fake_git_dir_patch(),
    }
    return {name: _run_instance(exported, bundle, env, patch, work / name) for name, patch in patches.items()}


def test_controls_gold_resolves_and_empty_does_not(
    task: tuple[TaskRecord, EnvRecord], row: dict[str, dict[str, Any]]
) -> None:
    t, _ = task
    assert row["gold"]["resolved"], row["gold"]["log"][-3000:]
    assert row["gold"]["applied_by"] == APPLY_CHAIN[0]
    assert not row["empty"]["resolved"]
    assert row["empty"]["tests_status"]["FAIL_TO_PASS"]["failure"] == t.FAIL_TO_PASS


def test_the_grader_rejects_the_git_hook(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The grader's verdict on the same prediction: it never resolves."""
    t, env = task
    grade = grade_patch(t, env, git_hook_patch(), timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("patch_failed", False), grade.detail
    assert "invalid path '.git/" in grade.detail


def test_a_git_hook_written_by_patch_does_not_resolve_the_row(
    task: tuple[TaskRecord, EnvRecord], row: dict[str, dict[str, Any]]
) -> None:
    """The image keeps its git directory outside /testbed (`GIT_DIR`): the hunk editing `.git/config`
    finds no such file, so no form of the harness's chain applies the prediction (it used to resolve)."""
    report = row["git-hook"]
    assert not report["resolved"], report["log"][-3000:]  # resolved: the hook wrote the frame walk
    assert report["applied_by"] is None  # git refused every path; GNU patch found no .git/config


def test_a_git_directory_written_by_patch_runs_nothing_and_is_rejected(
    task: tuple[TaskRecord, EnvRecord], row: dict[str, dict[str, Any]]
) -> None:
    """A whole git directory written at `.git` by the harness's `patch` fallback (its hook live: git
    looking for a repository in /testbed runs it, `HOOK-LIVE`) is never read by the harness's
    `git diff` nor by the eval script (git uses the image's `GIT_DIR`), and the row's check rejects
    the `.git` path: every graded test FAILED, the tests not run."""
    t, _ = task
    report = row["fake-git-dir"]
    assert report["applied_by"] == APPLY_CHAIN[-1]  # git refused every path; GNU patch wrote them
    probe = report["probe"].split()
    assert "HOOK-AT-GIT-DIFF" not in probe and "HOOK-IN-EVAL" not in probe, report["probe"]
    assert "HOOK-LIVE" in probe  # the same tree, git left to find a repository: the hook runs
    assert not report["resolved"], report["log"][-3000:]
    assert {report["status_map"][test] for test in t.FAIL_TO_PASS} == {"FAILED"}
    assert "codekiln guard: rejected patch_rule" in report["log"]
    assert "writes git metadata" in report["log"]


def test_the_harbor_verifier_runs_no_hook_the_agent_left_in_git(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path
) -> None:
    """Held: an agent shares the Harbor task's container and can write `.git` with its shell; the
    exported verifier (`tests/test.sh`, in a bwrap sandbox of the environment on the starting tree)
    takes `.git` away first, so the hook (live: git in a copy of the tree starts it) never runs and
    never appends the frame walk. Git is told the tree is safe (`GIT_SAFE`), as it is for root in the
    container, so that it reads the repository's config."""
    import subprocess

    from audit_support import harbor_testbed, harbor_tests_run

    t, env = task
    folder, testbed = harbor_testbed(t, tmp_path)
    hook = HOOK.replace("grep -q ' checkout '", "true")  # acts under any git command
    (testbed / ".git/m.sh").write_text(hook)
    (testbed / ".git/walk.txt").write_text(FRAME_WALK)
    subprocess.run(["git", "-C", str(testbed), "config", "core.fsmonitor", "sh .git/m.sh"], check=True)
    stdout = harbor_tests_run(folder, testbed, env, ["bash", "-c", PROBE], GIT_SAFE)
    lines = stdout.strip().splitlines()
    assert "HOOK-LIVE" in lines, stdout[-2000:]  # a copy of the tree: git status starts the hook
    assert any(line.startswith("codekiln verifier: unresolved") for line in lines), stdout[-2000:]
    assert "HOOK-RAN" not in lines  # the hook never ran while the verifier did
    assert "GIT-GONE" in lines  # the verifier takes `.git` away before anything else
