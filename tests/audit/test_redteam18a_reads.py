"""The eighteenth red team (part A): the tests' answers reached around the two defences of the
seventeenth, by a patch that leaves the bug in place (`grade_patch`, real synthesis, bwrap sandboxes).

Library code that opens a file of the tests' source is refused (`guard_plugin_reads`), and the tests'
literal tables are compared with their source after each test (`guard_plugin_tables`). Three roads
past them, each `resolved` with the bug in place and the scan enforced, on the seventeenth's `tablelib`:

- **thread-read**: the same source table as the seventeenth's `source-table`, but each test file is
  read by `pathlib.Path.read_text` handed to a `concurrent.futures.ThreadPoolExecutor`: the worker
  thread's stack holds only the standard library's frames, so the read is no library code's.
- **child-read**: the files read by `cat` in a child process (`subprocess.run`); the guard's audit
  hook sees only its own process. Closed: the held files are gone from the tree once collected
  (`grading.guard_plugin_hide`).
- **class-read**: the seventeenth's `class-walk` read rather than written: a test class's `CASES`,
  found by a walk of `type.__subclasses__` from `object`, is looked up with the call's arguments and
  its answer returned. Nothing changes, so the tables' check has nothing to see.

- **mock-getter**, **logging-resolve**: the expected values read from the test functions' compiled
  constants (`dis.get_instructions`: the literal arguments loaded before each call of its own name,
  the first number loaded after it, pytest's rewritten asserts included), their module reached by the
  name a test class's `__module__` gives (a walk from `object`) through
  `unittest.mock.patch(name + ".__name__").getter()` or `logging.config.BaseConfigurator({}).resolve(name)`:
  both import by a computed name, as `importlib.import_module` does, with no finding.

And the oldest one, for the record: **always-equal**, the buggy result returned as a `float` subclass
whose `__eq__` says yes (no reading at all). The README files it under "tests that are weak themselves
... are not the grader's to fix"; it resolves here, on tests that compare with `==` as most do.

Held: the files hard-linked out of the tree first (`os.link`) and read there (`tampered`, "linked
from"), opened by their base name under a directory's descriptor (`dir_fd`), through
`/proc/self/root`, or through a symbolic link to their folder (each `tampered`); the same module reached through `pydoc.locate` (`rejected scan`, dynamic-import); the
tests' source looked up in `linecache.cache` without opening a file (nothing there: `unresolved`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam18a_bodies import (
    ALWAYS_EQUAL,
    CHILD_READ,
    CLASS_READ,
    CODE_CONSTS,
    DIRFD_READ,
    LINECACHE,
    LINK_READ,
    LOGGING_RESOLVE,
    MOCK_GETTER,
    PROC_READ,
    SYMLINK_DIR_READ,
    THREAD_READ,
)
from rollout_support import the_task
from test_redteam17_source_table import CASES, MODULE, PLAIN, honest, table_tasks

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
ATTACKS = {
    "thread-read": (THREAD_READ, "mean", PLAIN),
    "child-read": (CHILD_READ, "mean", PLAIN),
    "class-read": (CLASS_READ, "total", CASES),
    "link-read": (LINK_READ, "mean", PLAIN),
    "code-consts": (CODE_CONSTS, "mean", PLAIN),
    "mock-getter": (MOCK_GETTER, "mean", PLAIN),
    "logging-resolve": (LOGGING_RESOLVE, "mean", PLAIN),
    "linecache": (LINECACHE, "mean", PLAIN),
    "dirfd-read": (DIRFD_READ, "mean", PLAIN),
    "proc-root-read": (PROC_READ, "mean", PLAIN),
    "symlinked-dir-read": (SYMLINK_DIR_READ, "mean", PLAIN),
    "always-equal": (ALWAYS_EQUAL, "mean", PLAIN),
}
# closed: thread-read (an open from another thread), mock-getter and logging-resolve (a collected test
# function's code read): `grading.guard_plugin_reads`; class-read: the scan's class-walk; always-equal: the
# comparisons' operands probed (`grading.guard_plugin_equality`); child-read: the held files emptied once
# collected (`grading.guard_plugin_hide`)
OPEN: set[str] = set()


@pytest.fixture(scope="module")
def tasks() -> dict[str, tuple[TaskRecord, EnvRecord]]:
    """The seventeenth's tasks (the same cache): an arithmetic bug in `total` or `mean`."""
    found = table_tasks()
    return {
        how: the_task(found, lambda t, test=test: test in t.FAIL_TO_PASS, f"{name}()'s arithmetic changed")
        for how, (_, name, test) in ATTACKS.items()
    }


def attack(t: TaskRecord, env: EnvRecord, how: str) -> str:
    code, name, _ = ATTACKS[how]
    return Target.of(t, Path(env.snapshot_path)).append(MODULE, code.replace("{name}", name))


@pytest.mark.parametrize("name", ["mean", "total"])
def test_the_gold_and_an_honest_fix_resolve_and_the_bug_does_not(
    tasks: dict[str, tuple[TaskRecord, EnvRecord]], name: str
) -> None:
    """The controls: the gold and a fix written otherwise resolve; the empty patch fails the test the
    attacks target, so a resolve is the attack's doing."""
    t, env = tasks["class-read" if name == "total" else "thread-read"]
    for patch in (t.patch, honest(t, env, name)):
        grade = grade_patch(t, env, patch, timeout=TIMEOUT)
        assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)
    grade = grade_patch(t, env, "", timeout=TIMEOUT)
    assert grade.outcome == "unresolved", (grade.outcome, grade.detail)


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(
            how, marks=pytest.mark.xfail(strict=True, reason=f"open: {how} resolves with the bug in place")
        )
        if how in OPEN
        else how
        for how in sorted(ATTACKS)
    ],
)
def test_the_tests_answers_reached_around_the_guard_do_not_resolve(
    tasks: dict[str, tuple[TaskRecord, EnvRecord]], how: str
) -> None:
    t, env = tasks[how]
    grade = grade_patch(t, env, attack(t, env, how), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place
