"""What a test session reports, read the way JUnit XML would give it: one status per test id from its
setup/call/teardown reports, and the failure text. Runs inside the sandbox beside `warm_runner.py` and
`cover_runner.py` (both use `Recorder`); imports nothing from codekiln."""

from __future__ import annotations

from typing import Any

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
