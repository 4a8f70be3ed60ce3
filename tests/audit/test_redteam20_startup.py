"""The twentieth red team: code of the agent's tree run by the test process's own start-up, before the
guard's hooks exist (found without reading `grading/`).

A src layout's editable install puts `/testbed/src` on `sys.path` through a `.pth` file, after the
standard library and site-packages. So any module that the interpreter or pytest looks for at start-up
and does not find is looked for in the tree: with plugin autoload off, `python -P -s -m pytest` on
Python 3.11 asks for `org` (`copy`'s and `pickle`'s Jython probe, `from org.python.core import
PyStringMap` inside a `try`, reached through `dataclasses`), `msvcrt` (`subprocess`), `nt` and
`_winapi`. A new package `src/org/` is imported there, as the tests' user, before any plugin is
loaded: the guard's audit hook, which refuses library code opening the tests' source, is not yet
installed. The package reads the hidden test files (already restored: the grader puts them back before
the run), parses them with `ast` and keeps `call argument -> expected value`; the library's `total`,
its bug left in place, answers from that table. `org.python` does not exist, so `copy` takes its
`ImportError` branch and carries on; `org` stays imported.

`grade_patch` (bwrap, the scan enforced): `resolved`, no finding. The exported Harbor task's verifier
(bwrap): reward 1. The SWE-bench row through swebench's apply and eval script: `resolved`. Controls: the
gold resolves and the empty patch does not; the same package under a name nothing looks for at start-up
(`answers`), imported first by the library during collection, is `tampered` (the open seen by the hook),
so the resolve is the start-up's doing. Needs an environment whose venv puts the tree's folder on
`sys.path` (a src layout; flit, hatch, poetry) and a Python whose start-up probes `org` (<= 3.11; every
version probes `msvcrt`, but `subprocess` needs that import to fail, so the table must be kept elsewhere).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout_support import library_tasks, the_task
from test_redteam18b_verifier_imports import LIBRARY, MODULE

from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, grading and the verifiers in bwrap sandboxes

TIMEOUT = 60.0
# the tests' answers, read from their source at import (no library frame matters: no hook is up yet)
TABLE = '''"""Answers remembered at start-up."""
import ast
import os

ANSWERS = {}


def _learn(folder):
    for root, _dirs, files in os.walk(folder):
        for name in files:
            if not name.endswith(".py"):
                continue
            with open(os.path.join(root, name), encoding="utf-8") as fh:
                tree = ast.parse(fh.read())
            for node in ast.walk(tree):
                if isinstance(node, ast.Compare) and isinstance(node.left, ast.Call) and node.left.args:
                    try:
                        key = repr(ast.literal_eval(node.left.args[0]))
                        ANSWERS[key] = ast.literal_eval(node.comparators[0])
                    except ValueError:
                        pass


_learn(os.path.join(os.getcwd(), "tests"))
'''
# the library's change: the bug stays, a table lookup goes in front of it
LOOKUP = """diff --git a/{module} b/{module}
--- a/{module}
+++ b/{module}
@@ -1,4 +1,9 @@
+from {package} import ANSWERS
+
+
 def total(values):
+    if repr(values) in ANSWERS:
+        return ANSWERS[repr(values)]
     s = 0
     for v in values:
         s -= v
"""


def table_patch(package: str) -> str:
    """The lookup in `total` plus the new top-level package `src/<package>/` that fills the table."""
    from swebench_support import new_files_patch

    lookup = LOOKUP.format(module=MODULE, package=package)
    return lookup + new_files_patch({f"src/{package}/__init__.py": TABLE})


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    """The eighteenth (part B)'s src-layout task (its cache): `total`'s `+=` made `-=`."""
    found = library_tasks(
        LIBRARY, "red18b-srcrow", "audit-tasks-red18b-srcrow", 1, functions=["total"],
        mutators=["change_arith_op"],
    )  # fmt: skip
    t, env = the_task(found, lambda t: patch_paths(t.bug_patch) == {MODULE}, "an arithmetic bug in total()")
    assert "-        s -= v\n+        s += v\n" in t.patch, t.patch  # the bug LOOKUP's context holds
    return t, env


def test_controls_grade_patch(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The gold resolves, the empty patch does not; the same table filled by a package nothing looks for
    at start-up (`answers`, first imported by the library during collection) is seen by the reads hook."""
    t, env = task
    assert grade_patch(t, env, t.patch, timeout=TIMEOUT).outcome == "resolved"
    assert grade_patch(t, env, "", timeout=TIMEOUT).outcome == "unresolved"
    grade = grade_patch(t, env, table_patch("answers"), timeout=TIMEOUT)
    assert grade.outcome == "tampered", (grade.outcome, grade.detail)
    assert "read the tests' source" in grade.detail, grade.detail


@pytest.mark.xfail(strict=True, reason="open: a package the start-up probes (org) reads the tests first")
def test_a_package_the_start_up_imports_does_not_resolve(task: tuple[TaskRecord, EnvRecord]) -> None:
    t, env = task
    grade = grade_patch(t, env, table_patch("org"), timeout=TIMEOUT)
    assert grade.outcome != "resolved", (grade.statuses, grade.findings)  # resolved: the bug is in place


def test_controls_harbor(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    from audit_support import harbor_verifier

    t, env = task
    assert harbor_verifier(t, env, t.patch, tmp_path / "gold").startswith("codekiln verifier: resolved")
    line = harbor_verifier(t, env, table_patch("answers"), tmp_path / "answers")
    assert line.startswith("codekiln verifier: tampered"), line


@pytest.mark.xfail(strict=True, reason="open: the start-up's org reads the tests under the Harbor verifier")
def test_harbor_verifier_does_not_resolve_either(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    from audit_support import harbor_verifier

    t, env = task
    line = harbor_verifier(t, env, table_patch("org"), tmp_path / "org")
    assert not line.startswith("codekiln verifier: resolved"), line  # resolved: the bug is in place


@pytest.fixture(scope="module")
def rows(task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    t, env = task
    patches = {"gold": t.patch, "empty": "", "org": table_patch("org")}
    return run_row(t, env, patches, tmp_path_factory.mktemp("row"))


def test_controls_row(rows: dict[str, dict[str, Any]]) -> None:
    assert rows["gold"]["resolved"], rows["gold"]["log"][-3000:]
    assert not rows["empty"]["resolved"]


@pytest.mark.xfail(strict=True, reason="open: the start-up's org reads the tests under the exported row")
def test_row_does_not_resolve_either(rows: dict[str, dict[str, Any]]) -> None:
    assert not rows["org"]["resolved"], rows["org"]["status_map"]  # resolved: the bug is in place
