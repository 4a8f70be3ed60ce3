"""The twenty-fifth red team (exported verifiers): the twin's run told apart, within the run, by how its
changed literals are spelt. Library and attack in `redteam25v_bodies.py`.

- **spelling** (`hexlib`, a library written here: `mask(n)` sets the lowest n bits, its test `assert
  mask(3) == 0x7`): the twenty-second's importer-bytes reading `mask(...) == <literal>` from the text the
  guard's finder keeps, each answer taken only where the literal is spelt otherwise than Python writes
  its value (`0x7`, not `7`: `ast.get_source_segment` against `repr`). A twin writes a changed int as
  `str(value + k)` (`8`) and a float as its `repr`: in the twin's run nothing is read and the twin fails
  as the gold does; in the real run the hex answers are read. Reward 1 with the bug in place under the
  Harbor verifier in either order of its runs, `resolved` under `grade_patch`: no mark, no order to
  guess. Any suite that spells its answers its own way (hex, `1_000`, `1e3`, `.5`, `2.50`) is open to it.

Controls: the gold resolves; the same read taking every literal is `tampered` (`answers_read`); the
plumbing walking nothing leaves the bug failing; the twin does rewrite the answers in decimal.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam22a_bodies import IMPORTERS
from redteam25v_bodies import HEXLIB, HEXLIB_CODE, HEXLIB_TESTS, SPELLING, SPELT
from rollout_support import library_tasks, setuptools_pyproject, the_task
from test_verifier_isolation import harbor_trial

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.twins import twin_files
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, and the verifiers as real root in bwrap

Task = tuple[TaskRecord, EnvRecord]
TIMEOUT = 60.0
MASK = "tests/test_hex.py::test_mask"
OPEN = (
    "open: a twin writes a changed literal as Python writes its value (`str`, `repr`), so a literal the "
    "suite spells otherwise is the real run's, told apart within the run"
)


@pytest.fixture(scope="module")
def hexed() -> Task:
    found = library_tasks(
        {HEXLIB: HEXLIB_CODE, "tests/test_hex.py": HEXLIB_TESTS, "pyproject.toml": setuptools_pyproject("hexlib")},
        "hex-library", "audit-tasks-hexlib", 1, functions=["mask"], mutators=["change_arith_op"],
    )  # fmt: skip
    return the_task(found, lambda t: MASK in t.FAIL_TO_PASS, "mask()'s arithmetic changed")


def spelling(t: TaskRecord, env: EnvRecord, check: str = SPELT, importers: str = IMPORTERS) -> str:
    code = SPELLING.replace("{spelt_check}", check).replace("{importers}", importers)
    return Target.of(t, Path(env.snapshot_path)).append(HEXLIB, code)


def trial(t: TaskRecord, env: EnvRecord, patch: str, work: Path, order: str) -> tuple[str, dict[str, Any]]:
    return harbor_trial(t, env, patch, work, {"CODEKILN_TWIN_ORDER": order})


def test_spelling_controls(hexed: Task, tmp_path: Path) -> None:
    t, env = hexed
    (twin,) = twin_files(Path(env.snapshot_path), list(t.FAIL_TO_PASS), seed=t.instance_id).values()
    assert "0x" not in twin, twin  # the answers rewritten in decimal
    reward, grade = trial(t, env, t.patch, tmp_path / "gold", "real-first")
    assert (reward, grade["outcome"]) == ("1", "resolved"), grade
    reward, grade = trial(t, env, spelling(t, env, importers="[]"), tmp_path / "noread", "real-first")
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade
    reward, grade = trial(t, env, spelling(t, env, check="True"), tmp_path / "every", "real-first")
    assert (reward, grade["outcome"], grade["reason"]) == ("0", "tampered", "answers_read"), grade


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=OPEN)
@pytest.mark.parametrize("order", ["real-first", "twin-first"])
def test_spelling_under_the_harbor_verifier(hexed: Task, tmp_path: Path, order: str) -> None:
    t, env = hexed
    reward, grade = trial(t, env, spelling(t, env), tmp_path, order)
    assert reward == "0", grade  # 1: the bug is in place (its twin's run `unresolved`, as the gold's)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason=OPEN)
def test_spelling_under_grade_patch(hexed: Task) -> None:
    t, env = hexed
    grade = grade_patch(t, env, spelling(t, env), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
