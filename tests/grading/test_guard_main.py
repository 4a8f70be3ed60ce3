"""The guarded test process's main module (grading.guard_main): the tests see the process that
`python -P -s -m pytest` gives them, the process ends with pytest's status after the `atexit`
functions, its output flushed, and the interpreter's teardown is skipped (a stray thread:
`test_guard_report_paths`).
Real bwrap sandboxes, codekiln's venv."""

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
# What a test can see of how its process was started, written where both runs below can read it back.
SEEN = """import atexit, json, os, sys
import __main__


class Torn:
    def __del__(self):
        print("torn down", flush=True)


KEPT = Torn()  # freed only by the interpreter's teardown


def _at_exit():
    print("atexit ran")  # flushed by the exit


def test_seen():
    main = sys.modules["__main__"]
    seen = {
        "argv0": sys.argv[0],
        "main_is": main is __main__,
        "main_dict": sorted(k for k in vars(main) if k != "__builtins__"),
        "main_spec": getattr(main.__spec__, "name", None),
        "main_file": main.__file__,
        "builtins": type(vars(main).get("__builtins__")).__name__,
        "path0": sys.path[0],
        "flags": [sys.flags.safe_path, sys.flags.no_user_site],
    }
    with open(os.environ["SEEN_AT"], "w") as fh:
        json.dump(seen, fh)
    atexit.register(_at_exit)


def test_fails():
    assert False
"""
PROJECT = {"pyproject.toml": b"[project]\nname='demo'\nversion='0'\n", "tests/test_seen.py": SEEN.encode()}
IDS = ["tests/test_seen.py::test_seen", "tests/test_seen.py::test_fails"]


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("guardmain"), dict(PROJECT))


@pytest.mark.root  # a bwrap sandbox
def test_the_tests_see_python_m_pytest_and_the_exit_keeps_all_but_the_teardown(snapshot: Path) -> None:
    iso = Isolation.for_environment(snapshot, VENV, IDS)
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        guard = GuardSession.start(sb, iso)
        saved = hidden_tests.take(sb, guard)  # the guarded run empties the tests once collected
        guarded = sb.exec(
            [*guard.python(), *guard.pytest_args(), "-s", *IDS],
            timeout=120,
            env=guard.env({"SEEN_AT": "/tmp/guarded.json"}),
            cwd=sb.workdir,
        )
        report = guard.read(sb, guarded)
        hidden_tests.put_back(sb, saved)  # as the grader does, before the plain run on the same tree
        plain = sb.exec(
            ["python", "-P", "-s", "-m", "pytest", *guard.pytest_args(), "-s", *IDS],
            timeout=120,
            env=guard.env({"SEEN_AT": "/tmp/plain.json"}),
            cwd=sb.workdir,
        )
        seen = [json.loads(sb.read_file(f"/tmp/{name}.json")) for name in ("guarded", "plain")]
    assert report.statuses == {IDS[0]: "passed", IDS[1]: "failed"} and report.evidence == []
    assert seen[0] == seen[1] and seen[0]["argv0"].endswith("/pytest/__main__.py")
    assert seen[0]["main_spec"] == "pytest.__main__" and seen[0]["builtins"] == "module"
    assert guarded.exit_code == plain.exit_code == 1  # pytest's status: a test failed
    for run in (guarded, plain):  # the atexit function ran after pytest's output, its own flushed
        out = run.stdout
        assert "atexit ran" in out and out.index("1 failed") < out.index("atexit ran"), out[-800:]
    assert "torn down" in plain.stdout  # the interpreter's teardown, which the guarded process skips
    assert "torn down" not in guarded.stdout
    assert guard.python()[-1] == f"{guard.module}_main"


@pytest.mark.root  # a bwrap sandbox
@pytest.mark.parametrize("status", ["'no'", "300"])
def test_a_status_the_fast_exit_cannot_give_is_left_to_the_interpreter(snapshot: Path, status: str) -> None:
    # The session ended by a status that is not an int from 0 to 255 (a conftest's unconfigure): the
    # interpreter ends the process as without the main module (printed and 1; 300 & 0xff).
    iso = Isolation.for_environment(snapshot, VENV, IDS)
    conftest = f"import sys\n\n\ndef pytest_unconfigure(config):\n    sys.exit({status})\n"
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=VENV)) as sb:
        sb.write_file("tests/conftest.py", conftest)
        guard = GuardSession.start(sb, iso)
        runs = [
            sb.exec([*python, *guard.pytest_args(), *IDS], timeout=120, env=guard.env({}), cwd=sb.workdir)
            for python in (guard.python(), ["python", "-P", "-s", "-m", "pytest"])
        ]
    assert runs[0].exit_code == runs[1].exit_code == (1 if status == "'no'" else 300 & 0xFF)
    assert runs[0].stderr.strip().splitlines()[-1:] == runs[1].stderr.strip().splitlines()[-1:]
