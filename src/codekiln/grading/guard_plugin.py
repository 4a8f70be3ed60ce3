"""codekiln's pytest plugin for every test run it grades or records (it runs inside the sandbox).

Loaded as `-p codekiln_guard_<nonce>` from a directory the grader writes fresh for each run. It imports
nothing from codekiln (the test process has only the environment's packages) and does three things:

1. Records every test under the node id pytest itself uses (`report.nodeid`), so an id always reruns
   exactly that test: inherited test methods, tests imported into another module and data-driven
   tests keep distinct ids (rebuilding ids from JUnit's `file` attribute merged them).
2. Writes those results (status, failure message, collection errors, pytest's own counts, the
   plugins registered during the session) to a JSON file named in its settings file.
3. Prints one marker line at the very end of the session:
   `codekiln-guard <nonce> exit=<status> results=<sha256> junit=<sha256>`, which the grader checks
   against the process's exit code and the files it reads back (see `grading.guard`).

Its settings reach it through `$CODEKILN_GUARD`, the path of a JSON file that it reads and deletes at
import, before any conftest or test module runs: the nonce is gone from the filesystem by the time
code under test runs. Code under test shares this process and can still forge all of it (that is why
the grader also plants canary tests and scans patches); the marker only makes forgery take effort
aimed at codekiln rather than at pytest.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from typing import Any

import pytest

_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}
_SETTINGS: dict[str, Any] = {}


def _load_settings() -> None:
    path = os.environ.pop("CODEKILN_GUARD", "")
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as fh:
            _SETTINGS.update(json.load(fh))
        os.unlink(path)
    except (OSError, ValueError):
        return


_load_settings()


def _digest(path: str | None) -> str:
    if not path:
        return "-"
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return "-"


def _message(report: Any) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = getattr(crash, "message", None) or getattr(report, "longreprtext", "") or ""
    return str(text).strip()[:2000]


class Guard:
    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.messages: dict[str, str] = {}
        self.collection_errors: dict[str, str] = {}
        self.deselected: list[str] = []

    def _set(self, nodeid: str, status: str, message: str) -> None:
        old = self.statuses.get(nodeid)
        if old is None or _RANK[status] > _RANK[old]:
            self.statuses[nodeid] = status
            if message:
                self.messages[nodeid] = message

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        xfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if report.passed:
                self._set(report.nodeid, "passed", "")
            elif report.skipped:  # skipped inside the test, or an expected failure
                self._set(report.nodeid, "skipped", "")
            else:
                self._set(report.nodeid, "failed", _message(report))
        elif report.failed:  # setup or teardown broke
            self._set(report.nodeid, "error", f"failed on {report.when}: " + _message(report))
        elif report.skipped and report.when == "setup":
            self._set(report.nodeid, "skipped", "xfail" if xfail else "")

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors[report.nodeid or "<session>"] = _message(report) or "collection failed"

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.extend(item.nodeid for item in items)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        out = _SETTINGS.get("out")
        if not out:
            return
        config = session.config
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        stats = getattr(reporter, "stats", {}) or {}
        counted = {
            key: len([r for r in reports if isinstance(r, pytest.TestReport)])
            for key, reports in stats.items()
            if key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
        }
        tested = {r.nodeid for reports in stats.values() for r in reports if isinstance(r, pytest.TestReport)}
        plugins = set()
        for plugin in config.pluginmanager.get_plugins():
            module = plugin if hasattr(plugin, "__file__") else sys.modules.get(type(plugin).__module__)
            plugins.add(str(getattr(module, "__file__", None) or ""))
        data = {
            "nonce": _SETTINGS.get("nonce", ""),
            "exitstatus": int(exitstatus),
            "statuses": self.statuses,
            "messages": self.messages,
            "collection_errors": self.collection_errors,
            "deselected": self.deselected,
            "pytest_counts": counted,
            "pytest_tests": len(tested),
            "plugin_files": sorted(plugins),
        }
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        line = (
            f"\ncodekiln-guard {_SETTINGS.get('nonce', '')} exit={int(exitstatus)} "
            f"results={_digest(out)} junit={_digest(_SETTINGS.get('junit'))}\n"
        )
        sys.stdout.flush()
        os.write(1, line.encode())


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Guard(), "codekiln-guard")
