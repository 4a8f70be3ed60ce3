"""What a test session reports, read the way JUnit XML would give it: one status per test id from its
setup/call/teardown reports, and the failure text. Runs inside the sandbox beside `warm_runner.py` and
`cover_runner.py` (both use `Recorder`); imports nothing from codekiln."""

from __future__ import annotations

import re
from typing import Any

ADDRESS = re.compile(r" at 0x[0-9a-fA-F]{4,}>")
"""An object's memory address in a parametrized case's id: the same rule as
`codekiln.grading.unstable_ids` (pinned equal by a test), which says why."""
_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}


def status_of(reports: list[Any]) -> str:
    """A test's status from its setup/call/teardown reports, as JUnit XML would give it."""
    status = "passed"
    for rep in reports:
        if rep.failed:
            new = "failed" if rep.when == "call" else "error"
        elif rep.skipped:
            new = "skipped"
        else:
            continue
        if (status == "passed" and new == "skipped") or _RANK[new] > _RANK[status]:
            status = new
    return status


def failure_text(reports: list[Any]) -> str:
    for rep in reports:
        if rep.failed:
            return str(getattr(rep, "longreprtext", "") or "")[-4000:]
    return ""


class Recorder:
    """A pytest plugin that keeps every test report, by test id."""

    def __init__(self) -> None:
        self.reports: dict[str, list[Any]] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        self.reports.setdefault(report.nodeid, []).append(report)

    def results(self) -> tuple[dict[str, str], dict[str, str]]:
        statuses = {tid: status_of(reps) for tid, reps in self.reports.items()}
        messages = {
            tid: failure_text(reps)
            for tid, reps in self.reports.items()
            if statuses[tid] in ("failed", "error")
        }
        return statuses, messages


def to_rerun(tests: list[str], statuses: dict[str, str]) -> list[str]:
    """What a rerun about the tests that did not pass runs, in `tests`' order: those tests, and with one
    of a file that is no Python module (a plugin's items, which may share the file's state: sybil's
    examples of one document) every test of that file. The same rule as
    `codekiln.core.testnames.to_rerun` (pinned equal by a test), which says why."""
    failing = {t for t in tests if statuses.get(t) != "passed"}
    files = {t.split("::", 1)[0] for t in failing if "::" in t and not t.split("::", 1)[0].endswith(".py")}
    return [t for t in tests if t in failing or t.split("::", 1)[0] in files]


def blank(test_id: str) -> str:
    return ADDRESS.sub(" at 0x?>", test_id)


def selectable(test_id: str) -> str:
    """The id to give pytest for a requested test: its function when the id names an address."""
    start = test_id.find("::")
    if "[" in test_id[start:] and ADDRESS.search(test_id):
        return test_id[: test_id.index("[", start)]
    return test_id


def as_requested(
    statuses: dict[str, str], messages: dict[str, str], tests: list[str]
) -> tuple[dict[str, str], dict[str, str]]:
    """A run's results keyed by the requested ids: a case whose id names an address in this process is
    read back by its blanked id; anything not requested is left out."""
    wanted = {blank(t): t for t in tests}
    asked = set(tests)
    out: dict[str, str] = {}
    notes: dict[str, str] = {}
    for test_id, status in statuses.items():
        t = test_id if test_id in asked else wanted.get(blank(test_id))
        if t is None or (t in out and _RANK[out[t]] >= _RANK.get(status, 3)):
            continue
        out[t] = status
        if test_id in messages:
            notes[t] = messages[test_id]
    return out, notes
