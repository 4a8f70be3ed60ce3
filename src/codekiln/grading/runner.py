"""Run a repository's tests inside a sandbox and read back per-test results.

    cmd = TestCommand(args=["tests"])
    run = run_tests(sandbox, cmd)                       # the full suite
    run = run_tests(sandbox, cmd, tests=["tests/test_a.py::test_x"])
    print(run.summary_line())                           # "192 passed, 0 failed"

Every run goes through pytest (it runs unittest suites too) under codekiln's guard plugin, which
records each test under pytest's own node id (see `grading.guard`); pytest also writes JUnit XML,
whose hash the guard checks. Timeouts, crashes, a missing report and "no tests collected" are infrastructure errors
(`TestRun.error`), kept apart from test failures; collection errors are listed in `collection_errors`.
Requested tests that never ran are listed in `missing` (they count as failed when classified).
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, Field, PrivateAttr

from codekiln.core.errors import GradingError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.core.records import Record
from codekiln.grading import hidden_tests, suite_order, unstable_ids
from codekiln.grading.guard import Canaries, GuardSession, Isolation
from codekiln.grading.guard_check import canary_of
from codekiln.grading.junit import STATUSES

JUNIT_PATH = "/tmp/codekiln/junit.xml"
IDS_PATH = "/tmp/codekiln/test-ids.txt"
_ARGFILE_OVER = 100  # pass test ids through an @argfile past this many
_ARGFILE_CHARS = 32_000  # or past this many characters: semver 3.2.0 has a 200,069-character id, and
# Linux refuses one argument over 128 KiB ("Argument list too long", the run never started)
WATCHED_PER_RUN = 8


class TestCommand(BaseModel):
    """How to run a repository's tests: extra pytest arguments (paths, options) and environment."""

    __test__ = False  # not a pytest test class

    args: list[str] = Field(
        default_factory=list, description="pytest arguments for the full suite (paths, -o ...)"
    )
    env: dict[str, str] = Field(default_factory=dict, description="extra environment variables")
    timeout_s: float = Field(
        default=900.0,
        description="wall-clock limit for one run (a graded run's is derived from the measured suite, "
        "at most this: grading.limits)",
    )

    def argv(
        self, tests: list[str] | None, ids_file: str | None = None, junit: str = JUNIT_PATH
    ) -> list[str]:
        base = ["python", "-m", "pytest", "-p", "no:cacheprovider", "-o", "junit_family=xunit1"]
        # (run_tests replaces the first 3 items with the guarded start-up; see grading.guard)
        base += ["--junitxml", junit, "-q", "--no-header", "-rN", "--color=no"]
        if tests is None:
            return base + self.args
        options = [a for a in self.args if a.startswith("-")]
        return base + options + ([f"@{ids_file}"] if ids_file else list(tests))


def _selects_any(selection: str, ids: dict[str, str]) -> bool:
    """Whether a requested test id, or a file or folder given in its place, matched a reported test (a
    file given to `env test --tests` was reported as one test 'missing', beside its tests that ran)."""
    if selection in ids:
        return True
    if "::" in selection:
        return False
    prefix = selection.rstrip("/")
    return any(i.startswith((f"{prefix}::", f"{prefix}/")) for i in ids)


class TestRun(Record):
    """The outcome of one test run. `error` is set for infrastructure failures only."""

    __test__ = False

    statuses: dict[str, str] = Field(default_factory=dict)
    messages: dict[str, str] = Field(default_factory=dict)
    collection_errors: dict[str, str] = Field(default_factory=dict)
    collection_skips: dict[str, str] = Field(default_factory=dict)
    """Modules skipped at collection (a module-level `pytest.skip` or `importorskip`), with the reason:
    no test id of theirs is known, but pytest's summary counts each as one skipped."""
    repeated_ids: dict[str, int] = Field(default_factory=dict)
    """Ids that several collected items share, with how many share each (a conftest's text cases:
    docopt-ng's `testcases(6)` five times): pytest asked for such an id runs all its items and its
    summary counts each, while `statuses` holds one per id, its items' worst (a bug failing one item
    fails the id), so pytest's counts exceed `counts()` by `sum(n - 1)` (`items_note`)."""
    missing: list[str] = Field(default_factory=list)
    exit_code: int = 0
    duration_s: float = 0.0
    timed_out: bool = False
    error: str | None = None
    evidence: list[str] = Field(default_factory=list)
    """Signs that the run's report was forged (see `grading.guard`); the grader scores them `tampered`."""
    log_tail: str = ""
    _log: str = PrivateAttr(default="")

    @property
    def log_tail_full(self) -> str:
        """The whole output of the run (not saved with the record)."""
        return self._log

    @log_tail_full.setter
    def log_tail_full(self, text: str) -> None:
        self._log = text

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(STATUSES, 0)
        for status in self.statuses.values():
            out[status] = out.get(status, 0) + 1
        return out

    @property
    def ok(self) -> bool:
        return self.error is None

    def summary_line(self) -> str:
        """`N passed, M failed` (errors and missing tests count as failed; skipped are added if any)."""
        c = self.counts()
        failed = c["failed"] + c["error"] + len(self.missing)
        line = f"{c['passed']} passed, {failed} failed"
        return line + (f", {c['skipped']} skipped" if c["skipped"] else "")

    def items_note(self) -> str:
        """How pytest's item counts differ from the ids' ("" when every id is one item)."""
        return items_note(len(self.statuses), self.repeated_ids)

    def raise_for_error(self) -> None:
        if self.error:
            raise GradingError(f"test run failed: {self.error}", hint="see the log tail:\n" + self.log_tail)


def items_note(ids: int, repeated: dict[str, int]) -> str:
    """`ids` recorded, `repeated` the ids several items share: what pytest's summary counts instead,
    said in words (`TestRun.repeated_ids`)."""
    if not repeated:
        return ""
    items = ids + sum(n - 1 for n in repeated.values())
    return (
        f"pytest ran {items} items under these {ids} id(s): {len(repeated)} id(s) name several items "
        f"(e.g. {min(repeated)} x{repeated[min(repeated)]}), each recorded once with its items' worst status"
    )


def run_tests(
    sandbox: Sandbox,
    command: TestCommand,
    tests: list[str] | None = None,
    *,
    timeout: float | None = None,
    isolation: Isolation | None = None,
    canaries: Canaries | None = None,
    watch: list[str] | None = None,
    export_rewrites: bool = False,
    baseline: Mapping[str, str] | None = None,
    order: Sequence[str] = (),
) -> TestRun:
    """Run the full suite (tests=None) or the given test ids in `sandbox` and parse the results.

    The run is guarded (see `grading.guard`): isolated start-up, the environment's plugins by name, the
    snapshot's config, test ids as pytest's node ids, and a marker cross-checked after the run. Signs
    that the report was forged are listed in `TestRun.evidence` (never an `error`: the grader decides).
    `canaries` are added to the requested tests and left out of `statuses`; before each of them and of
    the `watch` tests (the grader passes FAIL_TO_PASS) the guard checks that pytest's machinery is intact.

    `baseline`: the clean tree's statuses (the environment's baseline): the cases of a function asked
    for in place of an unstable id that did not pass there are not read as renamed by the change
    (`unstable_ids.read_back`).

    `order`: the suite's own run order (the environment's baseline ids): the tests are asked for in it
    (`grading.suite_order`), as a suite whose tests depend on their order needs. Without it they are
    asked for as given, the cases asked for by their function last.

    `export_rewrites`: the tree is the clean snapshot (trusted): later runs of the environment reuse
    the test code this run rewrites (`grading.guard_rewrites`). Never for a tree with a patch.

    Requested ids that pytest cannot find (a test the change removed) make pytest refuse the whole run;
    they are dropped, listed in `missing`, and the rest are run again once.
    """
    iso = isolation or _isolation_of(sandbox, tests)
    run = _run_once(
        sandbox, command, tests, timeout, iso, canaries, watch or [], export_rewrites, baseline, order
    )
    if tests is not None and run.exit_code == 4 and not run.timed_out:
        named = set(_NOT_FOUND.findall(run.log_tail_full))  # pytest >= 9 names them by absolute path
        root = sandbox.workdir.rstrip("/") + "/"
        asked = {t: unstable_ids.function_id(t) if unstable_ids.is_unstable(t) else t for t in tests}
        gone = {t for t, a in asked.items() if a in named or root + a in named}
        if gone:
            rest = [t for t in tests if t not in gone]
            run = (
                _run_once(
                    sandbox,
                    command,
                    rest,
                    timeout,
                    iso,
                    canaries,
                    watch or [],
                    baseline=baseline,
                    order=order,
                )
                if rest
                else TestRun(error="no tests requested")
            )
            run.missing = sorted(set(run.missing) | gone)
            if not rest:
                run.error = None
    return run


def internal_error(log: str) -> str:
    """What a run that pytest ended with INTERNALERROR (exit code 3) says: the exception (its first line,
    the type included) and where it was raised, the innermost frame outside pytest and pluggy (a
    plugin's hook, a conftest). pytest crashes there itself (a plugin's hook, a warning the config's
    `filterwarnings = error` turns into an error at start-up, or a failure whose traceback it cannot
    render: pydantic-settings' doc examples on CPython 3.11.7), so the run has no complete result."""
    lines = re.findall(r"^INTERNALERROR> ?(.*)$", log, re.M)
    frames = [i for i, line in enumerate(lines) if _FRAME.match(line)]
    after = lines[frames[-1] + 1 :] if frames else lines
    exc = next((ln.strip() for ln in after if ln.strip() and not ln.startswith(" ")), "")
    exc = exc or next((ln.strip() for ln in reversed(lines) if ln.strip()), "")
    outside = [m for m in map(_FRAME.match, lines) if m and not _PYTEST_INTERNALS.search(m[1])]
    where = ""
    if outside:
        path = re.sub(r"^.*/site-packages/", "", outside[-1][1]).removeprefix("/testbed/")
        where = f" (raised in {path}, line {outside[-1][2]}, in {outside[-1][3]})"
    return "pytest stopped with an internal error (exit code 3)" + (f": {exc}{where}" if exc else "")


_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+), in (\S+)')
_PYTEST_INTERNALS = re.compile(r"/(_pytest|pluggy|pytest)/|/python3\.\d+/[^/]+\.py$")


_NOT_FOUND = re.compile(r"^ERROR: not found: (.+?)\s*$", re.M)  # an id may hold spaces


def _isolation_of(sandbox: Sandbox, tests: list[str] | None) -> Isolation:
    """The isolation settings of a sandbox's environment (its snapshot and venv on the host)."""
    spec = getattr(sandbox, "spec", None)
    snapshot, venv = getattr(spec, "snapshot", None), getattr(spec, "venv", None)
    if snapshot is None or venv is None:
        return Isolation()
    return Isolation.for_environment(snapshot, venv, tests)


_PYTEST_DIST = re.compile(r"^pytest-(\d+)\.(\d+)[^-]*\.dist-info$")


def reads_argfiles(sandbox: Sandbox) -> bool:
    """Whether the environment's pytest reads `@file` arguments (pytest 8.2 and later; true when its
    version cannot be read). Older ones take `@file` for a path, collect nothing and exit 4: tomlkit
    0.15.2 pins pytest 7.4.4, and every run of more than 100 tests (a synthesis batch's clean side)
    was an infrastructure error, so no task came out."""
    venv = getattr(getattr(sandbox, "spec", None), "venv", None)
    if venv is None:
        return True
    for dist in Path(venv).glob("lib/python*/site-packages/pytest-*.dist-info"):
        found = _PYTEST_DIST.match(dist.name)
        if found:
            return (int(found[1]), int(found[2])) >= (8, 2)
    return True


def _run_once(
    sandbox: Sandbox,
    command: TestCommand,
    tests: list[str] | None,
    timeout: float | None,
    iso: Isolation,
    canaries: Canaries | None,
    watch: list[str],
    export_rewrites: bool = False,
    baseline: Mapping[str, str] | None = None,
    order: Sequence[str] = (),
) -> TestRun:
    if tests is not None and not tests:
        return TestRun(error="no tests requested")
    stable, unstable = unstable_ids.split(tests or [])
    functions = set(unstable_ids.function_ids(unstable))  # asked for in place of their unstable cases
    requested = None
    if tests is not None:
        asked = suite_order.pytest_ids(suite_order.in_suite_order(tests, order)) if order else None
        requested = (asked or [*stable, *sorted(functions)]) + (canaries.ids if canaries else [])
    ids_file = None
    many = requested is not None and (
        len(requested) > _ARGFILE_OVER or sum(map(len, requested)) > _ARGFILE_CHARS
    )
    if requested is not None and many and reads_argfiles(sandbox):
        sandbox.write_file(IDS_PATH, "\n".join(requested) + "\n")
        ids_file = IDS_PATH
    if canaries is not None:
        sandbox.write_file(canaries.path, canaries.source)
    # The machinery check costs a few ms: before every canary and a few FAIL_TO_PASS tests drawn at random.
    sample = random.sample(watch, min(len(watch), WATCHED_PER_RUN))
    watched = [*sample, *(canaries.ids if canaries else [])]
    appended = (canaries.path, canaries.kept) if canaries is not None and canaries.kept else None
    guard = GuardSession.start(
        sandbox, iso, None, watched, export_rewrites=export_rewrites, appended=appended
    )
    saved = hidden_tests.take(sandbox, guard)  # the run empties them once collected (`guard_plugin_hide`)
    replaced: list[str] = []
    try:
        result = sandbox.exec(
            guard.python() + guard.pytest_args() + command.argv(requested, ids_file, guard.junit)[3:],
            timeout=timeout or command.timeout_s,
            env=guard.env(command.env),
            cwd=sandbox.workdir,
        )
    finally:
        replaced = hidden_tests.put_back(sandbox, saved)
    run = TestRun(
        exit_code=result.exit_code,
        duration_s=result.duration_s,
        timed_out=result.timed_out,
        log_tail=tail(result.stdout + result.stderr, 40),
    )
    run.log_tail_full = result.stdout + result.stderr
    if result.timed_out:
        run.error = f"timeout: the test run passed its {timeout or command.timeout_s:.0f} s limit"
        return run
    report = guard.read(sandbox, result)
    run.evidence = [*report.evidence, *hidden_tests.replaced_evidence(replaced)]
    recorded = len(report.statuses)
    if canaries is not None:
        run.evidence += canaries.evidence(report.statuses)
        for test_id in [t for t in report.statuses if canary_of(t, canaries.expected)]:
            report.statuses.pop(test_id, None)
            report.messages.pop(test_id, None)
        outside = sorted(
            t
            for t in set(report.statuses) - set(requested or [])
            if not unstable_ids.selected_by(t, functions)
        )
        if outside:
            run.evidence.append(
                f"the report holds {len(outside)} test(s) that were not requested: {outside[:3]}"
            )
    if not report.found:
        run.error = (
            internal_error(run.log_tail_full)
            if result.exit_code == 3 and "INTERNALERROR>" in run.log_tail_full
            else f"no test report: the test process ended before its session did (exit code {result.exit_code})"
        )
        return run
    run.statuses, run.messages = unstable_ids.read_back(
        report.statuses, report.messages, unstable, set(stable), baseline
    )
    run.collection_errors = report.collection_errors
    run.collection_skips = report.collection_skips
    run.repeated_ids = report.repeated_ids
    if tests is not None:
        run.missing = [t for t in tests if not _selects_any(t, run.statuses)]
    if result.exit_code == 3:  # pytest's own crash, which also leaves its counts and codekiln's apart
        run.error = internal_error(run.log_tail_full)
    elif report.pytest_tests != recorded and not run.evidence:
        run.error = (
            f"codekiln recorded {len(report.statuses)} tests but pytest counted {report.pytest_tests} in "
            "its summary: the run's report cannot be trusted"
        )
    elif result.exit_code == 5 or (not report.statuses and not report.collection_errors):
        run.error = "no tests collected: check the test command's paths"
    elif result.exit_code == 4 and not report.collection_errors:
        # Exit code 4 with collection errors is the code under test failing to import: its tests are
        # missing (failed), which is a verdict on the code, not an infrastructure failure.
        run.error = f"pytest internal or usage error (exit code {result.exit_code})"
    return run
