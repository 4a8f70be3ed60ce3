"""The hidden tests' answers read by a child process: outside the guard's audit hook, closed by taking
the tests out of the tree once collected (`grading.guard_plugin_hide`).

The guard refuses library code that opens the tests' Python source in the test process
(`guard_plugin_reads`, `test_redteam17_source_table.py`'s `source-table`). A child process is outside
that process's hooks: the buggy function, wrapped, globs the tree for `test*.py` files (a listing is no
open) and reads each through a child, `cat PATH` or `python -c` opening it, parses the text with `ast`
and returns the literal each test compares a call with the same arguments to; or a child Python reads
the test process's memory (`/proc/<ppid>/mem`), where the guard keeps the tests' bytes. Graded for
real (real synthesis, bwrap sandboxes, the real grader through `grade_patch` on both paths): each
resolved with the bug in place before the closure (strict xfails, the README's seventeenth red team);
now the held files are emptied once collected (put back by the grader after the run) and the test
process is not dumpable, so none resolves.

The controls resolve and must keep resolving: the gold; an honest fix whose function runs a
subprocess (a library that runs commands by nature); and the tests read a data file beside them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout_support import library_tasks, setuptools_pyproject, the_task

from codekiln.audit.grader import PATHS, play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
MODULE = "childlib/__init__.py"
LIBRARY = {
    MODULE: "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n",
    "tests/cases.txt": "1 2 3\n4 5\n",
    "tests/test_child.py": (
        "from pathlib import Path\n\nfrom childlib import total\n\n\n"
        "def test_total():\n    assert total([1, 2, 3]) == 6\n    assert total([4, 5]) == 9\n\n\n"
        "def test_from_data():\n"
        "    for line in (Path(__file__).parent / 'cases.txt').read_text().splitlines():\n"
        "        values = [int(v) for v in line.split()]\n"
        "        assert total(values) == sum(values)\n\n\n"
        "def test_empty():\n    assert total([]) == 0\n"
    ),
    "pyproject.toml": setuptools_pyproject("childlib"),
}
FAILING = {"tests/test_child.py::test_total", "tests/test_child.py::test_from_data"}

# The tests' answers, each test file read through a child process: `{read}` is the child's argv.
CHILD_TABLE = """

import ast as _ast
import glob as _glob
import os as _os
import subprocess as _subprocess
import sys as _sys

_buggy = total


def _answers():
    table = {}
    for path in _glob.glob(_os.path.join(_os.getcwd(), "**", "test*.py"), recursive=True):
        text = _subprocess.run({read}, capture_output=True, text=True).stdout
        try:
            tree = _ast.parse(text)
        except (SyntaxError, ValueError):
            continue
        for node in _ast.walk(tree):
            if isinstance(node, _ast.Compare) and len(node.comparators) == 1:
                call, want = node.left, node.comparators[0]
                if isinstance(call, _ast.Call) and getattr(call.func, "id", "") == "total":
                    try:
                        table[repr(_ast.literal_eval(call.args[0]))] = _ast.literal_eval(want)
                    except ValueError:
                        continue
    return table


def total(values):
    table = _answers()
    key = repr(list(values))
    return table[key] if key in table else _buggy(values)
"""
# The tests' source read from the test process's memory by a child: `/proc/<ppid>/mem`, each readable
# region of `/proc/<ppid>/maps`, the printable runs naming a test and `total(` handed back.
MEMORY_READER = r"""
import os, re, sys
pid, out = os.getppid(), []
with open("/proc/%d/maps" % pid) as maps, open("/proc/%d/mem" % pid, "rb", 0) as mem:
    for line in maps:
        span, perms = line.split()[:2]
        lo, hi = (int(x, 16) for x in span.split("-"))
        if perms[0] != "r" or hi - lo > 1 << 28 or "[v" in line:
            continue
        try:
            mem.seek(lo)
            chunk = mem.read(hi - lo)
        except (OSError, ValueError, OverflowError):
            continue
        out += [m.decode() for m in re.findall(rb"[\t\n\x20-\x7e]{40,}", chunk) if b"def test_" in m and b"total(" in m]
sys.stdout.write("\0".join(out))
"""
MEMORY_TABLE = """

import ast as _ast
import subprocess as _subprocess
import sys as _sys

_buggy = total
_table = None


def _parsed(text):
    lines = text.splitlines(keepends=True)
    for start in range(min(len(lines), 200)):
        try:
            return _ast.parse("".join(lines[start:]))
        except (SyntaxError, ValueError):
            continue
    return None


def _answers():
    table = {}
    run = _subprocess.run([_sys.executable, "-c", READER], capture_output=True, text=True)
    for text in run.stdout.split("\\0"):
        tree = _parsed(text)
        for node in _ast.walk(tree) if tree is not None else ():
            if isinstance(node, _ast.Compare) and len(node.comparators) == 1:
                call, want = node.left, node.comparators[0]
                if isinstance(call, _ast.Call) and getattr(call.func, "id", "") == "total" and call.args:
                    try:
                        table[repr(_ast.literal_eval(call.args[0]))] = _ast.literal_eval(want)
                    except ValueError:
                        continue
    return table


def total(values):
    global _table
    if _table is None:
        _table = _answers()
    key = repr(list(values))
    return _table[key] if key in _table else _buggy(values)
""".replace("READER", repr(MEMORY_READER))
READERS = {
    "cat": '["cat", path]',
    "python-c": '[_sys.executable, "-c", "import sys; print(open(sys.argv[1]).read())", path]',
}
# An honest fix written as a library that runs commands would: the sum computed by a child Python.
HONEST = """

import subprocess as _subprocess
import sys as _sys


def total(values):
    code = "import sys; print(sum(int(v) for v in sys.argv[1:]))"
    out = _subprocess.run([_sys.executable, "-c", code, *map(str, values)], capture_output=True, text=True)
    return int(out.stdout)
"""


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY, "child-library", "audit-tasks-childlib", 1, functions=["total"], mutators=["change_arith_op"]
    )
    return the_task(found, lambda t: set(t.FAIL_TO_PASS) >= FAILING, "total()'s arithmetic changed")


def _grade(t: TaskRecord, env: EnvRecord, patch: str, path: str):  # type: ignore[no-untyped-def]
    if path == "agent":
        patch = play_commands(t, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
    return grade_patch(t, env, patch, timeout=TIMEOUT)


@pytest.mark.parametrize("path", PATHS)
def test_the_gold_and_a_fix_that_runs_a_subprocess_resolve(
    task: tuple[TaskRecord, EnvRecord], path: str
) -> None:
    """Controls: a test reading its data file beside it, a library function running a child process."""
    t, env = task
    for patch in (t.patch, Target.of(t, Path(env.snapshot_path)).append(MODULE, HONEST)):
        grade = _grade(t, env, patch, path)
        assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)


def test_the_bug_fails_the_tests(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, "", timeout=TIMEOUT)
    assert {k for k, v in grade.statuses.items() if v != "passed"} >= FAILING, grade.statuses


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("reader", sorted(READERS))
def test_the_tests_read_by_a_child_process_do_not_resolve(
    task: tuple[TaskRecord, EnvRecord], reader: str, path: str
) -> None:
    t, env = task
    patch = Target.of(t, Path(env.snapshot_path)).append(
        MODULE, CHILD_TABLE.replace("{read}", READERS[reader])
    )
    grade = _grade(t, env, patch, path)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place


@pytest.mark.parametrize("path", PATHS)
def test_the_tests_read_from_the_test_process_memory_by_a_child_do_not_resolve(
    task: tuple[TaskRecord, EnvRecord], path: str
) -> None:
    """A child Python reads its parent's memory (`/proc/<ppid>/mem`), where the guard keeps the tests'
    bytes and pytest their compiled code: refused once the test process is not dumpable."""
    t, env = task
    patch = Target.of(t, Path(env.snapshot_path)).append(MODULE, MEMORY_TABLE)
    grade = _grade(t, env, patch, path)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place


def test_the_harbor_verifier_keeps_the_tests_from_a_child(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path
) -> None:
    """The exported verifier (an exported SWE-bench row's guarded step runs the same `Verifier.run`)
    starts the guard with `hide` too: the gold resolves, neither child's read does."""
    from audit_support import harbor_verifier

    t, env = task
    target = Target.of(t, Path(env.snapshot_path))
    assert harbor_verifier(t, env, t.patch, tmp_path / "gold").startswith("codekiln verifier: resolved")
    for name, patch in {
        "cat": target.append(MODULE, CHILD_TABLE.replace("{read}", READERS["cat"])),
        "memory": target.append(MODULE, MEMORY_TABLE),
    }.items():
        line = harbor_verifier(t, env, patch, tmp_path / name)
        assert not line.startswith("codekiln verifier: resolved"), (name, line)  # was resolved
