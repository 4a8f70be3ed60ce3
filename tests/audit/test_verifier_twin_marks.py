"""The exported Harbor verifier's twin step (`grading.verifier_twin`) against a library that tells its
second run from its first by a mark the first leaves in the container, on the seventeenth's `tablelib`
(the task of `test_redteam22a_memory.py`), run as its container runs it: real root in bwrap, the tests
dropped to `nobody` (`test_verifier_isolation.as_root`). Bodies in `twin_marks_bodies.py`.

The twin runs second (`CODEKILN_TWIN_ORDER=real-first`), the order in which a mark pays: the first run
(the real one) reads the answers and leaves its mark; were the mark there in the twin's run, the library
would read nothing there, fail the twin as the gold does, and resolve. The verifier kills what the first
run left, puts the tree back and removes what `nobody` made, so the twin's run finds no mark, reads and
passes the twin: `tampered`, `answers_read`. A shell test after the verifier shows that the last run
left its mark (the mark works where it is made: the first run's was removed, not never made).

- files: /tmp, /var/tmp, /dev/shm, the run's HOME, the tree itself;
- held-port: a port held by a child in a session of its own (out of the run's process group);
- sysv-ipc: a System V shared memory segment (`ipcmk`), which outlives every process.

The exported SWE-bench row's eval script runs the same step (`row_verifier`): a file in /tmp and a held
port there too, every status line FAILED with the guard's reason.

Open, by design: a port left in TIME_WAIT (the twenty-third's netns-mark) outlives every process and
cannot be removed without privileges the container lacks; so does the PID counter. Such a mark tells the
second run from the first, and the drawn order makes the first run the twin's one time in two: there the
library reads in the twin's run alone and scores 0 (`twin-first`, `unresolved`), and it resolves where
the real run comes first (a strict xfail). Never `tampered`: a wrong fix may pass a twin too, so a twin's
run counts only beside a real run that resolves.
Controls: the gold resolves in either order, its twin's run `unresolved`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam22a_bodies import IMPORTERS
from redteam23_bodies import NETNS_MARK
from test_redteam17_source_table import CASES, MODULE
from test_redteam22a_memory import task
from test_verifier_isolation import harbor_trial, row_trials
from twin_marks_bodies import LEFT, MARKS, marked

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, and the verifier as real root in bwrap

__all__ = ["task"]  # the memory file's module fixture: the seventeenth's task, `total`'s bug


def patched(t: TaskRecord, env: EnvRecord, code: str) -> str:
    return Target.of(t, Path(env.snapshot_path)).append(MODULE, code.replace("{importers}", IMPORTERS))


def trial(
    t: TaskRecord, env: EnvRecord, patch: str, work: Path, order: str, after: str = ""
) -> tuple[str, dict[str, Any], str]:
    """The exported verifier as root with the runs in `order`: (reward, grade.json, `after`'s output)."""
    reward, grade = harbor_trial(t, env, patch, work, {"CODEKILN_TWIN_ORDER": order}, after)
    return reward, grade, (work / "after.txt").read_text()


@pytest.mark.parametrize("order", ["real-first", "twin-first"])
def test_the_gold_resolves_in_either_order(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, order: str
) -> None:
    t, env = task
    reward, grade, _ = trial(t, env, t.patch, tmp_path, order)
    assert (reward, grade["outcome"]) == ("1", "resolved"), grade
    assert grade["twin"]["order"] == order, grade["twin"]
    assert grade["twin"]["outcome"] == "unresolved", grade["twin"]  # it fails its twin: it computes


@pytest.mark.parametrize("mark", sorted(MARKS))
def test_a_mark_of_the_first_run_does_not_beat_the_twin(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, mark: str
) -> None:
    t, env = task
    check = f"{LEFT[mark]} >/dev/null 2>&1 && echo mark-left || echo no-mark"
    reward, grade, after = trial(t, env, patched(t, env, marked(mark)), tmp_path, "real-first", check)
    assert "mark-left" in after, after  # the last run made its mark: the first's was removed
    assert reward == "0", grade  # resolved: the bug is in place
    assert (grade["outcome"], grade["reason"]) == ("tampered", "answers_read"), grade
    assert {f.get("test") for f in grade["findings"] if f["kind"] == "answers_read"} == {CASES}


def test_a_port_in_time_wait_scores_0_when_the_twin_runs_first(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path
) -> None:
    """The library reads in the first run, the twin's (it passes the twin), and nothing in the real one."""
    t, env = task
    reward, grade, _ = trial(t, env, patched(t, env, NETNS_MARK), tmp_path, "twin-first")
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade
    assert grade["statuses"][CASES] == "failed", grade["statuses"]
    assert (grade["twin"]["outcome"], grade["twin"]["passed"]) == ("resolved", [CASES]), grade["twin"]


@pytest.mark.xfail(
    strict=True,
    reason="open: a TIME_WAIT port outlives the run in the container's network namespace; the drawn "
    "order lets it through one grade in two",
)
def test_a_port_in_time_wait_when_the_real_run_comes_first(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path
) -> None:
    t, env = task
    reward, grade, _ = trial(t, env, patched(t, env, NETNS_MARK), tmp_path, "real-first")
    assert reward == "0", grade  # resolved: the bug is in place


@pytest.mark.parametrize("mark", ["tmp", "held-port"])
def test_nor_the_rows_twin(rows: dict[str, dict[str, Any]], mark: str) -> None:
    report = rows[mark]
    assert not report["resolved"], report["log"][-3000:]  # resolved: the bug is in place
    assert "codekiln guard: tampered answers_read" in report["log"], report["log"][-3000:]
    assert set(report["status_map"].values()) == {"FAILED"}, report["status_map"]


@pytest.fixture(scope="module")
def rows(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    t, env = task
    patches = {mark: patched(t, env, marked(mark)) for mark in ("tmp", "held-port")}
    return row_trials(t, env, patches, tmp_path_factory.mktemp("row"), {"CODEKILN_TWIN_ORDER": "real-first"})
