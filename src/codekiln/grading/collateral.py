"""The tests a grade runs beyond a task record's lists: the other tests of the files holding its
FAIL_TO_PASS that pass on the clean snapshot, graded as PASS_TO_PASS, as SWE-bench grades whole test
files.

    pass_to_pass = graded_pass_to_pass(task, env)   # the record's PASS_TO_PASS + those tests

Synthesis writes them into every new task's PASS_TO_PASS (`tasks.validation`), so for a new task this
adds nothing. A record made before that (a dataset already written, the recorded toolz tasks) lists
only the tests whose coverage reached the bug: graded as written, a fix that also broke the rest of
the hidden file scored resolved (fifth red team: the gold fix of `check_arity` plus two functions of
functoolz raising broke 10 of the 20 clean-passing tests of the task's hidden files, PASS_TO_PASS
empty). So the grader takes the clean snapshot's passing tests from the environment's baseline,
whatever the record's age. They pass on the clean snapshot, which the gold patch restores.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from codekiln.core.diffs import parse_diff
from codekiln.core.testnames import is_test_module, named_inside_an_item
from codekiln.grading.subject import GradedTask, GradingEnv


def hidden_test_files(failing: list[str], bug_patch: str) -> list[str]:
    """The files to hide from the agent: those holding the failing tests, if they are test modules
    (`core.testnames`: `test_*.py`, `*_test.py`, `tests.py`, `test.py`, or under a tests/test/testing
    directory) the bug does not change.

    A failing test's file can be a source module: a doctest (`src/pkg/mod.py::pkg.mod.func`), or a
    test defined in the package. Hiding it would delete code the fix must edit, or that tests import."""
    changed = {p for fp in parse_diff(bug_patch) for p in (fp.old_path, fp.new_path) if p}
    out = set()
    for test in failing:
        rel = test.split("::", 1)[0]
        if rel.endswith(".py") and is_test_module(rel) and rel not in changed:
            out.add(rel)
    return sorted(out)


def collateral_tests(graded: list[str], files: list[str], passing: Iterable[str]) -> list[str]:
    """The other tests of `files` (the test modules holding FAIL_TO_PASS) that pass on the clean
    snapshot (the environment's baseline), to grade as PASS_TO_PASS beside the selection, as SWE-bench
    grades every test of the files its test patch touches. The selection holds only the tests whose
    coverage reaches the bug, so a fix that also broke the rest of the hidden file (markupsafe: `%` on
    every Markup) scored resolved. They pass on the buggy tree too: their coverage misses the bug's
    lines, and a bug that runs at import time selects the whole passing suite already."""
    chosen, seen = set(files), set(graded)
    return sorted(t for t in passing if t.split("::", 1)[0] in chosen and t not in seen)


# Tasks whose bug was injected into the environment's snapshot by synthesis: the snapshot is the fixed
# tree, and synthesis selects tests by coverage. Mined changes and imported rows (`history`,
# `pr_mirror`, `swebench`) keep their lists as their own harness wrote them: SWE-bench's verdicts
# are graded on exactly those.
_SYNTHESIZED = {"func_pm", "lm_rewrite", "lm_modify", "combined"}


def graded_pass_to_pass(task: GradedTask, env: GradingEnv) -> list[str]:
    """The PASS_TO_PASS a grade holds the patch to: the record's, then (for a synthesized task) the
    collateral tests it lacks."""
    if str(task.source) not in _SYNTHESIZED:
        return list(task.PASS_TO_PASS)
    files = hidden_test_files(task.FAIL_TO_PASS, task.bug_patch)
    root = Path(env.snapshot_path)
    passing = (
        t for t, status in env.baseline.items() if status == "passed" and not named_inside_an_item(t, root)
    )  # pytest never reports an item named with `::` that it is asked for by id
    kept = [t for t in task.PASS_TO_PASS if not named_inside_an_item(t, root)]
    left_out = getattr(task, "left_out", [])  # they read the tests' source on the clean snapshot
    return [*kept, *collateral_tests([*task.tests, *left_out], files, passing)]


__all__ = ["collateral_tests", "graded_pass_to_pass", "hidden_test_files"]
