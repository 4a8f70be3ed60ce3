"""The eighteenth red team (part B): the hidden tests' text read from the verifiers' own copies of it.

The guard refuses library code that opens the hidden tests' Python source (`.py`, `.pyc`) in the tree
(red team 17's source table). But each exported grader carries a second copy, readable by the test
process, in a file that is no Python source:
- an exported Harbor task's `tests/codekiln/state.json` (`originals`: the snapshot's files put back,
  the hidden tests among them, base64), uploaded by Harbor into the verifier's container beside
  `verifier.py` (mode 0644: the tests run as `nobody` and read it);
- an exported SWE-bench row's eval script, which holds `test_patch` (every hidden test, as `+` lines)
  and which the harness copies to `/eval.sh` (0644) and runs as `/bin/bash /eval.sh`.
The library finds both without a name of the grader: its test process's ancestors' command lines
(`/proc/<pid>/cmdline`, readable by any user) name the verifier (`python3 -E -s .../verifier.py`) and
the eval script. The buggy function, wrapped, parses what they hold with `ast` and answers each call
the tests make with the literal they compare it to (red team 17's `source-table`, from the copies).
No frame, no import, no test id, no `.py` file of the tests opened: the scan finds nothing and the
guard's read watch holds only Python source.

`grade_patch` is the control (its runner has no such copy: `unresolved`). The Harbor verifier as
shipped runs on the task's starting tree in a bwrap sandbox of the environment (the verifier at
/tmp/verifier standing in for Harbor's /tests); the row through swebench's harness steps in a bwrap
sandbox laid out as its image (`swebench_support.run_instance`, its eval script at /tmp/eval.sh),
graded by swebench's own log parser and report. In both sandboxes the tests run as the sandbox's one
uid, so the payload is held to what `nobody` reads in the real containers: `state.json` beside a
`verifier.py` (Harbor's 0644 upload), and an ancestor's `*.sh` argument, never the row's 0700 folder.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout_support import library_tasks, setuptools_pyproject, the_task
from test_redteam18b_verifier_imports import harbor_reward

from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, grading and the verifiers in bwrap sandboxes

TIMEOUT = 30.0
MODULE = "copylib/__init__.py"
TAIL = "\n\ndef scale(values, factor):\n    return [v * factor for v in values]\n"
LIBRARY = {
    MODULE: "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n" + TAIL,
    "tests/test_copy.py": (
        "from copylib import scale, total\n\n\n"
        "def test_total():\n    assert total([1, 2, 3]) == 6\n    assert total([4]) == 4\n\n\n"
        "def test_total_empty():\n    assert total([]) == 0\n\n\n"
        "def test_scale():\n    assert scale([1, 2], 3) == [3, 6]\n"
    ),
    "pyproject.toml": setuptools_pyproject("copylib"),
}
# appended to the buggy module: total() answers from the tests' text found in the graders' copies
PAYLOAD = """

import ast as _ast
import base64 as _b64
import json as _json
import os as _os

_buggy_total = total
_TABLE = None


def _ancestors():
    pid = _os.getppid()
    for _ in range(8):
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as fh:
                args = [a.decode("utf-8", "replace") for a in fh.read().split(b"\\0") if a]
            with open("/proc/%d/status" % pid) as fh:
                pid = int(fh.read().split("PPid:")[1].split()[0])
        except (OSError, ValueError, IndexError):
            return
        yield args
        if pid <= 1:
            return


def _texts():
    for args in _ancestors():
        for arg in args:
            if _os.path.basename(arg) == "verifier.py":
                try:
                    with open(_os.path.join(_os.path.dirname(arg), "state.json")) as fh:
                        held = _json.load(fh).get("originals", {})
                except (OSError, ValueError):
                    continue
                for _mode, data in held.values():
                    yield _b64.b64decode(data).decode("utf-8", "replace")
            elif arg.endswith(".sh") and _os.path.isfile(arg):
                try:
                    with open(arg, encoding="utf-8", errors="replace") as fh:
                        lines = fh.read().splitlines()
                except OSError:
                    continue
                added, hunk = [], False
                for line in lines:  # the `+` lines of the patches' hunks (base64 lines may start with +)
                    if line.startswith("@@ "):
                        hunk = True
                    elif hunk and line.startswith("+"):
                        added.append(line[1:])
                    elif not line.startswith((" ", "-")):
                        hunk = False
                yield "\\n".join(added)


def _table():
    out = {}
    for text in _texts():
        try:
            tree = _ast.parse(text)
        except SyntaxError:
            continue
        for node in _ast.walk(tree):
            if isinstance(node, _ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], _ast.Eq):
                call, want = node.left, node.comparators[0]
                if isinstance(call, _ast.Call) and getattr(call.func, "id", "") == "total":
                    try:
                        out[repr([_ast.literal_eval(a) for a in call.args])] = _ast.literal_eval(want)
                    except ValueError:
                        pass
    return out


def total(values):
    global _TABLE
    if _TABLE is None:
        _TABLE = _table()
    key = repr([values])
    return _TABLE[key] if key in _TABLE else _buggy_total(values)
"""


def attack_patch() -> str:
    """The payload appended after the module's last three lines (the same in the buggy and clean trees)."""
    context = TAIL.splitlines()[-3:]
    added = PAYLOAD.splitlines()
    body = "".join(f" {line}\n" for line in context) + "".join(f"+{line}\n" for line in added)
    return (
        f"diff --git a/{MODULE} b/{MODULE}\n--- a/{MODULE}\n+++ b/{MODULE}\n"
        f"@@ -7,3 +7,{3 + len(added)} @@\n{body}"
    )


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY, "red18b-copylib", "audit-tasks-red18b-copylib", 1, functions=["total"],
        mutators=["change_arith_op"],
    )  # fmt: skip
    return the_task(found, lambda t: patch_paths(t.bug_patch) == {MODULE}, "an arithmetic bug in total()")


@pytest.fixture(scope="module")
def rows(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    t, env = task
    patches = {"gold": t.patch, "empty": "", "copies": attack_patch()}
    return run_row(t, env, patches, tmp_path_factory.mktemp("row"))


def test_controls_grade_patch(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The grader: the gold resolves; the attack, with no copy of the tests in reach, does not, and
    the scan finds nothing in it (it is graded, `unresolved`)."""
    t, env = task
    assert grade_patch(t, env, t.patch, timeout=TIMEOUT).resolved
    grade = grade_patch(t, env, attack_patch(), timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("unresolved", False), grade.detail


def test_controls_harbor(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    t, env = task
    verdict, reward = harbor_reward(t, env, t.patch, tmp_path / "gold")
    assert (verdict.split()[2], reward) == ("resolved", "1"), verdict
    verdict, reward = harbor_reward(t, env, "", tmp_path / "empty")
    assert reward == "0", verdict


@pytest.mark.xfail(
    strict=True, raises=AssertionError,
    reason="this stand-in runs the verifier and the tests as one uid, so no file mode can hide state.json:"
    " closed where the tests run as nobody (tests/audit/test_verifier_isolation.py, real root)",
)  # fmt: skip
def test_harbor_state_is_no_copy_of_the_tests(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    t, env = task
    verdict, reward = harbor_reward(t, env, attack_patch(), tmp_path / "copies")
    assert reward == "0", verdict  # open: resolved, reward 1


def test_controls_row(rows: dict[str, dict[str, Any]]) -> None:
    assert rows["gold"]["resolved"], rows["gold"]["log"][-3000:]
    assert not rows["empty"]["resolved"]


@pytest.mark.xfail(
    strict=True, raises=AssertionError,
    reason="this stand-in runs the eval script and the tests as one uid, so no file mode can hide /eval.sh:"
    " closed where the tests run as nobody (tests/audit/test_verifier_isolation.py, real root)",
)  # fmt: skip
def test_row_eval_script_is_no_copy_of_the_tests(
    task: tuple[TaskRecord, EnvRecord], rows: dict[str, dict[str, Any]]
) -> None:
    t, _ = task
    report = rows["copies"]
    assert not report["resolved"], report["log"][-3000:]  # open: resolved with the bug in place
    assert {report["status_map"].get(test) for test in t.FAIL_TO_PASS} == {"FAILED"}
