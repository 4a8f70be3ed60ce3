"""The scan's `class-walk` (`grading.scan_classwalk`) against the real grader: a fix written as a registry
of the library's own classes resolves, where the eighteenth red team's `class-read` (a walk from
`object` to a test class's `CASES`, `test_redteam18a_reads.py`) is rejected.

The seventeenth red team's `tablelib` (its cached tasks): `total()` given an arithmetic bug. The fix
puts `total` back as a reducer looked up in `Reducer.__subclasses__()` (a class the module defines), by
a classmethod's `cls.__subclasses__()` and a recursive `all_subclasses(Reducer)`: every honest shape
the rule keeps, in one change. Real synthesis, a bwrap sandbox, the scan enforced.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam18a_bodies import CLASS_READ
from rollout_support import the_task
from test_redteam17_source_table import CASES, MODULE, table_tasks

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
REGISTRY = '''

class Reducer:
    """A way to fold a list of numbers; each subclass is one, found by its `name`."""

    name = ""

    @classmethod
    def named(cls, name):
        for sub in cls.__subclasses__():
            if sub.name == name:
                return sub()
        raise KeyError(name)

    def __call__(self, values):
        raise NotImplementedError


class Sum(Reducer):
    name = "sum"

    def __call__(self, values):
        out = 0
        for v in values:
            out = out + v
        return out


def all_subclasses(cls):
    found = []
    for sub in cls.__subclasses__():
        found.append(sub)
        found.extend(all_subclasses(sub))
    return found


NAMES = sorted(c.name for c in all_subclasses(Reducer)) + [c.name for c in Reducer.__subclasses__()]
'''


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    """The seventeenth's task (the same cache) whose bug in `total` fails `TestTotal::test_cases`."""
    found = table_tasks()
    return the_task(found, lambda t: CASES in t.FAIL_TO_PASS, "total()'s arithmetic changed")


def registry_fix(t: TaskRecord, env: EnvRecord) -> str:
    """`total` rewritten to call the registry's `Sum`, the registry appended to the module."""
    text = (Path(env.snapshot_path) / MODULE).read_text()
    start = text.index("def total(values):")
    end = text.find("\n\n\ndef ", start)
    body = "def total(values):\n    return Reducer.named('sum')(values)\n"
    fixed = text[:start] + body + (text[end + 1 :] if end >= 0 else "") + REGISTRY
    return Target.of(t, Path(env.snapshot_path)).new(MODULE, fixed)


def test_a_fix_through_the_librarys_own_registry_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    patch = registry_fix(t, env)
    assert "Reducer.__subclasses__()" in patch and "cls.__subclasses__()" in patch
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)
    assert grade.findings == [], grade.findings


def test_the_walk_from_object_to_a_test_classs_table_is_rejected(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The eighteenth red team's `class-read` on the same task: the scan's finding names the walk."""
    t, env = task
    patch = Target.of(t, Path(env.snapshot_path)).append(MODULE, CLASS_READ.replace("{name}", "total"))
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    assert (grade.outcome, grade.reason) == ("rejected", "scan"), (grade.outcome, grade.detail)
    assert {f["kind"] for f in grade.findings} == {"class-walk"}, grade.findings
