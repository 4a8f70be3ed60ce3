"""codekiln.testing itself: snapshots from a dict of files, git with a fixed identity, a sandbox that
needs no root and really runs commands, the tier probes behind the markers, and the recorded tasks."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

import codekiln.testing
from codekiln.core.errors import ConfigError
from codekiln.envs import EnvRecord
from codekiln.testing import (
    GitError,
    bind_tasks,
    git,
    make_repo,
    network_problem,
    open_test_sandbox,
    recorded_tasks,
    root_problem,
    run_git,
    write_recorded,
)
from codekiln.testing.ray_cluster import NODE_PORTS, free_ports
from codekiln.testing.recorded import funnel_path, pick

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "toolz-1.2.0.tasks.jsonl"
FILES: dict[str, str | bytes] = {
    "pkg/__init__.py": "",
    "pkg/mod.py": "def add(a, b):\n    return a - b\n",
    "data/blob.bin": bytes(range(256)),
}


def test_exported_members() -> None:
    assert codekiln.testing.__all__ == sorted(codekiln.testing.__all__, key=lambda n: (not n.isupper(), n))
    assert set(codekiln.testing.__all__) == {
        *("GIT_ENV", "ROOT_MARKERS", "TEST_BACKEND", "GitError", "backend_params", "bind_tasks"),
        *("commit_all", "git", "make_repo", "network_problem", "open_test_sandbox", "recorded_tasks"),
        *("root_problem", "run_git", "write_files", "write_recorded"),
    }


def test_make_repo_is_one_commit_of_exactly_the_files(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    assert git(repo, "rev-list", "--all", "--count") == "1\n"
    assert git(repo, "ls-files").split() == sorted(FILES)
    assert git(repo, "status", "--porcelain") == ""
    assert git(repo, "branch", "--show-current") == "main\n"
    assert git(repo, "log", "--format=%an <%ae>") == "codekiln-test <test@localhost>\n"
    assert (repo / "data" / "blob.bin").read_bytes() == bytes(range(256))


def test_git_raises_with_gits_message_and_run_git_does_not(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    with pytest.raises(GitError, match=r"git rev-parse nope .* exited 128: .*nope"):
        git(repo, "rev-parse", "nope")
    patch = "--- a/pkg/mod.py\n+++ b/pkg/mod.py\n@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
    assert run_git(repo, "apply", "--check", "-", input="garbage\n").exit_code != 0
    assert run_git(repo, "apply", "-", input=patch).exit_code == 0
    assert "+    return a + b" in git(repo, "diff")


def test_the_test_sandbox_really_runs_commands_on_a_copy(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", FILES)
    with open_test_sandbox(repo, timeout_s=30) as sb:
        assert Path(sb.workdir).is_dir() and Path(sb.workdir) != repo
        res = sb.exec(
            "sed -i 's/a - b/a + b/' pkg/mod.py && python3 -c 'from pkg.mod import add; print(add(1, 2))'"
        )
        assert (res.exit_code, res.stdout) == (0, "3\n")
        assert sb.exec(["sh", "-c", "echo $PWD"]).stdout == f"{sb.workdir}\n"
        assert "+    return a + b" in sb.diff()
        assert sb.exec("sleep 5", timeout=0.5).timed_out
        sb.reset()
        assert sb.diff() == ""
    assert (repo / "pkg" / "mod.py").read_text() == FILES["pkg/mod.py"]  # the snapshot is never written


def test_root_problem_names_the_uid_when_not_root() -> None:
    reason = root_problem()
    if os.geteuid() == 0:
        assert reason is None, f"as root the root tier must run (CI): {reason}"
    else:
        assert reason is not None and f"uid {os.geteuid()}" in reason and "sudo make test" in reason


def test_network_problem_reports_an_unreachable_index(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{port}/simple")
    reason = network_problem(timeout=2)
    assert reason is not None and f"127.0.0.1:{port} is unreachable" in reason and "PIP_INDEX_URL" in reason
    monkeypatch.setenv("PIP_INDEX_URL", "file:///srv/wheels")
    assert network_problem() is None


def test_recorded_tasks_are_real_validated_tasks() -> None:
    tasks = recorded_tasks(RECORDED)
    assert len(tasks) == 3 and RECORDED.stat().st_size < 150_000
    assert len({t.instance_id for t in tasks}) == 3
    for task in tasks:
        assert task.repo == "toolz" and task.version == "1.2.0" and task.schema_version == 2
        assert task.FAIL_TO_PASS and task.patch and task.bug_patch and task.hidden_tests
        assert task.validation is not None
        assert all(task.validation.after.get(t) in ("failed", "error") for t in task.FAIL_TO_PASS)


def test_bind_tasks_points_at_the_environment_of_the_same_snapshot(tmp_path: Path) -> None:
    tasks = recorded_tasks(RECORDED)
    snapshot = tasks[0].base_commit
    env = EnvRecord.model_construct(id="e" * 16, snapshot_id=snapshot, name="toolz", version="1.2.0")
    bound = bind_tasks(tasks, env)
    assert {t.environment_id for t in bound} == {env.id}
    assert [t.model_dump(exclude={"environment_id"}) for t in bound] == [
        t.model_dump(exclude={"environment_id"}) for t in tasks
    ]
    out = write_recorded(bound, tmp_path / "tasks", funnel=funnel_path(RECORDED))
    assert recorded_tasks(out / "tasks.jsonl") == bound
    assert (out / "funnel.json").read_text() == funnel_path(RECORDED).read_text()
    assert json.loads((out / "funnel.json").read_text())["validated"] >= len(tasks)
    other = EnvRecord.model_construct(id="f" * 16, snapshot_id="0" * 16, name="toolz", version="1.3.0")
    with pytest.raises(
        ConfigError, match=f"made from snapshot {snapshot}, but environment f+ holds snapshot 0+"
    ):
        bind_tasks(tasks, other)
    with pytest.raises(ConfigError, match="no recorded tasks"):
        recorded_tasks(tmp_path / "missing.jsonl")


def test_pick_keeps_the_first_task_and_the_smallest_others() -> None:
    first, small, big = (
        recorded_tasks(RECORDED)[0],
        *sorted(recorded_tasks(RECORDED)[1:], key=lambda t: len(t.patch)),
    )
    big = big.model_copy(update={"test_patch": big.test_patch + "x" * 100_000})
    assert [t.instance_id for t in pick([first, big, small], 2)] == [first.instance_id, small.instance_id]
    assert pick([], 3) == []


def test_free_ports_are_distinct_and_free() -> None:
    # Asked one at a time, a port closed after its ask was handed out again within one node's set.
    for _ in range(200):
        ports = free_ports(NODE_PORTS + 2)
        assert len(set(ports)) == len(ports) == NODE_PORTS + 2
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))  # nothing holds them once returned
