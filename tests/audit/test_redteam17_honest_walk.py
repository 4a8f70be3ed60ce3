"""The seventeenth red team: an honest fix that names `inspect.getmodule` scored 0.

The fifteenth red team made `__globals__`, `inspect.getmodule` and `inspect.getclosurevars` the static
scan's `frame-walk` (they reached the tests' namespaces from a callback of theirs), and its README
names one price: a fix importing a support module. There is another. A library that names plugins by
where they come from (`plugin_name(json.dumps) == "json.dumps"`) gets a bug in the constant that picks
the module's last part; a fix that asks `inspect.getmodule(fn).__name__` instead of reading
`fn.__module__` (the same answer, the standard library's documented way) is `rejected scan`
(`frame-walk`), reward 0, while the gold resolves. Closed: a module `getmodule` returns that is read
only for its name is no finding (`grading.scan_fold.name_only`). Real synthesis, bwrap sandboxes, the
real grader."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam_fixtures import PLUG_LIBRARY, PLUG_MODULE, pluglib_task

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
MODULE = PLUG_MODULE
LIBRARY = PLUG_LIBRARY
HONEST = (
    "import inspect\n\n\ndef plugin_name(fn):\n"
    '    """The name a plugin is known by: its module\'s last part, a dot, its own name."""\n'
    '    module = inspect.getmodule(fn).__name__.rpartition(".")[2]\n    return f"{module}.{fn.__name__}"\n'
)


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    return pluglib_task()


def test_the_gold_and_the_same_fix_reading_dunder_module_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The controls: the gold, and the honest fix below with `fn.__module__` for `inspect.getmodule(fn)`
    (so the fix is right and only the name it calls costs it)."""
    t, env = task
    plain = HONEST.replace("import inspect\n\n\n", "").replace(
        "inspect.getmodule(fn).__name__", "fn.__module__"
    )
    for patch in (t.patch, Target.of(t, Path(env.snapshot_path)).new(MODULE, plain)):
        grade = grade_patch(t, env, patch, timeout=TIMEOUT)
        assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)


def test_an_honest_fix_asking_inspect_for_the_module_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    patch = Target.of(t, Path(env.snapshot_path)).new(MODULE, HONEST)
    grade = grade_patch(t, env, patch, timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.outcome, grade.reason, grade.findings)  # rejected scan
