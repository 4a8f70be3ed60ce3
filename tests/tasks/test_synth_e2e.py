"""End to end on a real small library (toolz 1.2.0 from PyPI): `synthesize` builds the environment and
the coverage map, generates candidates and validates them; every task it writes must then pass the
real grader (fresh sandbox, `git apply`, tests restored, a fresh pytest process) with its gold patch,
fail it with the empty patch, and hide its failing tests from the agent's workspace only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from synth_support import TOOLZ
from typer.testing import CliRunner

from codekiln.cli.synth import app as synth_app
from codekiln.cli.tasks import app as tasks_app
from codekiln.core.errors import ConfigError
from codekiln.grading import grade_patch, open_task_sandbox, workspace_patch
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, SynthResult, read_decisions, synthesize

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

MAX_TASKS = 5


@pytest.fixture(scope="module")
def synth_run(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    out = tmp_path_factory.mktemp("synth") / "toolz"
    return synthesize(SynthConfig(spec=TOOLZ, out=out, max_tasks=MAX_TASKS, workers=1, batch_size=8))


@pytest.fixture(scope="module")
def tasks(synth_run: SynthResult) -> list[TaskRecord]:
    return [d for d in read_decisions(synth_run.out) if isinstance(d, TaskRecord)]


def test_synthesis_writes_validated_tasks_and_the_funnel(
    synth_run: SynthResult, tasks: list[TaskRecord]
) -> None:
    assert len(tasks) == MAX_TASKS == synth_run.funnel.validated
    assert len({t.instance_id for t in tasks}) == MAX_TASKS
    f = synth_run.funnel
    assert f.tried == f.validated + sum(f.rejected.values()) >= MAX_TASKS
    assert sum(row[0] for row in f.per_mutator.values()) == f.tried
    assert (synth_run.out / "funnel.json").is_file() and (synth_run.out / "manifest.json").is_file()
    for t in tasks:
        assert t.FAIL_TO_PASS and t.problem_statement and t.bug_patch and t.patch
        assert t.environment_id == synth_run.env.id and t.base_commit == synth_run.env.snapshot_id
        assert set(t.FAIL_TO_PASS).isdisjoint(t.PASS_TO_PASS)
        assert t.validation is not None and t.validation.reruns == 3
        # compact: every selected test passed before and with the gold patch, counted; `after` keeps F2P.
        # PASS_TO_PASS adds the other clean-passing tests of the hidden files, which were not selected
        selected = t.validation.counts["gold"].get("passed", 0)
        assert t.validation.counts["before"] == t.validation.counts["gold"] == {"passed": selected}
        assert len(t.FAIL_TO_PASS) <= selected <= len(t.tests)
        in_hidden = [x for x in t.PASS_TO_PASS if x.split("::", 1)[0] in set(t.hidden_tests)]
        assert len(in_hidden) >= len(t.tests) - selected
        assert set(t.validation.after) == set(t.FAIL_TO_PASS) and not t.validation.before


def test_gold_patch_resolves_every_task_and_the_empty_patch_none(
    synth_run: SynthResult, tasks: list[TaskRecord]
) -> None:
    gold = [grade_patch(t, synth_run.env, t.patch) for t in tasks]
    empty = [grade_patch(t, synth_run.env, "") for t in tasks]
    assert [g.outcome for g in gold] == ["resolved"] * len(tasks), [g.detail for g in gold]
    assert [e.outcome for e in empty] == ["unresolved"] * len(tasks), [e.detail for e in empty]
    for t, e in zip(tasks, empty, strict=True):
        assert all(e.statuses.get(x) != "passed" for x in t.FAIL_TO_PASS)


def test_hidden_tests_are_absent_for_the_agent_and_present_at_grading(
    synth_run: SynthResult, tasks: list[TaskRecord]
) -> None:
    task = tasks[0]
    snapshot = Path(synth_run.env.snapshot_path)
    with open_task_sandbox(task, synth_run.env) as sb:
        for rel in task.hidden_tests:
            assert sb.exec(["test", "-e", rel], cwd=sb.workdir).exit_code == 1
        bug_file = task.entities[0].split("::")[0]
        assert sb.read_file(bug_file).decode() != (snapshot / bug_file).read_text()
        # An "agent" that games the grader with a conftest.py turning every failure into a pass...
        hook = "    outcome = yield\n    outcome.get_result().outcome = 'passed'\n"
        sb.write_file(
            "conftest.py",
            f"import pytest\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport():\n{hook}",
        )
        hack_only = workspace_patch(task, sb, snapshot)
        # ... and then really fixes the bug by writing the original file back.
        sb.write_file(bug_file, (snapshot / bug_file).read_text())
        fixed = workspace_patch(task, sb, snapshot)
    assert "conftest.py" in hack_only and bug_file not in hack_only and bug_file in fixed
    assert (
        grade_patch(task, synth_run.env, hack_only).outcome == "unresolved"
    )  # the conftest is removed first
    graded = grade_patch(task, synth_run.env, fixed)
    assert graded.outcome == "resolved"
    assert all(graded.statuses[x] == "passed" for x in task.FAIL_TO_PASS)  # they live in the hidden files
    assert {x.split("::")[0] for x in task.FAIL_TO_PASS} <= set(task.hidden_tests)
    assert (
        grade_patch(
            task,
            synth_run.env,
            "diff --git a/nope.py b/nope.py\n--- a/nope.py\n+++ b/nope.py\n@@ -1 +1 @@\n-x\n+y\n",
        ).outcome
        == "patch_failed"
    )


def test_tasks_cli_lists_shows_and_counts(synth_run: SynthResult, tasks: list[TaskRecord]) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})
    stats = runner.invoke(tasks_app, ["stats", str(synth_run.out)])
    assert stats.exit_code == 0, stats.output
    assert stats.output.strip().splitlines()[-1] == f"{MAX_TASKS} tasks valid"
    listed = runner.invoke(tasks_app, ["list", str(synth_run.out)])
    assert listed.exit_code == 0 and tasks[0].instance_id[:20] in listed.output
    shown = runner.invoke(tasks_app, ["show", str(synth_run.out), tasks[0].candidate_id or ""])
    assert shown.exit_code == 0 and tasks[0].FAIL_TO_PASS[0] in shown.output
    exported = runner.invoke(tasks_app, ["export", str(synth_run.out), "--format", "swebench"])
    assert exported.exit_code == 0, exported.output
    rows = [json.loads(line) for line in (synth_run.out / "swebench/swebench.jsonl").read_text().splitlines()]
    assert [r["instance_id"] for r in rows] == [t.instance_id for t in tasks]
    assert {r["repo"] for r in rows} == {"pytoolz/toolz"} and (
        synth_run.out / "swebench" / rows[0]["git_repo"]
    ).is_dir()
    assert json.loads(rows[0]["FAIL_TO_PASS"]) == tasks[0].FAIL_TO_PASS


def test_synth_cli_resumes_a_finished_run_and_refuses_another_config(synth_run: SynthResult) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})
    again = runner.invoke(
        synth_app, [TOOLZ, "--out", str(synth_run.out), "--max-tasks", str(MAX_TASKS), "--workers", "1"]
    )
    assert again.exit_code == 0, again.output
    assert f"{MAX_TASKS} tasks" in again.output and "0 candidates decided" in again.output
    assert "yield per mutator" in again.output
    other = runner.invoke(synth_app, [TOOLZ, "--out", str(synth_run.out), "--seed", "7"])
    assert isinstance(other.exception, ConfigError) and "--redo" in str(other.exception.hint)
