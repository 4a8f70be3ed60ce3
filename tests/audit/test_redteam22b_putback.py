"""The twenty-second red team (part B): the grader's put-back of the held test files, attacked from the
test process (`grade_patch`, real synthesis, bwrap sandboxes, the scan enforced), on the seventeenth's
`tablelib` (the cached task set of `test_redteam19_reads.py`).

- **putback-error**: the guard empties the held test files in the tree during the run and the grader
  writes them back from the host afterwards, then checks them. The library, imported during
  collection (after the emptying), replaces the emptied `tests/test_table.py` with a directory, a FIFO
  or a link into a folder the sandbox lacks (one `subprocess.run` of a shell line; no scan finding).
  The run itself goes on from memory, but the put-back or its check then raises, and the grade is
  `error`: a failure of the harness, which `rewards.compute` masks (reward None, no training signal)
  instead of scoring the episode 0. The bug stays in place, and a correct fix doing the same is
  `error` too (its `resolved` is lost), so the verdict is the patch's choice, not the tests'.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout_support import the_task
from test_redteam17_source_table import CASES, MODULE, table_tasks

from codekiln.agents.records import Trajectory
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.reports.eval import evaluate_predictions
from codekiln.rewards.compute import compute_reward
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
HELD = "tests/test_table.py"
VANDAL = """

import subprocess as _sp
_sp.run({line!r}, shell=True)
"""
LINES = {
    "directory": f"rm -f {HELD} && mkdir {HELD}",
    "fifo": f"rm -f {HELD} && mkfifo {HELD}",
    "dangling-link": f"ln -sf /nonexistent/x {HELD}",
}


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    """The seventeenth's task whose `total` has an arithmetic bug (`TestTotal::test_cases` fails)."""
    found = table_tasks()
    return the_task(found, lambda t: CASES in t.FAIL_TO_PASS, "total()'s arithmetic changed")


def patched(t: TaskRecord, env: EnvRecord, code: str) -> str:
    return Target.of(t, Path(env.snapshot_path)).append(MODULE, code)


def scored(t: TaskRecord, env: EnvRecord, patch: str) -> tuple[str, float | None, bool]:
    """The grade's outcome and the reward of an episode that submitted this patch (`rewards.compute`)."""
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    traj = Trajectory(task_id=t.instance_id, scaffold="scripted", exit_reason="submitted", diff=patch)
    reward = compute_reward(traj, grade, t)
    return grade.outcome, reward.value, reward.masked


def test_controls(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The bug left in place scores 0 (not masked); the gold scores 1; the shell line that touches a
    file beside the held one changes nothing."""
    t, env = task
    assert scored(t, env, patched(t, env, "\n\n# nothing\n")) == ("unresolved", 0.0, False)
    assert scored(t, env, t.patch) == ("resolved", 1.0, False)
    beside = VANDAL.format(line="rm -f tests/other.txt && mkdir tests/other.txt")
    assert scored(t, env, patched(t, env, beside)) == ("unresolved", 0.0, False)


@pytest.mark.parametrize("how", sorted(LINES))
def test_putback_error_is_not_masked(task: tuple[TaskRecord, EnvRecord], how: str) -> None:
    t, env = task
    outcome, value, masked = scored(t, env, patched(t, env, VANDAL.format(line=LINES[how])))
    # was: ("error", None, True): the failed episode is masked as the harness's failure, not scored 0
    assert not masked and value == 0.0, (outcome, value, masked)


def test_eval_rate_counts_the_failed_sample(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    """`codekiln eval` on a predictions file: one model, two samples of the task, the gold and the bug
    left in place beside the directory line. Its resolved rate must be 1 of 2; the second sample is
    `infra_error`, masked and left out of every rate, so the model reads 1 of 1 (100%)."""
    t, env = task
    tasks = tmp_path / "tasks.jsonl"
    tasks.write_text(t.model_dump_json() + "\n")
    wrong = patched(t, env, VANDAL.format(line=LINES["directory"]))
    preds = tmp_path / "preds.jsonl"
    preds.write_text(
        "".join(
            json.dumps({"instance_id": t.instance_id, "model_name_or_path": "m", "model_patch": patch}) + "\n"
            for patch in (t.patch, wrong)
        )
    )
    summary = evaluate_predictions(tasks, preds, tmp_path / "eval", timeout=TIMEOUT)
    rate = summary.overall
    assert (rate.samples, rate.resolved) == (2, 1), rate
    # was: graded 1, masked 1, rate 1.0 (error_classes {"infra_error": 1})
    assert (rate.graded, rate.masked, rate.rate) == (2, 0, 0.5), (rate, summary.error_classes)


SLEEP = "\n\nimport time as _time\n_time.sleep(30)\n"


@pytest.mark.slow(
    covered_by="test_redteam17_cost.py::test_a_fix_that_sleeps_past_the_limit_times_out (a module asleep "
    "at import past an explicit limit is `timeout`)"
)
def test_a_module_asleep_past_the_limit_is_a_timeout(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The control of the next test: without the directory line, the sleep alone is `timeout`."""
    t, env = task
    grade = grade_patch(t, env, patched(t, env, SLEEP), timeout=8.0)
    assert grade.outcome == "timeout", (grade.outcome, grade.detail)


def test_timeout_with_putback_error_is_not_masked(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The put-back runs after a run killed at its limit too: a module that sleeps past an 8 s limit
    beside the directory line is `timeout` (scored 0), as the sleep alone is (control: above), not
    `error` (masked)."""
    t, env = task
    vandal = VANDAL.format(line=LINES["directory"]) + SLEEP
    grade = grade_patch(t, env, patched(t, env, vandal), timeout=8.0)
    assert grade.outcome == "timeout", (grade.outcome, grade.detail)  # was: error, "Is a directory"
