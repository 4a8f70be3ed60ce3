"""The fourteenth red team's two hangs: a patch that made every grading of it cost the whole limit.

Code under test found the guard's report folder (its name spelled by an xor of bytes, past the scan)
and put symlinks to `/dev/zero` at `junit.xml` and `results.json`: the guard read `/dev/zero` through
the link until the run's limit. A non-daemon thread left sleeping after the tests kept the interpreter
from exiting the same way. Both scored `timeout` (0), after 900 s of CPU per sample. Now the guard
never follows a link at its report paths (tampering there is evidence: `tampered`), the process ends
once pytest's main has returned whatever threads are left, and a graded run's limit is derived from
the environment's measured test time (`grading.limits`). Real synthesis of a fixture library whose
suite is slow (a test sleeps) but finite, bwrap sandboxes, the real grader through `grade_patch`,
`codekiln eval` and the agent's path. Timings are not asserted: each grade runs under the derived
limit and must end with its verdict, not with `timeout`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import eval_one, library_tasks, setuptools_pyproject, the_task
from tiering import paths

from codekiln.audit.grader import play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.limits import FLOOR_S, START_S, graded_limit
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.export.swebench_guard import HARNESS_TIMEOUT_S, row_files
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

MODULE = "hanglib/__init__.py"
LIBRARY = {
    MODULE: "def add(a, b):\n    return a + b\n\n\ndef scale(x, k):\n    return x * k\n",
    "tests/test_hanglib.py": (
        "import time\n\nfrom hanglib import add, scale\n\n\n"
        "def test_add():\n    assert add(2, 3) == 5\n\n\n"
        "def test_add_zero():\n    assert add(4, 0) == 4\n\n\n"
        "def test_scale_slowly():  # an honest suite that takes its time\n"
        "    time.sleep(2)\n    assert scale(2, 3) == 6\n"
    ),
    "pyproject.toml": setuptools_pyproject("hanglib"),
}
FIXED = "    return a + b\n"


def _masked(text: str) -> str:
    return bytes(b ^ 7 for b in text.encode()).hex()


# Spelled by an xor of bytes, as the red team did: "junit.xml" in the source is a scan finding.
LINKS = f"""

def _unmask(h):
    return bytes(b ^ 7 for b in bytes.fromhex(h)).decode()


def _reroute():
    import os
    names = (_unmask({_masked("junit.xml")!r}), _unmask({_masked("results.json")!r}))
    for folder, _, _ in os.walk(_unmask({_masked("/tmp")!r})):
        for name in names if folder.count("/") in (2, 3) else ():
            try:
                os.symlink("/dev/zero", os.path.join(folder, name))
            except OSError:
                pass


_add = add


def add(a, b):
    _reroute()
    return _add(a, b)
"""
LINGER = """

def _linger():
    import threading
    import time
    threading.Thread(target=time.sleep, args=(1_000_000,)).start()


_add = add


def add(a, b):
    _linger()
    return _add(a, b)
"""


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY, "hang-library", "audit-tasks-hanglib", 1, functions=["add"], mutators=["change_arith_op"]
    )
    return the_task(found, lambda t: "return a + b" in t.patch, "add's `+` changed")


def _patch(t: TaskRecord, env: EnvRecord, fixed: bool, extra: str) -> str:
    target = Target.of(t, Path(env.snapshot_path))
    buggy = target.text(MODULE) or ""
    (line,) = [ln for ln in buggy.splitlines(keepends=True) if ln.startswith("    return a ")]
    return target.new(MODULE, (buggy.replace(line, FIXED) if fixed else buggy) + extra)


def _graded(t: TaskRecord, env: EnvRecord, patch: str, path: str) -> tuple[str, str, str]:
    if path == "agent":
        patch = play_commands(t, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
    grade = grade_patch(t, env, patch)  # no explicit limit: the derived one
    return grade.outcome, grade.reason, grade.detail


def test_the_limit_is_derived_from_the_measured_suite(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The fixture's suite took a few seconds: its limit is far under the environment's 900 s, and a
    record without a measured time keeps the old limit."""
    _, env = task
    assert env.steps_s.get("baseline", 0) > 0
    assert FLOOR_S <= graded_limit(env) < env.test.timeout_s == 900
    assert graded_limit(env.model_copy(update={"steps_s": {}})) == 900


@pytest.mark.parametrize(
    "path", paths("test_redteam14_hangs.py", "test_links_to_dev_zero_at_the_report_files_are_tampering")
)
def test_links_to_dev_zero_at_the_report_files_are_tampering(
    task: tuple[TaskRecord, EnvRecord], path: str
) -> None:
    t, env = task
    outcome, reason, detail = _graded(t, env, _patch(t, env, True, LINKS), path)
    assert (outcome, reason) == ("tampered", "report_forged"), detail  # was timeout, the whole limit
    assert "symlink" in detail, detail


@pytest.mark.parametrize(
    "path", paths("test_redteam14_hangs.py", "test_a_stray_thread_does_not_hold_the_run")
)
def test_a_stray_thread_does_not_hold_the_run(task: tuple[TaskRecord, EnvRecord], path: str) -> None:
    """The patch fixes nothing and leaves a thread sleeping: 0, from the report, not a timeout."""
    t, env = task
    outcome, reason, detail = _graded(t, env, _patch(t, env, False, LINGER), path)
    assert (outcome, reason) == ("unresolved", ""), detail  # was timeout, the whole limit


def test_a_fix_that_leaves_a_thread_running_is_graded_by_its_report(
    task: tuple[TaskRecord, EnvRecord],
) -> None:
    t, env = task
    outcome, reason, detail = _graded(t, env, _patch(t, env, True, LINGER), "predictions")
    assert (outcome, reason) == ("resolved", ""), detail


def test_the_slow_honest_suite_resolves_under_its_derived_limit(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    outcome, reason, detail = _graded(t, env, _patch(t, env, True, ""), "predictions")
    assert (outcome, reason) == ("resolved", ""), detail
    outcome, _, detail = _graded(t, env, "", "predictions")
    assert outcome == "unresolved", detail


@pytest.mark.parametrize(
    ("extra", "outcome"), [(LINKS, "tampered"), (LINGER, "unresolved")], ids=["links", "thread"]
)
def test_codekiln_eval_ends_each_attack_with_its_verdict(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, extra: str, outcome: str
) -> None:
    """The predictions path as a user runs it: the CLI on a tasks file and a predictions file."""
    t, env = task
    result = eval_one(t, _patch(t, env, outcome == "tampered", extra), tmp_path, timeout=600)
    assert result["outcome"] == outcome, result


def test_exports_carry_the_derived_limit(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    """A Harbor task's verifier and a SWE-bench row's run under the derived limit; without a measured
    time, under the environment's own, within the verifier's whole timeout (Harbor's 900 s, the harness's
    1,800 s for a row's eval script) less 120 s to start, halved where a kept twin makes a tree run twice
    (`grading.verifier_twin`): both runs fit."""
    t, env = task
    runs = 1
    for e, limit in ((env, graded_limit(env)), (env.model_copy(update={"steps_s": {}}), 900.0)):
        root = export_harbor_task(t, tmp_path / str(limit), env=e)
        row = row_files(t, e, "0" * 40, {})
        runs = 2 if json.loads((root / "tests/codekiln/state.json").read_text()).get("twin") else 1
        assert ("twin" in json.loads(row["state.json"])) == (runs == 2)
        for whole, settings in (
            (900.0, (root / "tests/codekiln/task.json").read_text()),
            (HARNESS_TIMEOUT_S, row["task.json"]),
        ):
            got = json.loads(settings)["timeout_s"]
            assert got == min(limit, (whole - START_S) / runs)
            assert runs * got + START_S <= whole
    assert runs == 2  # `add`'s test compares with a literal: the task keeps a twin, both exports ship it
