"""An honest run whose tests a plugin retries is no evidence, and its verdict is each test's last attempt.

The guard's test bodies announce each exception that leaves them (`grading.guard_plugin_bodies`), and
the grader called a run tampered where a function raised more often than the results hold not-passed
cases of it (`guard_check.raised_evidence`). A plugin that retries a failed test calls it again:
pytest-rerunfailures logs each failed attempt with the outcome "rerun", `flaky` logs none of them, and
the test may end passed. The guard now counts each test's calls against the passed call reports logged
for it (`Guard.unpassed_calls`). The plugins here are the real ones, installed from the package index
into the environment codekiln builds for the project.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_redteam9_walk import GOOD, RUN, TEST

from codekiln.audit import announcements, walks
from codekiln.core.protocols import Sandbox
from codekiln.envs import build_env
from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard_check import check_run, function_name, malformed, nodeid_key
from codekiln.grading.guard_plugin_bodies import key
from codekiln.testing import make_repo, open_test_sandbox
from codekiln.testing.git import write_files

PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "retried"
version = "0.1"
dependencies = ["pytest-rerunfailures", "flaky"]
[tool.setuptools]
packages = ["retried"]
"""

# Each test counts its own calls (one process runs every attempt): `calls(name) == 1` on the first.
COUNTER = """
CALLS = {}


def calls(name):
    CALLS[name] = CALLS.get(name, 0) + 1
    return CALLS[name]
"""

RERUNS = """import pytest

from retried import calls


@pytest.mark.flaky(reruns=2)
def test_fails_once():
    assert calls("once") > 1


@pytest.mark.flaky(reruns=2)
def test_fails_always():
    assert calls("always") < 0


@pytest.mark.flaky(reruns=1)
@pytest.mark.parametrize("n", range(3))
def test_case_fails_once(n):
    assert n != 1 or calls("case") > 1


def test_fails_plainly():
    assert calls("plain") < 0
"""

FLAKY = """from flaky import flaky

from retried import calls


@flaky(max_runs=3)
def test_fails_twice():
    assert calls("twice") > 2


@flaky(max_runs=2)
def test_fails_always():
    assert calls("always") < 0


def test_passes():
    assert calls("passes") == 1
"""

FILES = {
    "pyproject.toml": PYPROJECT,
    "retried/__init__.py": COUNTER,
    "tests/__init__.py": "",
    "tests/test_reruns.py": RERUNS,
    "tests/test_flaky.py": FLAKY,
}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's environment, built by codekiln: pytest-rerunfailures and flaky from the index."""
    root = write_files(tmp_path_factory.mktemp("retried") / "retried", FILES)
    return Path(build_env(str(root)).venv)


# Each plugin's test file run with the other plugin off: how often each test function announced a raise
# (once per attempt that raised), and each case's status (its last attempt). flaky logs no report of an
# attempt it retries: the calls pytest made are what count.
RETRIED = {
    "pytest-rerunfailures": (
        "flaky",
        "tests/test_reruns.py",
        # test_fails_once: the first attempt raised, the second passed
        {"test_fails_once": 1, "test_fails_always": 3, "test_case_fails_once": 1, "test_fails_plainly": 1},
        {
            "test_fails_once": "passed",
            "test_fails_always": "failed",
            **{f"test_case_fails_once[{n}]": "passed" for n in range(3)},
            "test_fails_plainly": "failed",
        },
    ),
    "flaky": (
        "rerunfailures",
        "tests/test_flaky.py",
        {"test_fails_twice": 2, "test_fails_always": 2, "test_passes": 0},
        {"test_fails_twice": "passed", "test_fails_always": "failed", "test_passes": "passed"},
    ),
}


@pytest.mark.root  # a bwrap sandbox
@pytest.mark.network  # the plugins come from the package index
@pytest.mark.parametrize("plugin", sorted(RETRIED))
def test_tests_retried_by_a_plugin_are_graded_by_their_last_attempt(
    tmp_path: Path, venv: Path, plugin: str
) -> None:
    other, path, raised, statuses = RETRIED[plugin]
    files = {k: v.encode() for k, v in FILES.items()}
    with open_test_sandbox(make_repo(tmp_path / "repo", files), "bwrap", timeout_s=300, venv=venv) as sandbox:
        run = run_tests(sandbox, TestCommand(args=[f"-pno:{other}", "tests"]), [path])
    log = run.log_tail_full
    assert not run.evidence, (run.evidence, log[-3000:])
    assert {f: log.count(f" {key(f)}\n") for f in map(function_name, run.statuses)} == raised, log[-3000:]
    assert run.statuses == {f"{path}::{case}": status for case, status in statuses.items()}, log[-3000:]


def _raised(statuses: dict[str, str], unpassed: object, *names: str) -> list[str]:
    data = {**GOOD, "statuses": statuses, "unpassed_calls": unpassed}
    raw = json.dumps(data).encode()
    lines = "".join(f"\ncodekiln-guard-raised n {key(name)}\n" for name in names)
    marker = f"\ncodekiln-guard n exit=1 results={hashlib.sha256(raw).hexdigest()} junit=-\n"
    return check_run(lines + marker, 1, "n", raw, None)[1]


def test_raises_are_allowed_as_many_as_the_calls_that_did_not_pass() -> None:
    passed = {"t.py::test_a": "passed"}
    assert _raised(passed, {}, "test_a")  # a pass that raised: its report was rewritten
    assert not _raised(passed, {"t.py::test_a": 2}, "test_a", "test_a")  # retried twice, then passed
    assert _raised(passed, {"t.py::test_a": 1}, "test_a", "test_a")
    failed = {"t.py::test_a": "failed"}
    assert not _raised(failed, {"t.py::test_a": 3}, *["test_a"] * 3)  # every attempt failed
    assert _raised(failed, {}, "test_a", "test_a")
    cases = {"t.py::test_p[0]": "passed", "t.py::test_p[1]": "failed"}
    assert not _raised(cases, {"t.py::test_p[0]": 1}, "test_p", "test_p")
    assert _raised(cases, {"t.py::test_p[0]": 1}, *["test_p"] * 3)


@pytest.mark.parametrize("unpassed", [[1], {"t.py::test_a": "2"}, {"t.py::test_a": -1}, {"x": True}, 3])
def test_unpassed_calls_of_another_shape_are_read_without_raising(unpassed: object) -> None:
    assert malformed({**GOOD, "unpassed_calls": unpassed}) == "unpassed_calls is not a map of counts"
    evidence = _raised({"t.py::test_a": "passed"}, unpassed, "test_a")
    assert any("unpassed_calls is not a map of counts" in e for e in evidence), evidence


# The report wrapper attack (`announcements.REPORT_WRAPPER`) made to look like a retry: the failed report
# becomes a "rerun" (no failure announced, no status recorded) and a passed copy of it is logged first.
AS_RETRY = announcements.REPORT_WRAPPER.replace(
    '        rep.outcome, rep.longrepr = "passed", None\n',
    "        import copy as _ck_copy\n\n"
    "        fake = _ck_copy.copy(rep)\n"
    '        fake.outcome, fake.longrepr = "passed", None\n'
    "        item.ihook.pytest_runtest_logreport(report=fake)\n"
    '        rep.outcome = "rerun"\n',
)


@pytest.mark.root  # a bwrap sandbox
def test_a_failure_passed_off_as_a_retried_attempt_is_evidence(walk_sandbox: Sandbox) -> None:
    assert AS_RETRY != announcements.REPORT_WRAPPER
    walk_sandbox.write_file("demo/_ck_walk.py", walks.RACE % ([TEST], walks.PLAIN) + AS_RETRY)
    walk_sandbox.write_file("demo/__init__.py", "from . import _ck_walk\n\n\ndef zero():\n    return 1\n")
    run = run_tests(walk_sandbox, TestCommand(args=["tests"]), RUN)
    assert run.statuses.get(TEST) == "passed", run.log_tail
    assert f" failed {nodeid_key(TEST)}\n" not in run.log_tail_full  # a "rerun" is no failure announced
    assert any("raised, called by pytest, more often" in e for e in run.evidence), run.evidence
