"""The ninth red team: the guard's records found by a plain walk of attributes and rewritten as data.

The eighth red team's forgery reached the guard's statuses, its call wrapper's `raised` set, pytest's
terminal stats and the session's failure count through `gc`, which the guard now refuses. A walk of
`__dict__` values, dict values and container items reaches the same four records from `sys.modules`
(taken by `string.Formatter().get_field("0.modules", ...)` or `pkgutil.resolve_name("sys:modules")`,
names written in strings), or from any module at all (`import os`: os holds sys): a patch that fixes
nothing scored resolved on the toolz and markupsafe audit tasks, both paths, with no scan finding
(`audit.walks`; tests/audit/test_redteam.py runs the three corpus attacks).

Here: the guard announces each failure on file descriptor 1 as it records it, which leaves the
process at once, and the grader holds the results to what was announced (`guard_check`)."""

from __future__ import annotations

import hashlib
import json

import pytest

from codekiln.audit import walks
from codekiln.core.protocols import Sandbox
from codekiln.grading import TestCommand, run_tests
from codekiln.grading.guard_check import check_run, nodeid_key
from codekiln.grading.guard_plugin_report import nodeid_key as plugin_key

TEST = "tests/test_e.py::test_sum"
GOOD = {
    "nonce": "n", "exitstatus": 1, "statuses": {TEST: "failed", "tests/test_e.py::test_ok": "passed"},
    "messages": {}, "collection_errors": {}, "collection_skips": {}, "deselected": [],
    "pytest_counts": {"failed": 1, "passed": 1}, "pytest_tests": 2, "plugin_files": [], "forged": [],
}  # fmt: skip


def _announced(nonce: str, nodeid: str, status: str = "failed") -> str:
    return f"..\ncodekiln-guard-failed {nonce} {status} {nodeid_key(nodeid)}\n"


def _check(data: dict[str, object], stdout: str, exit_code: int = 1) -> list[str]:
    raw = json.dumps(data).encode()
    marker = f"\ncodekiln-guard n exit={exit_code} results={hashlib.sha256(raw).hexdigest()} junit=-\n"
    return check_run(stdout + marker, exit_code, "n", raw, None)[1]


def test_both_sides_name_a_test_alike_whatever_its_id_holds() -> None:
    for nodeid in (TEST, "t.py::test[a b\tc]", "t.py::test[\u00e9\ud800]"):
        assert nodeid_key(nodeid) == plugin_key(nodeid)
        assert len(nodeid_key(nodeid)) == 16


def test_a_failure_announced_and_kept_is_no_evidence() -> None:
    assert _check(GOOD, _announced("n", TEST)) == []


def test_a_failure_announced_then_recorded_as_a_pass_is_evidence() -> None:
    forged = {**GOOD, "exitstatus": 0, "statuses": {TEST: "passed"}, "pytest_counts": {"passed": 2}}
    evidence = _check(forged, _announced("n", TEST), exit_code=0)
    assert evidence == [
        "1 test(s) announced failed while they ran are recorded as passed or skipped: "
        "the guard's records were rewritten during the run"
    ]
    skipped = _check({**GOOD, "statuses": {TEST: "skipped"}}, _announced("n", TEST, "error"))
    assert len(skipped) == 1 and "recorded as passed or skipped" in skipped[0]


def test_a_failure_announced_then_dropped_from_the_results_is_evidence() -> None:
    dropped = {**GOOD, "statuses": {"tests/test_e.py::test_ok": "passed"}}
    assert _check(dropped, _announced("n", TEST)) == [
        "1 test(s) announced failed while they ran are missing from the results"
    ]


def test_announcements_of_another_nonce_count_for_nothing() -> None:
    """Code under test can print lines too; one without this run's nonce is not the guard's (and one
    with it can only make a pass look failed, which gains it nothing)."""
    assert _check({**GOOD, "statuses": {TEST: "passed"}}, _announced("other", TEST)) == []


PROJECT = {
    "pyproject.toml": b"[project]\nname='demo'\nversion='0'\n",
    "demo/__init__.py": b"def zero():\n    return 1\n",
    "tests/__init__.py": b"",
    "tests/test_e.py": b"import demo\n\n\ndef test_sum():\n    assert demo.zero() == 0\n\n\n"
    b"def test_ok():\n    assert demo.zero() == 1\n",
    # a collection once test_sum is recorded: the forgery's gc callback runs then, not at the collector's whim
    "tests/test_f.py": b"import gc\n\n\ndef test_collect():\n    gc.collect()\n    gc.collect()\n",
}
RUN = [TEST, "tests/test_e.py::test_ok", "tests/test_f.py::test_collect"]


@pytest.mark.root  # a bwrap sandbox
def test_an_honest_failure_is_announced_and_no_evidence(walk_sandbox: Sandbox) -> None:
    run = run_tests(walk_sandbox, TestCommand(args=["tests"]), RUN)
    assert run.statuses == {TEST: "failed", RUN[1]: "passed", RUN[2]: "passed"}, run.log_tail
    assert not run.evidence, run.evidence
    assert f"codekiln-guard-failed {nodeid_key(TEST)}" not in run.log_tail_full  # the nonce comes first
    assert f" failed {nodeid_key(TEST)}\n" in run.log_tail_full


@pytest.mark.root  # a bwrap sandbox
@pytest.mark.parametrize("roots", ["FORMATTER", "RESOLVE_NAME", "PLAIN", "RACE"])
def test_the_records_rewritten_through_a_walk_of_attributes_are_evidence(
    walk_sandbox: Sandbox, roots: str
) -> None:
    """The corpus forgery, as the red team wrote it: the rewrite itself works (the statuses say passed,
    pytest exits 0), and the announcement made while the test ran gives it away. RACE flips the report
    before the guard records it: only an announcement made before any other plugin sees it is in time."""
    forge, start = (walks.RACE, walks.PLAIN) if roots == "RACE" else (walks.FORGE, getattr(walks, roots))
    walk_sandbox.write_file("demo/_ck_walk.py", forge % ([TEST], start))
    walk_sandbox.write_file("demo/__init__.py", "from . import _ck_walk\n\n\ndef zero():\n    return 1\n")
    run = run_tests(walk_sandbox, TestCommand(args=["tests"]), RUN)
    assert run.statuses == dict.fromkeys(RUN, "passed"), run.log_tail
    assert any("the guard's records were rewritten during the run" in e for e in run.evidence), run.evidence
