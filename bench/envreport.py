"""A pytest plugin that only observes: the plain side of bench/envbuild.py loads it to keep every report
of the library's own suite per test id, which its printed output cannot give (skips are folded into
one line per reason before pytest 8.3, failure messages are cut to the terminal's width, and output
plugins such as pytest-sugar reformat the lines).

    python -m pytest -p envreport --envreport-out /tmp/reports.json

It changes nothing that runs: no fixture, no hook that returns a value, nothing before the tests but an
option. Written once at the end of the session, by the controller only under pytest-xdist (the workers'
reports reach the controller's hooks). Standalone on purpose: it is copied into the plain venv, which
has no codekiln. Read back by `envtests.plain_side`.
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE_CHARS = 600


def pytest_addoption(parser: Any) -> None:
    parser.addoption("--envreport-out", default="", help="write every test report here as JSON")


def _message(report: Any) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = getattr(crash, "message", None)
    if not text:
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:  # a skip: (path, line, reason)
            text = longrepr[2]
        else:  # a collection error: its traceback, whose last `E   ` line says what broke
            text = getattr(report, "longreprtext", "") or ""
            said = [ln[1:].strip() for ln in str(text).splitlines() if ln.startswith("E   ")]
            text = said[-1] if said else str(text).strip()[-MESSAGE_CHARS:]
    return str(text).strip()[:MESSAGE_CHARS]


class _Observer:
    def __init__(self, out: str) -> None:
        self.out = out
        self.reports: list[list[object]] = []
        self.collection_errors: dict[str, str] = {}
        self.collection_skips: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.passed and report.when != "call":
            return  # a setup or teardown that went well says nothing of the test's outcome
        xfail = hasattr(report, "wasxfail")
        message = "" if report.passed else _message(report)
        self.reports.append([report.nodeid, report.when, report.outcome, xfail, message])

    def pytest_collectreport(self, report: Any) -> None:
        if report.failed:
            self.collection_errors[report.nodeid or "<session>"] = _message(report) or "collection failed"
        elif report.skipped:
            self.collection_skips[report.nodeid or "<session>"] = _message(report).removeprefix("Skipped: ")

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        data = {
            "rootdir": str(session.config.rootpath),
            "exitstatus": int(exitstatus),
            "reports": self.reports,
            "collection_errors": self.collection_errors,
            "collection_skips": self.collection_skips,
        }
        with open(self.out, "w", encoding="utf-8") as fh:
            json.dump(data, fh)


def pytest_configure(config: Any) -> None:
    out = config.getoption("envreport_out")
    if out and not hasattr(config, "workerinput"):  # an xdist worker's reports reach the controller
        config.pluginmanager.register(_Observer(out), "envreport-observer")
