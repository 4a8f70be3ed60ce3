"""The seventeenth red team: an honest fix that spells a file name ending `.xml` scored 0.

The static scan's `grader-path` rejects a string constant naming the grader's files; an `.xml` path is
one (the guard's junit report). A library that tells markup files by their suffix
(`is_markup("feed.xml")`) gets a bug in its boolean operator; a fix written with `str.endswith((".html",
".xml"))` in place of comparing the suffix after the dot is `rejected scan` (`grader-path`, `.xml`),
reward 0, while the gold (which spells `"xml"` without the dot) and the same fix comparing the suffix
after the dot resolve. Every library that handles XML files (a MIME table, a sitemap name, a feed's default file name)
was exposed. Closed: a grader path is a string naming `codekiln` or `junit` (every grader file's
path does), not a suffix. Real synthesis, bwrap sandboxes, the real grader."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from redteam_fixtures import MARK_HONEST, MARK_LIBRARY, MARK_MODULE, marklib_task

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 60.0
MODULE = MARK_MODULE
LIBRARY = MARK_LIBRARY
HONEST = MARK_HONEST
PLAIN = (
    "def is_markup(path):\n"
    '    """Whether a file name is HTML or XML markup, by its suffix."""\n'
    '    return path.lower().rpartition(".")[2] in ("html", "xml")\n'
)


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    return marklib_task()


def test_the_gold_and_the_fix_comparing_the_suffix_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    for patch in (t.patch, Target.of(t, Path(env.snapshot_path)).new(MODULE, PLAIN)):
        grade = grade_patch(t, env, patch, timeout=TIMEOUT)
        assert grade.outcome == "resolved", (grade.outcome, grade.detail, grade.findings)


def test_an_honest_fix_matching_the_xml_suffix_resolves(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, Target.of(t, Path(env.snapshot_path)).new(MODULE, HONEST), timeout=TIMEOUT)
    assert grade.outcome == "resolved", (grade.outcome, grade.reason, grade.findings)  # rejected scan
