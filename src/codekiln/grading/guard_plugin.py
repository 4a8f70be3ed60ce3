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

Its settings reach it through `$CODEKILN_GUARD`, a JSON file it reads and deletes at import, before any
conftest or test module runs. Code under test shares this process and can still forge all of it (the
grader plants canaries and scans patches): the marker makes forgery take aim at codekiln.

Its parts ship beside it, under its name plus a suffix (`grading.shipped`): `_bodies` (test modules compiled
from the trusted bytes, bodies wrapped, comparisons checked by `_equality`), `_machinery` (pytest's, pluggy's
and the builtins' functions watched), `_trace` (trace functions, heap walks), `_reads` (the tests' source read
by library code), `_hide`, `_report` (what leaves), `_support`/`_held` (support modules held to their source),
`_tables` (literal tables), `_coverage` (no project coverage), `_speedups`. This module: what runs per test,
the hooks. Compiled for the grader's Python; PYTEST_DONT_REWRITE.
"""

from __future__ import annotations

import importlib
import json
import marshal
import os
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from . import guard_plugin_bodies as bodies
    from . import guard_plugin_equality as equality
    from . import guard_plugin_machinery as machinery
    from . import guard_plugin_reads as reads
    from . import guard_plugin_report as report
    from . import guard_plugin_speedups as speedups
    from . import guard_plugin_support as support
    from . import guard_plugin_tables as tables
    from . import guard_plugin_trace as trace
else:  # shipped beside this module as `<its name>_machinery`, `_report`... (`grading.shipped`)
    _PARTS = ("bodies", "equality", "machinery", "reads", "report", "speedups", "support", "tables", "trace")
    bodies, equality, machinery, reads, report, speedups, support, tables, trace = (
        importlib.import_module(f"{__name__}_{part}") for part in _PARTS
    )

_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}
# Failure messages' characters kept in all (2,000 each at most, past it 200): far below RESULTS_LIMIT.
MESSAGE_BUDGET = 8 << 20
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
# The test files' sources, read now, before any conftest or code under test runs: what each test's
# code is checked against when it is called (`Guard.check_item`).
_TRUSTED: dict[str, bytes] = {}
for _path in _SETTINGS.get("trusted", []):
    try:
        with open(_path, "rb") as _fh:
            _TRUSTED[_path] = _fh.read()
    except OSError:
        pass
# What pytest compiled from those bytes, per file: the module code objects (kept, so that the ids of
# every code object inside them stay theirs) and those ids; their keys (`_key`) only when asked.
_COMPILED: dict[str, list[types.CodeType]] = {}
_COMPILED_IDS: dict[str, set[int]] = {}
# Rewritten test code that an earlier run on the clean snapshot made (`grading.guard.RewriteCache`), by
# path: (sha256 of the source, enable_assertion_pass_hook, code[, the python_functions patterns its
# tests were wrapped for]). Read now, like the settings; used only for a trusted source whose bytes
# have that hash, wrapped for this run's patterns, so it is exactly what rewriting them makes here,
# or with the grader's canaries appended to those bytes (`speedups.appended_code`).
_REWRITTEN: dict[str, tuple[Any, ...]] = {}
if _SETTINGS.get("rewrites"):
    try:
        with open(_SETTINGS["rewrites"], "rb") as _fh:
            _REWRITTEN.update(marshal.load(_fh))
        os.unlink(_SETTINGS["rewrites"])
    except (OSError, ValueError, EOFError, TypeError):
        _REWRITTEN.clear()


_src = support.sources  # what the trusted bytes hold, read with `ast`
_key, _walk = _src.code_key, bodies.walk


def _plain_keys(path: str) -> set[tuple[Any, ...]]:
    return _src.plain_keys(_TRUSTED[path], path)


_STATUS, _message = report.status, report.message  # the hooks' argument is named `report` too


class Guard:
    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.messages: dict[str, str] = {}
        self.collection_errors: dict[str, str] = {}
        self.collection_skips: dict[str, str] = {}
        self.deselected: list[str] = []
        self.forged: list[str] = _TABLES.forged  # the tests' literal tables' findings join its own
        self.forged += report.changed_since(_TRUSTED, _SETTINGS.get("trusted_digests", {}))  # before us
        self.passed_calls: dict[str, int] = {}
        self._message_chars = 0
        self._keys: dict[str, set[tuple[Any, ...]]] = {}
        self._compiled_keys: dict[str, tuple[int, set[tuple[Any, ...]]]] = {}
        self._watch = set(_SETTINGS.get("watch", []))
        self._machinery_reported = False
        self._hooks_reported = False
        self._reported: set[str] = set()
        self._readonly = machinery.READONLY
        self._workdir = _WATCH.workdir
        self._support_reported: set[str] = set()
        self._collected: dict[str, Any] = {}  # each test's callable as collection made it

    def check_item(self, item: Any) -> None:
        """A test about to run must be the code of its trusted source file: every function it is made
        of either compiles from a test file read at start-up or lives in read-only code (the venv,
        the interpreter). Anything else means the test was replaced after the files were read."""
        if not _TRUSTED or not isinstance(item, pytest.Function):
            return
        obj = getattr(item, "obj", None)  # a callable object stands for its class's __call__
        funcs = bodies.functions(obj) or bodies.functions(
            vars(type(obj)).get("__call__") if callable(obj) else None
        )
        if not funcs:
            return
        codes, allowed = [f.__code__ for f in funcs], None
        for func, code in zip(funcs, codes, strict=True):
            where = code.co_filename
            if where.startswith(self._readonly) and _WATCH.from_readonly(func):  # and genuinely so
                continue
            if where in _TRUSTED:
                if id(code) in _COMPILED_IDS.get(where, ()):  # the very code pytest compiled from them
                    continue
                key = _key(code)  # else the same code made afresh, or Python's own compile of them
                modules = _COMPILED.get(where, [])
                if self._compiled_keys.get(where, (-1,))[0] != len(modules):
                    self._compiled_keys[where] = (len(modules), {_key(c) for m in modules for c in _walk(m)})
                if key in self._compiled_keys[where][1]:
                    continue
                if where not in self._keys:
                    self._keys[where] = _plain_keys(where)
                if key in self._keys[where] or _WATCH.readonly_proxy(func):
                    continue
            if func is not funcs[-1] and where not in _TRUSTED:  # a wrapper the test's source asks for?
                allowed = self._decorated(item, funcs) if allowed is None else allowed
                place = next((p for p in allowed if where.startswith(p)), None)
                if place is not None:
                    allowed.remove(place)
                    continue
            self.forged.append(
                f"{item.nodeid}: runs {code.co_name}() from {where}, which is not the test's source"
            )
            return
        name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
        if codes[-1].co_filename.startswith(self._readonly) and not any(
            name in _src.def_names(s) for s in _TRUSTED.values()
        ):
            self.forged.append(f"{item.nodeid}: no function {name} in the test files")

    def _decorated(self, item: Any, funcs: list[Any]) -> list[str]:
        """Where the graded tree's decorators written above the test come from (`sources.tree_decorators`),
        when its callable is still the one collection made (a test wrapped after collection: none)."""
        path, name = str(item.path), getattr(item, "originalname", None) or item.name.split("[", 1)[0]
        if path not in _TRUSTED or self._collected.get(item.nodeid) is not funcs[0]:
            return []
        return _src.tree_decorators(_TRUSTED[path], name, vars(item.module), self._readonly, _TRUSTED)

    def check_machinery(self, when: str) -> None:
        hooks = trace.trace_hooks(_TRACES.kept)
        if hooks and not self._hooks_reported:
            self._hooks_reported = True
            self.forged.append(f"a {' and a '.join(hooks)} function was installed ({when})")
        found = {"set a trace or profile function": _TRACES.calls, "walked the interpreter's objects":
                 _TRACES.walks}  # fmt: skip
        news = [w for w, f in found.items() if f and w not in self._reported]
        self._reported.update(news)  # and the reads: the first of each test (`TestReads.unreported`)
        self.forged += [f"code under test {w}: {found[w][0]}" for w in news] + _READS.unreported()
        changed = _WATCH.changes()
        if changed and not self._machinery_reported:
            self._machinery_reported = True
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            self.forged.append(f"the test machinery was changed at run time ({when}): {shown}")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.check_machinery("after collection")
        self._collected = {
            i.nodeid: (bodies.functions(vars(i).get("_obj")) or [None])[0] for i in session.items
        }
        _SUPPORT.hold()  # before any fixture runs: who writes to the support modules is noted from now
        speedups.map_test_modules(_TRUSTED)
        export = _SETTINGS.get("export_rewrites")
        if export:  # a run on the clean snapshot, before any test: see `grading.guard.RewriteCache`
            with open(export, "wb") as fh:  # what it was given, and what it rewrote from trusted bytes
                marshal.dump(_REWRITTEN, fh)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self.check_item(item)
        self.check_support(item)
        digests = _SETTINGS.get("doctest_digests", {})
        self.forged.extend(machinery.doctest_changed(item, _SETTINGS.get("doctests", {}), digests))
        overridden = [a for a in ("runtest", "setup", "teardown", "repr_failure") if a in vars(item)]
        if overridden:
            self.forged.append(f"{item.nodeid}: {', '.join(overridden)} replaced on the test item")
        if item.nodeid in self._watch or item.nodeid.split("[", 1)[0] in self._watch:
            self.check_machinery(f"before {item.nodeid}")

    def check_support(self, item: pytest.Item) -> None:  # a test's helpers are its trusted code too
        for why in _SUPPORT.changed(item, _TRUSTED) if _TRUSTED else ():
            if why not in self._support_reported:
                self._support_reported.add(why)
                self.forged.append(f"{item.nodeid}: {why}")

    @pytest.hookimpl(tryfirst=True)  # after the call, before its fixtures' teardown: the last test's too
    def pytest_runtest_teardown(self, item: pytest.Item) -> None:
        self.check_support(item)

    def _set(self, nodeid: str, status: str, message: str) -> None:
        old = self.statuses.get(nodeid)
        if old is None or _RANK[status] > _RANK[old]:
            self.statuses[nodeid] = status
            if message:
                message = message if self._message_chars < MESSAGE_BUDGET else message[:200]
                self._message_chars += len(message)
                self.messages[nodeid] = message

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        status = _STATUS(report)
        if status == "passed" and report.when == "call":
            self.passed_calls[report.nodeid] = self.passed_calls.get(report.nodeid, 0) + 1
        if status == "rerun":  # an attempt retried: the test's status is what its last attempt makes
            return
        if status == "failed":
            self._set(report.nodeid, status, _message(report))
        elif status == "error":
            self._set(report.nodeid, status, f"failed on {report.when}: " + _message(report))
        elif status:  # an expected failure skipped at setup says so
            xfail = report.when == "setup" and hasattr(report, "wasxfail")
            self._set(report.nodeid, status, "xfail" if xfail else "")

    def unpassed_calls(self, statuses: dict[str, str]) -> dict[str, int]:
        """Per test that pytest called more often than its final status accounts for (retried by a plugin:
        pytest-rerunfailures, `flaky`): its calls less the passed call reports logged for it, and less one
        where it is recorded passed; the grader allows its function that many raises (`guard_check.
        raised_evidence`). Calls are counted at pytest's outermost call wrapper (`machinery.CallOutcomes`),
        passes from the reports as logged: a report flipped or made up passed makes it smaller, never larger."""
        out = {}
        for nodeid, calls in _OUTCOMES.calls.items():
            final_pass = int(statuses.get(str(nodeid)) == "passed")
            unpassed = int(calls) - max(int(self.passed_calls.get(nodeid, 0)), final_pass)
            if unpassed > 1 - final_pass:
                out[str(nodeid)] = unpassed
        return out

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors[report.nodeid or "<session>"] = _message(report) or "collection failed"
        elif report.skipped:  # a module-level skip or importorskip: pytest's summary counts it as skipped
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else _message(report)
            self.collection_skips[report.nodeid or "<session>"] = str(reason).removeprefix("Skipped: ")[:2000]

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
        self.check_machinery("at the end of the session")
        self.forged.extend(report.clear_paths([_SETTINGS.get("junit"), out]))  # a link or FIFO there
        # One plain copy of what was recorded: the checks below and the file read the same values.
        statuses = {str(k): str(v) for k, v in self.statuses.items()}
        for nodeid in [n for n, status in statuses.items() if status == "passed"]:
            if _OUTCOMES.forged_pass(nodeid):
                self.forged.append(f"{nodeid}: reported passed, but its call raised or never ran")
        from_dists = {id(plugin) for plugin, _ in config.pluginmanager.list_plugin_distinfo()}
        for plugin in config.pluginmanager.get_plugins():
            module = plugin if hasattr(plugin, "__file__") else sys.modules.get(type(plugin).__module__)
            where = str(getattr(module, "__file__", None) or "")
            trusted = where in _TRUSTED or id(plugin) in from_dists or id(module) in from_dists
            if _TRUSTED and where.startswith(self._workdir) and not trusted:
                self.forged.append(f"a pytest plugin was registered from {where}")
        for path in sorted(plugins):
            if (
                _TRUSTED
                and path.startswith(self._workdir)
                and path.endswith("/conftest.py")
                and path not in _TRUSTED
            ):
                self.forged.append(f"{path} appeared during the run and was loaded as a conftest")
        data = {
            "nonce": str(_SETTINGS.get("nonce", "")),
            "exitstatus": int(exitstatus),
            "statuses": statuses,
            "messages": {str(k): str(v) for k, v in self.messages.items()},
            "collection_errors": {str(k): str(v) for k, v in self.collection_errors.items()},
            "collection_skips": {str(k): str(v) for k, v in self.collection_skips.items()},
            "deselected": [str(n) for n in self.deselected],
            "pytest_counts": {str(k): int(v) for k, v in counted.items()},
            "pytest_tests": len(tested),
            "repeated_ids": report.repeated_ids(item.nodeid for item in session.items),
            "plugin_files": sorted(plugins),
            "forged": [str(f) for f in self.forged],
            "unpassed_calls": self.unpassed_calls(statuses),
        }
        sys.stdout.flush()
        report.finish(out, data, _SETTINGS.get("junit"))
        report.end_with(lambda: int(session.exitstatus))  # no thread left running holds the run


_NONCE = str(_SETTINGS.get("nonce", "")) if _SETTINGS.get("out") else None
_WORKDIR = str(_SETTINGS.get("workdir") or "\0").rstrip("/") + "/"
_RAISED = bodies.raised_announcer(
    _NONCE, frozenset(_TRUSTED), _WORKDIR, machinery.READONLY, report.print_line
)
_EQUAL, _APPENDED = equality.Equality(), speedups.appended_code  # the check the comparisons call
bodies.install(_TRUSTED, _SETTINGS, _REWRITTEN, _COMPILED, _COMPILED_IDS, _RAISED, _APPENDED, _EQUAL.call)
speedups.install()
# The baseline, taken after this plugin's own patches of pytest (`Guard.check_machinery`).
_WATCH = machinery.Machinery(str(_SETTINGS.get("workdir", "")))
# The test support modules' sources (`grading.support`), read now, like the test files.
_TEST_CODE = support.held.TestCode(_TRUSTED, _COMPILED, _COMPILED_IDS, _key, _plain_keys, _walk, _WATCH)
_SUPPORT = support.SupportCheck(
    list(_SETTINGS.get("support", [])),
    _key,
    _WATCH.from_readonly,
    _WATCH.readonly_object,
    machinery.READONLY,
    _WATCH.workdir,
    support.held.Held(_TEST_CODE, _WATCH.stand_ins.source_frame),
)
_TABLES = tables.Tables(_TRUSTED, _SUPPORT.sources, machinery.READONLY, _SETTINGS.get("plain_tables", []))
_EQUAL.bind(_WATCH, _TEST_CODE, _TABLES.forged)  # its findings join the guard's too
_TRACES = trace.TraceCalls(str(_SETTINGS.get("workdir", "")), _WATCH, frozenset(_TRUSTED), (_TABLES.profile,))
_READS = reads.TestReads(_WATCH.workdir, _TRUSTED, _SETTINGS.get("support", []), machinery.READONLY)
_HIDE = importlib.import_module(f"{__name__}_hide").Hide(_READS, bodies.HELD, _SETTINGS.get("hide"))
_OUTCOMES, _ANNOUNCER = machinery.CallOutcomes(_WATCH), report.announcer(_NONCE, (_RAISED, *_EQUAL.guarded()))


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Load the environment's `pytest11` plugins named in the settings, as autoload would (called as
    soon as this plugin registers, before any conftest). Named with `-p NAME` instead, a plugin whose
    entry-point name is also an imported module's (pytest-socket's `socket`) made pytest warn that it
    cannot rewrite that module, which `filterwarnings = error` turned into a failed session."""
    pluginmanager.register(importlib.import_module(f"{__name__}_coverage"), "codekiln-guard-no-cov")
    for name in _SETTINGS.get("plugins", []):
        pluginmanager.load_setuptools_entrypoints("pytest11", name=name)


@pytest.hookimpl(tryfirst=True)  # before pytest writes its JUnit report: no link or FIFO takes the write
def pytest_sessionfinish(session: pytest.Session) -> None:
    report.clear_paths([_SETTINGS.get("junit")] if _SETTINGS.get("out") else [])


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(_ANNOUNCER, "codekiln-guard-announce")
    config.pluginmanager.register(_OUTCOMES, "codekiln-guard-calls")
    config.pluginmanager.register(_READS, "codekiln-guard-reads")
    config.pluginmanager.register(_HIDE, "codekiln-guard-hide")  # its failure reports show the lines
    config.pluginmanager.register(Guard(), "codekiln-guard")
    config.pluginmanager.register(_TABLES, "codekiln-guard-tables")
