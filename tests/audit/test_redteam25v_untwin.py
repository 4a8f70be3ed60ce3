"""The twenty-fifth red team (exported verifiers): a patch that leaves the bug in place and undoes the twin's
change to the answers it reads, so that no run needs telling from another. Bodies in `redteam25v_bodies.py`.

- **untwin** (`paramlib`'s `show` task of the twenty-fourth, its `test_show` comparing `show(1, 2) ==
  "3\\n"`): the twenty-fourth's escaped-strings (importer-bytes reading those comparisons from the text
  the guard's finder keeps), each string it reads that holds a letter or digit twice in a row given back
  with one of them dropped. The twin types one of a string's own letters or digits twice (`"33\\n"`), so
  the twin's run gets the real answer and fails its twin as the gold does, and the real run gets the
  real answer too: `resolved` with the bug in place under the exported Harbor verifier (as real root in
  bwrap, the tests dropped to `nobody`) in either order of its runs, under the SWE-bench row's eval
  script, and under `grade_patch` (the three runs, the order drawn). **Closed**: a string's twin now
  replaces one of its letters or digits with another of its kind (`"3\n"` -> `"4\n"`), so there is
  nothing to undo; the answers read in the twin's run are the twin's, and the attack is `tampered`.
- **unscale** (the seventeenth's `tablelib`, its `mean` task: `mean([1, 2, 3]) == 2.0`, `mean([7]) ==
  7.0`): the same read of `mean`'s comparisons; a twin scales a float by 1 + k/8, which leaves values
  no one writes (`2.25`, `9.625`), so of the value read and the three it could be the twin of, the
  shortest written (a whole one first) is taken: `resolved` the same ways. **Closed**: a twin replaces one of
  a float's own nonzero digits by another (`grading.twin_numbers`: `2.0` -> `3.0`, `7.0` -> `1.0`),
  written as short as the real one, which many real values give: the undo leaves the twin's value, the
  twin's run passes its twin, `tampered`.

Controls: the gold resolves under the Harbor verifier; the same plumbing reading nothing (`[]` walked)
leaves the bug failing; the read without the undo is `tampered` (`answers_read`; for strings the
twenty-fourth's escaped-strings, closed), so the undo alone beats the twin. The twins do change each
answer. Ints (+1..3) and bools (flipped) have no such undo: `tablelib`'s `total` is not attacked here.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam22a_bodies import IMPORTERS
from redteam24_bodies import ESCAPED, PARAMLIB, SHOW
from redteam25v_bodies import SCALED, UNSCALE, UNTWIN
from redteam_fixtures import grade_on
from rollout_support import the_task
from test_redteam17_source_table import MODULE, PLAIN, table_tasks
from test_redteam24_twins import appended, param, twin_of
from test_verifier_isolation import harbor_trial, row_trials
from tiering import paths

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, and the verifiers as real root in bwrap

__all__ = ["param"]  # the twenty-fourth's module fixture: `paramlib`'s tasks
Task = tuple[TaskRecord, EnvRecord]
TIMEOUT = 60.0


@pytest.fixture(scope="module")
def mean_task() -> Task:
    """The seventeenth's task whose `mean` has an arithmetic bug (`test_mean`, `test_mean_one` fail)."""
    return the_task(table_tasks(), lambda t: PLAIN in t.FAIL_TO_PASS, "mean()'s arithmetic changed")


def untwin(t: TaskRecord, env: EnvRecord, importers: str = IMPORTERS) -> str:
    return appended(t, env, PARAMLIB, UNTWIN.replace("{importers}", importers))


def unscale(t: TaskRecord, env: EnvRecord, code: str = UNSCALE, importers: str = IMPORTERS) -> str:
    return Target.of(t, Path(env.snapshot_path)).append(MODULE, code.replace("{importers}", importers))


def trial(t: TaskRecord, env: EnvRecord, patch: str, work: Path, order: str) -> tuple[str, dict[str, Any]]:
    """The exported Harbor verifier as root (the tests as `nobody`), its runs in `order`."""
    return harbor_trial(t, env, patch, work, {"CODEKILN_TWIN_ORDER": order})


def test_controls(param: dict[str, Task], tmp_path: Path) -> None:
    t, env = param["show"]
    (twin,) = twin_of(t, env).values()
    assert '== "3\\n"' not in twin and '== "9\\n"' not in twin, twin  # each answer has a digit replaced
    reward, grade = trial(t, env, t.patch, tmp_path / "gold", "real-first")
    assert (reward, grade["outcome"]) == ("1", "resolved"), grade
    reward, grade = trial(t, env, untwin(t, env, "[]"), tmp_path / "noread", "real-first")
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade
    assert grade["statuses"][SHOW] == "failed", grade["statuses"]
    read = appended(t, env, PARAMLIB, ESCAPED.replace("{importers}", IMPORTERS))  # no undo
    reward, grade = trial(t, env, read, tmp_path / "read", "real-first")
    assert (reward, grade["outcome"], grade["reason"]) == ("0", "tampered", "answers_read"), grade


@pytest.mark.parametrize("order", ["real-first", "twin-first"])
def test_untwin_under_the_harbor_verifier(param: dict[str, Task], tmp_path: Path, order: str) -> None:
    t, env = param["show"]
    reward, grade = trial(t, env, untwin(t, env), tmp_path, order)
    assert reward == "0", grade  # 1: the bug is in place (its twin's run `unresolved`, as the gold's)


def test_untwin_under_the_row(param: dict[str, Task], tmp_path: Path) -> None:
    t, env = param["show"]
    report = row_trials(t, env, {"untwin": untwin(t, env)}, tmp_path)["untwin"]
    assert not report["resolved"], report["log"][-3000:]  # resolved: the bug is in place


@pytest.mark.parametrize("path", paths("test_redteam25v_untwin.py", "test_untwin_under_grade_patch"))
def test_untwin_under_grade_patch(param: dict[str, Task], path: str) -> None:
    t, env = param["show"]
    grade = grade_on(t, env, untwin(t, env), path=path, timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place


def test_unscale_controls(mean_task: Task, tmp_path: Path) -> None:
    t, env = mean_task
    (twin,) = twin_of(t, env).values()
    changed = re.findall(r"mean\(\[(?:1, 2, 3|7)\]\) == ([0-9.]+)\n", twin)
    assert len(changed) == 2 and all(re.fullmatch(r"[1-9]\.0", n) for n in changed), twin  # as short
    assert changed != ["2.0", "7.0"] and changed[0] != "2.0" and changed[1] != "7.0", twin
    reward, grade = trial(t, env, t.patch, tmp_path / "gold", "twin-first")
    assert (reward, grade["outcome"]) == ("1", "resolved"), grade
    reward, grade = trial(t, env, unscale(t, env, importers="[]"), tmp_path / "noread", "twin-first")
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade
    reward, grade = trial(t, env, unscale(t, env, SCALED), tmp_path / "read", "twin-first")
    assert (reward, grade["outcome"], grade["reason"]) == ("0", "tampered", "answers_read"), grade


@pytest.mark.parametrize("order", ["real-first", "twin-first"])
def test_unscale_under_the_harbor_verifier(mean_task: Task, tmp_path: Path, order: str) -> None:
    t, env = mean_task
    reward, grade = trial(t, env, unscale(t, env), tmp_path, order)
    assert (reward, grade["outcome"], grade["reason"]) == ("0", "tampered", "answers_read"), grade


def test_unscale_under_grade_patch(mean_task: Task) -> None:
    t, env = mean_task
    grade = grade_on(t, env, unscale(t, env), timeout=TIMEOUT)
    assert (grade.outcome, grade.reason) == ("tampered", "answers_read"), (grade.statuses, grade.findings)
