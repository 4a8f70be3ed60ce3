"""SWE-bench export of real toolz tasks (recorded from the pipeline, see rollout_support), checked with the
real swebench 5.0.2: its `make_test_spec` takes every exported row, a consumer checking out `base_commit`
gets the bug, and its harness steps (patch, eval script, log parser, report) run on an exported row agree
with codekiln's grader on the gold and the empty patch; with podman, swebench's own `run_instance` runs
in the image built from the export. Skipped, with the reason printed, when swebench is not installed
(`make` installs it) or, for the image test, when podman cannot run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

swebench = pytest.importorskip(
    "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
)
from swebench.harness.utils import make_test_spec  # noqa: E402
from swebench.task.checks import expected_image  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
import swebench_support as ss  # noqa: E402
from rollout_support import load, toolz_tasks  # noqa: E402
from swebench_support import run_instance  # noqa: E402

from codekiln.core.errors import TaskError  # noqa: E402
from codekiln.envs import load_env  # noqa: E402
from codekiln.grading import grade_patch  # noqa: E402
from codekiln.repos.snapshot import SnapshotRecord, get_snapshot  # noqa: E402
from codekiln.tasks.export.swebench import (  # noqa: E402
    EVAL_TYPE,
    LOG_PARSER,
    export_swebench_bundle,
    github_repo,
    read_rows,
    repo_name,
)
from codekiln.tasks.export.swebench_guard import INSTALLED, commit_manifest  # noqa: E402
from codekiln.tasks.records import TaskRecord  # noqa: E402
from codekiln.testing import git as run_git_checked  # noqa: E402

SWEBENCH_STATUS = {"PASSED": "passed", "FAILED": "failed", "ERROR": "error", "SKIPPED": "skipped"}


def git(*args: str) -> str:
    """git's stdout, stripped; the paths are in the arguments (-C, --git-dir)."""
    return run_git_checked(Path("/"), *args).strip()


@pytest.fixture(scope="module")
def tasks() -> list[TaskRecord]:
    return load(toolz_tasks())


@pytest.fixture(scope="module")
def bundle(tasks: list[TaskRecord], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_swebench_bundle(tasks, tmp_path_factory.mktemp("swebench")).parent


@pytest.fixture(scope="module")
def rows(bundle: Path) -> list[dict[str, Any]]:
    return read_rows(bundle / "swebench.jsonl")


@pytest.mark.root  # real tasks bound to their environment (built in bwrap sandboxes)
def test_make_test_spec_accepts_every_row(tasks: list[TaskRecord], rows: list[dict[str, Any]]) -> None:
    assert swebench.__version__ == "5.0.2"
    assert [r["instance_id"] for r in rows] == [t.instance_id for t in tasks]
    for task, row in zip(tasks, rows, strict=True):
        spec = make_test_spec(row)
        assert (spec.repo, spec.version) == ("pytoolz/toolz", "1.2.0")
        assert spec.image == expected_image(task.instance_id, namespace="codekiln")
        assert (spec.FAIL_TO_PASS, spec.PASS_TO_PASS) == (task.FAIL_TO_PASS, task.PASS_TO_PASS)
        assert (spec.log_parser, spec.eval_type) == (LOG_PARSER, EVAL_TYPE)
        script = spec.eval_script
        assert ">>>>> Start Test Output" in script and "SWEBENCH_TEST_EXIT_CODE=$?" in script
        # graded test files present at base_commit are reset to it (with the build manifest the test
        # patch lists the hidden files in again), the hidden ones removed
        visible = {t.split("::")[0] for t in task.tests} - set(task.hidden_tests)
        reset = set(script.split(f"git checkout {row['base_commit']} -- ", 1)[1].split("\n", 1)[0].split())
        assert "toolz.egg-info/SOURCES.txt" in reset and bool(reset - {"toolz.egg-info/SOURCES.txt"}) is bool(
            visible
        )
        assert all(f" {hidden}" in script.split("rm -f -- ", 1)[1] for hidden in task.hidden_tests)


@pytest.mark.root  # real tasks bound to their environment (built in bwrap sandboxes)
def test_base_commit_holds_the_bug_and_fix_plus_tests_give_the_snapshot(
    tasks: list[TaskRecord], rows: list[dict[str, Any]], bundle: Path, tmp_path: Path
) -> None:
    snapshot = get_snapshot(load_env(tasks[0].environment_id or "").snapshot_id)
    repos = {r["git_repo"] for r in rows}
    assert len(repos) == 1  # one repository per environment
    repo = bundle / repos.pop()
    assert git("--git-dir", str(repo), "rev-parse", "main") == snapshot.commit
    for task, row in zip(tasks, rows, strict=True):
        assert row["environment_setup_commit"] == snapshot.commit
        assert git("--git-dir", str(repo), "rev-parse", task.instance_id) == row["base_commit"]
        # parentless: the history of the buggy commit does not hold the fix
        assert (
            git("--git-dir", str(repo), "rev-list", "--parents", "-n1", row["base_commit"])
            == row["base_commit"]
        )
        work = tmp_path / task.instance_id
        git("clone", "-q", "--branch", task.instance_id, "--single-branch", str(repo), str(work))
        listed = (work / "toolz.egg-info" / "SOURCES.txt").read_text()  # the sdist's list of files
        for hidden in task.hidden_tests:
            assert not (work / hidden).exists() and hidden not in listed
        assert git("-C", str(work), "diff", "--quiet", "--exit-code", "HEAD") == ""
        for patch in (row["patch"], row["test_patch"]):
            subprocess.run(["git", "-C", str(work), "apply", "-"], input=patch, text=True, check=True)
        git("-C", str(work), "add", "-A")
        git("-C", str(work), "fetch", "-q", str(repo), "main")
        assert git("-C", str(work), "diff", "--cached", "--stat", "FETCH_HEAD") == ""  # the clean snapshot


@pytest.mark.root  # real tasks bound to their environment (built in bwrap sandboxes)
def test_export_is_reproducible_and_refuses_tasks_without_environment(
    tasks: list[TaskRecord], rows: list[dict[str, Any]], tmp_path: Path
) -> None:
    again = read_rows(export_swebench_bundle(tasks[:1], tmp_path / "again"))
    assert (
        again[0]["base_commit"] == rows[0]["base_commit"]
        and again[0]["eval_script"] == rows[0]["eval_script"]
    )
    with pytest.raises(TaskError, match="names no environment"):
        export_swebench_bundle([tasks[0].model_copy(update={"environment_id": None})], tmp_path / "x")


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://github.com/pytoolz/toolz", "pytoolz/toolz"),
        ("https://github.com/pallets/markupsafe/", "pallets/markupsafe"),
        ("https://github.com/pyparsing/pyparsing.git", "pyparsing/pyparsing"),
        ("git@github.com:python-attrs/attrs.git", "python-attrs/attrs"),
        ("https://github.com/kjd/idna/issues", None),
        ("https://gitlab.com/group/project", None),
        ("https://toolz.readthedocs.io/en/latest/", None),
    ],
)
def test_github_repo_reads_only_repository_urls(url: str, name: str | None) -> None:
    assert github_repo(url) == name


def _snapshot(tmp_path: Path, pkg_info: str, **fields: Any) -> SnapshotRecord:
    (tmp_path / "PKG-INFO").write_text(pkg_info)
    base = {"id": "0" * 16, "name": "My_Lib", "version": "1.0", "source": "pypi:my_lib==1.0", "kind": "pypi",
            "path": str(tmp_path), "commit": "0" * 40, "files": 1, "size_bytes": 1, "has_tests": True,
            "created": "2026-01-01T00:00:00+00:00"}  # fmt: skip
    return SnapshotRecord.model_validate({**base, **fields})


@pytest.mark.root  # real tasks bound to their environment (built in bwrap sandboxes)
def test_repo_name_follows_the_metadata(tasks: list[TaskRecord], tmp_path: Path) -> None:
    assert repo_name(get_snapshot(load_env(tasks[0].environment_id or "").snapshot_id)) == "pytoolz/toolz"
    docs_first = (
        "Name: my_lib\nProject-URL: Documentation, https://github.com/other/docs-site\n"
        "Project-URL: Source, https://github.com/me/my-lib\n"
    )
    assert repo_name(_snapshot(tmp_path, docs_first)) == "me/my-lib"  # the source link wins
    assert repo_name(_snapshot(tmp_path, "Name: my_lib\nHome-page: https://github.com/me/lib\n")) == "me/lib"
    no_github = "Name: my_lib\nProject-URL: Source, https://gitlab.com/me/my-lib\n"
    assert repo_name(_snapshot(tmp_path, no_github)) == "pypi/my-lib"
    assert repo_name(_snapshot(tmp_path, "Name: x\n", kind="local", source=str(tmp_path))) == "local/my-lib"


@pytest.mark.root  # real tasks bound to their environment (built in bwrap sandboxes)
@pytest.mark.parametrize("which", ["gold", "empty"])
def test_swebench_harness_agrees_with_codekiln_grading(
    tasks: list[TaskRecord], rows: list[dict[str, Any]], bundle: Path, tmp_path: Path, which: str
) -> None:
    task, row = tasks[0], rows[0]
    assert task.PASS_TO_PASS and len(task.FAIL_TO_PASS) > 1
    patch = task.patch if which == "gold" else ""
    env = load_env(task.environment_id or "")
    report = run_instance(row, bundle, env, patch, tmp_path)
    grade = grade_patch(task, env, patch)
    assert report["patch_successfully_applied"] and not report["infra_failure"]
    assert report["resolved"] is grade.resolved is (which == "gold")
    theirs = {t: SWEBENCH_STATUS[report["status_map"][t]] for t in task.tests if t in report["status_map"]}
    assert theirs == {t: grade.statuses[t] for t in task.tests}  # every graded test, same status
    tests = report["tests_status"]
    failing = [] if which == "gold" else task.FAIL_TO_PASS
    assert (tests["FAIL_TO_PASS"]["failure"], tests["PASS_TO_PASS"]["failure"]) == (failing, [])


PODMAN_PROBLEM = None
try:
    import harbor_support as hs

    PODMAN_PROBLEM = hs.podman_problem()
except ImportError as err:  # pragma: no cover
    PODMAN_PROBLEM = str(err)


@pytest.mark.root  # real tasks bound to their environment (built in bwrap sandboxes)
@pytest.mark.podman
@pytest.mark.skipif(PODMAN_PROBLEM is not None, reason=f"podman cannot run: {PODMAN_PROBLEM}")
def test_swebench_run_instance_in_the_exported_image(
    tasks: list[TaskRecord],
    rows: list[dict[str, Any]],
    bundle: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """swebench's own `run_instance` (docker SDK, through podman's Docker API) in the image built from the
    export alone: the gold patch resolves the task, the empty patch does not. The image keeps its git
    directory outside /testbed: a git directory the harness's `patch` fallback writes at `.git`
    (`ss.fake_git_dir`, its fsmonitor hook live where git looks for a repository in /testbed) runs
    nothing at the harness's `git diff` and the row reads every FAIL_TO_PASS test failed."""
    task, row = tasks[0], rows[0]
    image = ss.build_image(row, bundle)
    client, service = ss.docker_api(tmp_path)
    monkeypatch.chdir(tmp_path)
    fake = ss.new_files_patch(ss.fake_git_dir("echo codekiln-hook-ran >&2\nexit 1\n"))
    try:
        assert client.images.get(image)
        head = client.containers.run(image, "git rev-parse HEAD", remove=True, user="root")
        assert head.decode().strip() == row["base_commit"]
        layout = client.containers.run(image, ["bash", "-c", LAYOUT], remove=True, user="root").decode()
        # the fallback's write, the harness's `git diff`, then git left to find a repository itself
        probe = client.containers.run(image, ["bash", "-c", HOOK_PROBE], environment={"PREDICTION": fake},
                                      remove=True, user="root", stderr=True).decode()  # fmt: skip
        gold = ss.harness_run(row, task.patch, client, "gold")
        empty = ss.harness_run(row, "", client, "empty")
        hooked = ss.harness_run(row, fake, client, "fake-git-dir")
    finally:
        service.terminate()
        service.wait(timeout=30)
        hs.remove_image(image)
    no_git, record = layout.split("\n", 1)
    assert no_git == "NO-GIT"  # /testbed holds no `.git`; git found the repository through GIT_DIR
    manifest = commit_manifest(bundle / row["git_repo"], row["base_commit"])
    assert json.loads(record).items() >= manifest.items()  # the install record: the commit's files and more
    assert probe.split("HARNESS-DIFF-DONE")[0].count("codekiln-hook-ran") == 0, probe
    assert probe.split("HARNESS-DIFF-DONE")[1].count("codekiln-hook-ran") >= 1, probe  # a live hook
    assert gold["resolved"] and gold["tests_status"]["FAIL_TO_PASS"]["failure"] == []
    assert not empty["resolved"] and empty["tests_status"]["FAIL_TO_PASS"]["failure"] == task.FAIL_TO_PASS
    assert not hooked["resolved"] and hooked["tests_status"]["FAIL_TO_PASS"]["failure"] == task.FAIL_TO_PASS
    (log,) = Path("logs/run_evaluation/fake-git-dir").rglob("run_instance.log")
    text = log.read_text()
    assert (
        "patching file .git/config" in text and "codekiln-hook-ran" not in text
    )  # `patch` wrote it; no hook ran


LAYOUT = f"test -e /testbed/.git || echo NO-GIT; cat {INSTALLED}"
HOOK_PROBE = (
    'printf "%s" "$PREDICTION" > /tmp/p.diff && patch --batch --forward --fuzz=5 -p1 -i /tmp/p.diff'
    " && git -c core.fileMode=false diff; echo HARNESS-DIFF-DONE;"
    " env -u GIT_DIR -u GIT_WORK_TREE git -c core.fileMode=false diff; true"
)
