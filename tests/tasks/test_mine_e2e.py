"""`codekiln mine` end to end on a real library's history: toolz 1.1.0 and 1.2.0 from PyPI committed in
order, then a pull request merged on top (a real fix to `nth` with its test), then a commit whose fix adds a
module (its task's bug removes the file, its gold patch creates it). Mining it (interrupted by
`kill -9` once and resumed) must give tasks that `rollout --model oracle` resolves and `--model noop`
does not, through the same grader agents face, with one venv for the two states that share their
dependencies. Mining again on the shared two-node Ray cluster, a worker killed mid-change, must decide
the same.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tasks_helpers import TOOLZ, fetch_sdist
from typer.testing import CliRunner

from codekiln.cli.mine import app as mine_app
from codekiln.core.executor import ExecutorConfig
from codekiln.core.records import iter_jsonl
from codekiln.envs import env_sandbox, load_env
from codekiln.rollouts.engine import RolloutConfig, run_rollouts
from codekiln.tasks.export.datasets import from_hf_row, to_hf_row
from codekiln.tasks.history.mine import REJECTED, TASKS, MineConfig, MineResult, mine, read_decisions
from codekiln.tasks.records import TaskRecord, TaskSource
from codekiln.tasks.validation.testexec import FreshExecutor, Job, WarmExecutor
from codekiln.testing import git
from codekiln.testing.ray_cluster import LocalRayCluster, kill_during

pytestmark = [pytest.mark.root, pytest.mark.network]  # sdists from the index; bwrap sandboxes

PR_TITLE = "nth() raises StopIteration instead of IndexError when an iterator is too short"
FIXED_NTH = """        try:
            return next(itertools.islice(seq, n, None))
        except StopIteration:
            raise IndexError("nth: the iterator has fewer than n + 1 items") from None
"""
NTH_TEST = """

def test_nth_past_the_end_of_an_iterator():
    try:
        nth(5, iter([1, 2]))
    except IndexError:
        return
    raise AssertionError("nth(5, ...) of two items should raise IndexError")
"""
SPLIT = "2026-01-05"
ADDED_TITLE = "Add sizes(): the length of each of several sequences, as a list"
SIZES = 'def sizes(*seqs):\n    """The length of each sequence."""\n    return [len(s) for s in seqs]\n'
SIZES_TEST = "from toolz._sizes import sizes\n\n\ndef test_sizes():\n    assert sizes([1, 2], ()) == [2, 0]\n"
CUTOFF = "2026-01-01T00:00:00Z"  # the month of both changes: they share a venv, as of that date


def _dated(repo: Path, date: str, *args: str) -> None:
    os.environ["GIT_AUTHOR_DATE"] = os.environ["GIT_COMMITTER_DATE"] = date
    try:
        git(repo, *args)
    finally:
        del os.environ["GIT_AUTHOR_DATE"], os.environ["GIT_COMMITTER_DATE"]


def release_history(dest: Path) -> Path:
    """toolz 1.1.0, then 1.2.0 (one commit per release), then PR #7 merged with --no-ff, then a commit
    adding a module and its test."""
    dest.mkdir(parents=True)
    git(dest, "init", "-q", "-b", "main")
    for version, date in (("1.1.0", "2025-10-01T12:00:00+00:00"), ("1.2.0", "2026-01-02T12:00:00+00:00")):
        src = fetch_sdist(f"toolz=={version}", f"toolz-{version}")
        for child in dest.iterdir():
            if child.name != ".git":
                shutil.rmtree(child) if child.is_dir() else child.unlink()
        shutil.copytree(src, dest, dirs_exist_ok=True, ignore=shutil.ignore_patterns("*.egg-info"))
        git(dest, "add", "-A")
        _dated(dest, date, "commit", "-q", "-m", f"toolz {version}")
    git(dest, "checkout", "-q", "-b", "nth-index")
    code = dest / "toolz" / "itertoolz.py"
    old = "        return next(itertools.islice(seq, n, None))\n"
    assert old in code.read_text()
    code.write_text(code.read_text().replace(old, FIXED_NTH))
    tests = dest / "toolz" / "tests" / "test_itertoolz.py"
    tests.write_text(tests.read_text() + NTH_TEST)
    git(dest, "add", "-A")
    _dated(dest, "2026-01-10T12:00:00+00:00", "commit", "-q", "-m", "nth: IndexError past the end")
    git(dest, "checkout", "-q", "main")
    message = f"Merge pull request #7 from someone/nth-index\n\n{PR_TITLE}"
    _dated(dest, "2026-01-12T12:00:00+00:00", "merge", "-q", "--no-ff", "nth-index", "-m", message)
    (dest / "toolz" / "_sizes.py").write_text(SIZES)
    (dest / "toolz" / "tests" / "test_sizes.py").write_text(SIZES_TEST)
    git(dest, "add", "-A")
    _dated(dest, "2026-01-20T12:00:00+00:00", "commit", "-q", "-m", ADDED_TITLE)
    return dest


def _wait_for_lock_release(lock: Path, timeout: float = 30.0) -> None:
    """Wait until no process holds the killed run's stage lock. A child the run had just forked (and
    not yet exec'd, which closes the descriptor) can hold it a moment longer than the run itself."""
    deadline = time.monotonic() + timeout
    fd = os.open(lock, os.O_RDWR)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                assert time.monotonic() < deadline, f"{lock} still held {timeout} s after the kill"
                time.sleep(0.05)
            else:
                fcntl.flock(fd, fcntl.LOCK_UN)
                return
    finally:
        os.close(fd)


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines(keepends=True) if path.is_file() else []


@pytest.fixture(scope="module")
def mined(tmp_path_factory: pytest.TempPathFactory) -> tuple[MineResult, MineConfig, list[str]]:
    """Mine the history once, killed (-9) after its first decision (the oldest change) and resumed. Returns the result,
    the config and the decision lines written before the kill."""
    fetch_sdist("toolz==1.2.0", TOOLZ)
    root = tmp_path_factory.mktemp("mine")
    repo = release_history(root / "toolz")
    config = MineConfig(repo=str(repo), out=root / "out", split_date=SPLIT)
    argv = [sys.executable, "-m", "codekiln.cli.mine", str(repo), "--out", str(config.out)]
    argv += ["--split-date", SPLIT]
    victim = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ)
    )
    deadline = time.monotonic() + 900
    logs = (config.out / TASKS, config.out / REJECTED)
    while not any(_lines(p) for p in logs) and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim.poll() is None, "mine finished before it could be killed"
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    _wait_for_lock_release(config.out / ".lock")
    before = [line for p in logs for line in _lines(p)]
    return mine(config), config, before


def _tasks(result: MineResult) -> list[TaskRecord]:
    return [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]


def test_both_changes_become_tasks_with_their_provenance_and_the_funnel(
    mined: tuple[MineResult, MineConfig, list[str]],
) -> None:
    result, _, _ = mined
    f = result.funnel
    assert (f.commits, f.candidates, f.skipped) == (4, 3, {"root_commit": 1})
    assert (f.tried, f.env_ok, f.failing_test_found, f.validated) == (3, 3, 3, 3), f.rejected
    # PyPI gives upload times; an index that did not would leave the states without a cutoff, saying why
    (note,) = set(f.cutoffs.values())
    cutoff = CUTOFF if note.startswith(f"uploaded before {CUTOFF} (pip ") else ""
    assert cutoff or note.startswith("no cutoff: "), note
    assert {load_env(t.environment_id or "").recipe.cutoff for t in _tasks(result)} == {cutoff}
    assert f.deps_cutoff == (
        f"dependency cutoff applied to 3 of 3 environments ({CUTOFF})" if cutoff else note
    )
    assert json.loads((result.out / "funnel.json").read_text())["validated"] == 3
    release, pr, added = _tasks(result)  # oldest first
    assert pr.source == release.source == TaskSource.history
    assert pr.provenance is not None and release.provenance is not None
    assert (pr.provenance.pr, pr.provenance.kind, pr.provenance.split) == (7, "merge", "test")
    assert (release.provenance.pr, release.provenance.kind, release.provenance.split) == (
        None,
        "commit",
        "train",
    )
    assert pr.provenance.parent == release.provenance.commit  # the PR's base: the branch before it
    assert pr.FAIL_TO_PASS == ["toolz/tests/test_itertoolz.py::test_nth_past_the_end_of_an_iterator"]
    assert "toolz/tests/test_itertoolz.py::test_interpose_empty" in release.FAIL_TO_PASS  # new in 1.2.0
    assert pr.hidden_tests == ["toolz/tests/test_itertoolz.py"] and "test_nth_past" in pr.test_patch
    # the PR's own words describe the problem; a release's message does not, so the template writes it
    assert pr.provenance.statement_source == "pr" and pr.problem_statement.startswith(PR_TITLE)
    assert (
        release.provenance.statement_source == "template" and "toolz 1.2.0" not in release.problem_statement
    )
    assert json.loads((result.out / "splits.json").read_text()) == {
        "train": [release.instance_id],
        "test": [pr.instance_id, added.instance_id],
    }


def test_a_fix_that_adds_a_module_is_a_task_whose_bug_removes_it(
    mined: tuple[MineResult, MineConfig, list[str]],
) -> None:
    *_, added = _tasks(mined[0])
    assert added.FAIL_TO_PASS == ["toolz/tests/test_sizes.py::test_sizes"]  # fails to import without it
    assert "deleted file mode" in added.bug_patch and "new file mode" in added.patch
    assert added.hidden_tests == ["toolz/tests/test_sizes.py"] and added.PASS_TO_PASS
    assert added.provenance is not None and added.provenance.statement_source == "commit"


def test_the_engine_removes_a_file_for_a_job_and_puts_it_back(
    mined: tuple[MineResult, MineConfig, list[str]],
) -> None:
    *_, added = _tasks(mined[0])
    env = load_env(added.environment_id or "")
    test = "toolz/tests/test_sizes.py::test_sizes"
    removed = Job("removed", [test], files={"toolz/_sizes.py": None})
    with env_sandbox(env) as sb:
        warm = WarmExecutor(sb, env.test, collect=["toolz/tests/test_sizes.py"])
        try:
            first = warm.run([removed])["removed"]
            after = warm.run([Job("after", [test])])["after"]  # the same session, the file written back
        finally:
            warm.stop()
        fresh = FreshExecutor(sb, env.test).run([removed, Job("again", [test])])
    assert (
        first.reimported == "the bug removes toolz/_sizes.py" and first.runs[0].statuses.get(test) != "passed"
    )
    assert after.runs[0].statuses == {test: "passed"}
    assert fresh["removed"].runs[0].statuses.get(test) != "passed"
    assert fresh["again"].runs[0].statuses == {test: "passed"}


def test_states_with_the_same_dependencies_share_one_venv(
    mined: tuple[MineResult, MineConfig, list[str]],
) -> None:
    result, _, _ = mined
    envs = [load_env(t.environment_id or "") for t in _tasks(result)]
    assert len({e.id for e in envs}) == 3 and len({e.snapshot_id for e in envs}) == 3
    assert len({e.venv for e in envs}) == 1
    assert result.funnel.env_builds <= 1  # 0 when an earlier run of this test home built it


def test_a_kill_9_loses_nothing_written_and_the_rerun_decides_the_rest_once(
    mined: tuple[MineResult, MineConfig, list[str]],
) -> None:
    result, config, before = mined
    after = _lines(config.out / TASKS) + _lines(config.out / REJECTED)
    assert len(before) == 1 and before[0] in after
    assert result.new_decisions == 2 and len(after) == 3
    assert mine(config).new_decisions == 0  # a finished directory is left as it is


def test_the_command_prints_the_funnel_of_a_finished_directory(
    mined: tuple[MineResult, MineConfig, list[str]],
) -> None:
    _, config, _ = mined
    argv = [config.repo, "--out", str(config.out), "--split-date", SPLIT]
    res = CliRunner().invoke(mine_app, argv, terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "4 commits -> 3 candidates" in res.output and "-> 3 valid" in res.output
    assert "(0 candidates" in res.output


@pytest.mark.parametrize(("model", "resolved"), [("oracle", 3), ("noop", 0)])
def test_rollout_oracle_resolves_the_mined_tasks_and_noop_does_not(
    mined: tuple[MineResult, MineConfig, list[str]], tmp_path: Path, model: str, resolved: int
) -> None:
    result, _, _ = mined
    stats = run_rollouts(RolloutConfig(tasks=result.out, out=tmp_path / model, model=model))
    assert (stats.done, stats.resolved, stats.masked) == (3, resolved, 0), stats.errors


def test_mined_tasks_export_like_synthesized_ones_with_their_provenance(
    mined: tuple[MineResult, MineConfig, list[str]],
) -> None:
    result, _, _ = mined
    for task in _tasks(result):
        row = to_hf_row(task)
        assert row["source"] == "history" and row["created_at"] == task.provenance.author_date  # type: ignore[union-attr]
        again = from_hf_row(row)
        assert again.provenance == task.provenance and again.source == TaskSource.history
        assert TaskRecord.from_swebench_row(task.to_swebench_row(extras=True)) == task


def test_excluded_changes_are_counted_and_never_validated(
    mined: tuple[MineResult, MineConfig, list[str]], tmp_path: Path
) -> None:
    result, config, _ = mined
    release, _, added = _tasks(result)
    exclude = tmp_path / "benchmark.txt"
    commits = "".join(f"toolz@{t.provenance.commit[:12]}\n" for t in (release, added) if t.provenance)
    exclude.write_text(f"pytoolz__toolz-7\n{commits}")
    again = mine(MineConfig(repo=config.repo, out=tmp_path / "out", exclude=exclude))
    f = again.funnel
    assert (f.candidates, f.tried, f.skipped) == (0, 0, {"root_commit": 1, "excluded": 3})


# -- on the shared Ray cluster (tests/conftest.py): the same decisions, a killed worker costs nothing --
MINING = "codekiln:mining"  # the title of a Ray worker deciding a change


def _decisions(out: Path) -> dict[str, dict[str, Any]]:
    """Decisions by candidate id, without how long their runs took."""
    found: dict[str, dict[str, Any]] = {}
    for name in (TASKS, REJECTED):
        for row in iter_jsonl(out / name):
            validation = row.get("validation") or {}
            validation.pop("duration_s", None)
            if "detail" in validation:
                validation["detail"] = re.sub(r"\d+(\.\d+)? s\b", "N s", validation["detail"])
            assert row["candidate_id"] not in found, f"{row['candidate_id']} was decided twice"
            found[row["candidate_id"]] = row
    return found


@pytest.fixture(scope="module")
def cluster(
    ray_cluster_starting: LocalRayCluster, mined: tuple[MineResult, MineConfig, list[str]]
) -> LocalRayCluster:
    return ray_cluster_starting.ready()


def test_mining_on_two_nodes_decides_the_same_and_a_killed_worker_costs_only_its_change(
    cluster: LocalRayCluster, mined: tuple[MineResult, MineConfig, list[str]], tmp_path: Path
) -> None:
    result, config, _ = mined
    where = ExecutorConfig(kind="ray", address=cluster.address)
    on_ray = config.model_copy(update={"out": tmp_path / "ray", "executor": where, "workers": 2})
    with kill_during(cluster, MINING) as killed:
        again = mine(on_ray)
    assert len(killed) == 1, "no change was seen being decided"
    assert "lost" not in again.per_node and sum(again.per_node.values()) == again.new_decisions == 3
    assert _decisions(on_ray.out) == _decisions(result.out)
    assert (on_ray.out / "splits.json").read_text() == (result.out / "splits.json").read_text()
    assert (again.funnel.validated, again.funnel.env_builds) == (3, 0)  # the local run's environments
