"""The guarded process's launcher holds the working tree off until the guard plugin is imported
(grading.guard_main's `StartupWindow`): a module that Python's or pytest's start-up looks for and does
not find (`copy`'s Jython probe `org`, `subprocess`'s `msvcrt`) is not taken from the tree then, so
it cannot read or rewrite the tests before the guard's hooks exist; the tests import the same module
as before. The tree's folder is put on `sys.path` as a src layout's editable install does (after the
guard's folder). Real bwrap sandboxes, codekiln's venv (Python 3.11: its `copy` probes `org`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from codekiln.grading import hidden_tests
from codekiln.grading.guard import GuardSession, Isolation
from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.testing import make_repo

VENV = Path(sys.prefix)
# Each import of a probed name from the tree notes whether the guard plugin was loaded then.
PROBED = """import json, os, sys

with open("/tmp/probed.jsonl", "a") as fh:
    fh.write(json.dumps({"name": __name__, "plugin": any(m.startswith("codekiln_guard_") and not
        m.endswith("_main") for m in sys.modules)}) + "\\n")
"""
TESTS = """import subprocess
import sys


def test_the_tree_imports_as_before():
    import org
    import msvcrt_free

    assert org.__file__.startswith("/testbed/src/") and msvcrt_free.OK
    assert subprocess.run([sys.executable, "-c", "print(1)"], stdout=subprocess.PIPE).stdout == b"1\\n"
"""
PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "src/org/__init__.py": PROBED.encode(),
    "src/msvcrt.py": PROBED.encode() + b"raise ModuleNotFoundError('no msvcrt here')\n",
    "src/msvcrt_free.py": b"OK = True\n",
    "tests/test_tree.py": TESTS.encode(),
}
IDS = ["tests/test_tree.py::test_the_tree_imports_as_before"]


@pytest.mark.root  # a bwrap sandbox
def test_a_module_the_start_up_probes_is_not_taken_from_the_tree_before_the_plugin(tmp_path: Path) -> None:
    snapshot = make_repo(tmp_path, dict(PROJECT))
    iso = Isolation.for_environment(snapshot, VENV, IDS)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        guard = GuardSession.start(sb, iso)
        runs = {}
        for how, python in (("guarded", guard.python()), ("plain", ["python", "-P", "-s", "-m", "pytest"])):
            sb.exec(["rm", "-f", "/tmp/probed.jsonl"], timeout=30)
            env = guard.env({"PYTHONPATH": "/testbed/src"})
            saved = hidden_tests.take(sb, guard)  # a guarded run empties the tests once collected
            run = sb.exec([*python, *guard.pytest_args(), *IDS], timeout=120, env=env, cwd=sb.workdir)
            hidden_tests.put_back(sb, saved)  # as the grader does, before the next run on the tree
            probed = sb.read_file("/tmp/probed.jsonl").splitlines()
            runs[how] = (run, [json.loads(line) for line in probed])
        report = guard.read(sb, runs["guarded"][0])
    run, probed = runs["guarded"]
    assert run.exit_code == 0, run.stdout[-2000:]
    assert report.statuses == {IDS[0]: "passed"} and report.evidence == [], report.evidence
    # only the test's own import ran it, with the plugin (and its hooks) loaded
    assert probed == [{"name": "org", "plugin": True}], probed
    plain, before = runs["plain"]  # the same process without the launcher: the start-up runs the tree
    assert {"name": "org", "plugin": False} in before and {"name": "msvcrt", "plugin": False} in before
    assert plain.exit_code == 0, plain.stdout[-2000:]


@pytest.mark.root  # a bwrap sandbox
def test_a_test_file_changed_before_the_plugin_read_it_is_evidence(tmp_path: Path) -> None:
    """The grader's digests of the trusted test files, taken when the session starts (`guard_digests`),
    against the bytes the plugin reads: a file changed in between (as code the start-up ran from the
    tree could, were it not held off) is found, whatever the tests then report."""
    files = {
        "pyproject.toml": PROJECT["pyproject.toml"],
        "tests/test_one.py": b"def test_one():\n    assert 1 == 2\n",
    }
    snapshot = make_repo(tmp_path, files)
    ids = ["tests/test_one.py::test_one"]
    iso = Isolation.for_environment(snapshot, VENV, ids)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        reports = {}
        for how in ("as left", "changed"):
            guard = GuardSession.start(sb, iso)
            if how == "changed":
                sb.write_file("tests/test_one.py", "def test_one():\n    assert True or 1 == 2\n")
            run = sb.exec(
                [*guard.python(), *guard.pytest_args(), *ids], timeout=120, env=guard.env({}), cwd=sb.workdir
            )
            reports[how] = guard.read(sb, run)
    assert reports["as left"].statuses == {ids[0]: "failed"} and reports["as left"].evidence == []
    found = [e for e in reports["changed"].evidence if "changed before the guard read it" in e]
    assert found == [
        "a test was replaced: /testbed/tests/test_one.py: the test file was changed before the guard read it"
    ]
