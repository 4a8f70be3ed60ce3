"""The checks of a guarded pytest run that need no codekiln: standalone (standard library only), so an
exported task's verifier ships this file unchanged and judges a run exactly as `grading.guard` does.

    expected, source = canary_tests("tests/test_x.py", text)     # write `source` over tests/test_x.py
    data, evidence = check_run(stdout, exit_code, nonce, results_bytes, junit_bytes)
    evidence += canary_evidence(expected, data["statuses"])      # [] when nothing was forged
    canaries = make_canaries("tests/test_x.py", text)            # the same as one record (`Canaries`)
    checks_module_text("tests/test_x.py", text, tests)          # True: plant the canaries elsewhere
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# `[0-9]`, not `\d`: a marker is ASCII, and `int()` of a run of 4,301 digits raises (a marker's exit
# status is compared as the text of the process's).
MARKER = re.compile(r"^codekiln-guard (\S+) exit=(-?[0-9]+) results=(\S+) junit=(\S+)$", re.M)
# A test's failure or error, printed by the guard as it records it (`guard_plugin_report.announcer`).
FAILED_LINE = re.compile(r"^codekiln-guard-failed (\S+) (failed|error) ([0-9a-f]{16})$", re.M)
# An exception leaving a test function that pytest called, printed by the test's own code as it leaves
# (`guard_plugin_bodies`): the keys of the function's names.
RAISED_LINE = re.compile(r"^codekiln-guard-raised (\S+) ([0-9a-f]{16}(?:,[0-9a-f]{16})*)$", re.M)


def _sha(data: bytes | None) -> str:
    return hashlib.sha256(data).hexdigest() if data is not None else "-"


CHANNEL_LOST = 86
"""The test process's exit status when the guard lost its output (`guard_plugin_report.CHANNEL_LOST`)."""


def check_run(
    stdout: str, exit_code: int, nonce: str, results: bytes | None, junit_sha256: str | None
) -> tuple[dict[str, Any] | None, list[str]]:
    """The guard plugin's results (None when the session never ended) and the signs of forgery.

    The marker line must be printed once with this run's nonce; its exit status must be the process's;
    the results and JUnit files must hash as they did when the session ended (`junit_sha256`: the
    JUnit file's hash, None when there is none). A JUnit report with no results file means something
    other than the session wrote it. A results file whose hash is not the marker's is not parsed: code
    under test wrote it, and its size and shape are the writer's choice."""
    evidence: list[str] = []
    if exit_code == CHANNEL_LOST:
        evidence.append(
            f"the test process ended with status {CHANNEL_LOST}: the guard found no descriptor holding "
            "the output it was started with (code under test took it away)"
        )
    markers = [m for m in MARKER.finditer(stdout) if m.group(1) == nonce]
    foreign = [m for m in MARKER.finditer(stdout) if m.group(1) != nonce]
    if results is None:
        if markers:
            evidence.append("the guard's marker was printed but its results file is gone")
        elif junit_sha256 is not None:
            evidence.append(
                "a JUnit report exists but the session never reached the guard's end-of-session "
                f"marker (exit code {exit_code}): the report was written by something else"
            )
        return None, evidence
    if len(markers) == 1 and markers[0].group(3) != _sha(results):
        return None, [*_marker_evidence(markers[0], exit_code, junit_sha256), *evidence]
    try:
        data: dict[str, Any] = json.loads(results)
    except (ValueError, RecursionError):  # RecursionError: arrays nested past the decoder's depth
        return None, ["the guard's results file is not valid JSON"]
    problem = malformed(data)
    if problem:
        return None, [f"the guard's results file is not what the guard writes: {problem}"]
    evidence.extend(f"a test was replaced: {line}" for line in data.get("forged") or [])
    if data.get("nonce") != nonce:
        evidence.append("the results file does not carry this run's nonce")
    evidence.extend(announced_evidence(stdout, nonce, data.get("statuses") or {}))
    evidence.extend(
        raised_evidence(stdout, nonce, data.get("statuses") or {}, data.get("unpassed_calls") or {})
    )
    if foreign:
        evidence.append(f"{len(foreign)} marker line(s) with a foreign nonce were printed")
    if len(markers) != 1:
        evidence.append(f"the guard's marker line was printed {len(markers)} times (expected once)")
        return data, evidence
    return data, [*evidence, *_marker_evidence(markers[0], exit_code, junit_sha256, _sha(results))]


def nodeid_key(nodeid: str) -> str:
    """A node id as the guard's failure lines name it (`guard_plugin_report.nodeid_key`)."""
    return hashlib.sha256(bytes(nodeid, "utf-8", "surrogatepass")).hexdigest()[:16]


def announced_evidence(stdout: str, nonce: str, statuses: dict[str, str]) -> list[str]:
    """Tests the guard announced as failed while they ran, that its results now call passed or skipped
    or do not hold at all. The results are data in the test process, which code under test can reach
    by a walk of attributes from any module and rewrite before they are written; the announcement
    already left the process (the ninth red team's `guard-records-*walk*` attacks)."""
    announced = {m.group(3) for m in FAILED_LINE.finditer(stdout) if m.group(1) == nonce}
    if not announced:
        return []
    keys: dict[str, str] = {}
    for nodeid, status in statuses.items():
        keys.setdefault(nodeid_key(nodeid), status)
    flipped = sorted(k for k in announced if keys.get(k) in ("passed", "skipped"))
    missing = sorted(k for k in announced if k not in keys)
    evidence = []
    if flipped:
        evidence.append(
            f"{len(flipped)} test(s) announced failed while they ran are recorded as passed or skipped: "
            "the guard's records were rewritten during the run"
        )
    if missing:
        evidence.append(
            f"{len(missing)} test(s) announced failed while they ran are missing from the results"
        )
    return evidence


def function_name(nodeid: str) -> str:
    """The name of the function a test id runs (`tests/t.py::TestA::test_x[1-a]` -> `test_x`)."""
    rest = nodeid.split("::", 1)[1] if "::" in nodeid else nodeid
    return rest.split("[", 1)[0].rsplit("::", 1)[-1]


def raised_evidence(
    stdout: str, nonce: str, statuses: dict[str, str], unpassed_calls: dict[str, int] | None = None
) -> list[str]:
    """Test functions that raised, called by pytest, more often than the results hold calls of their
    names that did not pass. An exception leaving a test that pytest called makes that call's report
    failed, an error, skipped or xfailed; the line is printed by the test's own code before pytest makes
    a report, so code under test that controls the report chain (a hook wrapper, pluggy's records, the
    report reached through frames: the tenth red team's `announce-*`) cannot take it back. Parametrized
    cases share a function: a function is counted against all cases of its names.

    A case counts once when its final status is not passed, or `unpassed_calls[id]` times where the
    guard counted more (`Guard.unpassed_calls`: its calls less the passed call reports logged for it,
    and less one where it ended passed): a plugin that retries a failed test (pytest-rerunfailures,
    `flaky`, anything calling it again) makes one raise per failed attempt, and the test may end passed.
    Attempts are counted, not statuses, and the count holds against the attacks on the report chain and
    on the guard's statuses: calls are counted at the outermost wrapper of pytest's call, passes from
    the reports as logged, so a failed report flipped to passed (or a passed one made up and logged)
    lowers the count by one, and so does a status rewritten to passed after the failure was logged. A
    test that raises on every call, called k times, raises k times against k - 1 at most once it ends
    passed. Open: code under test that rewrites the counts themselves (the guard's records are data a
    walk of attributes reaches), or has pytest call a passing case of the same function again, raises
    the count. The results file is data in the sandbox (`malformed` reads the field without raising)."""
    raised = Counter(m.group(2) for m in RAISED_LINE.finditer(stdout) if m.group(1) == nonce)
    if not raised:
        return []
    calls = unpassed_calls or {}
    not_passed: Counter[str] = Counter()
    for nodeid in {*statuses, *calls}:
        count = max(int(statuses.get(nodeid, "passed") != "passed"), calls.get(nodeid, 0))
        not_passed[nodeid_key(function_name(nodeid))] += count
    over = [keys for keys, n in raised.items() if n > sum(not_passed[k] for k in set(keys.split(",")))]
    if not over:
        return []
    return [
        f"{len(over)} test function(s) raised, called by pytest, more often than the results hold "
        "failed, errored or skipped cases of them: their reports were rewritten during the run"
    ]


def _marker_evidence(
    marker: re.Match[str], exit_code: int, junit_sha256: str | None, results_sha256: str = ""
) -> list[str]:
    """What the one marker line of the run says against the process and the files' hashes."""
    evidence = []
    if marker.group(2) != str(exit_code):
        evidence.append(f"pytest ended with exit status {marker.group(2)} but the process exited {exit_code}")
    if marker.group(3) != results_sha256:
        evidence.append("the results file was changed after the session ended")
    if marker.group(4) != (junit_sha256 or "-"):
        evidence.append("the JUnit report was changed after the session ended")
    return evidence


# What the guard plugin writes, field by field (`_TEXTS`: str -> str maps; `_LISTS`: lists of str). The
# file lies in the sandbox, where code under test can rewrite it after the session: the marker's hash
# reports that, but its contents are read first and must never raise in the reader (a raise was an
# unscored episode: the fifth red team's `report-not-an-object` and `report-bad-types`).
_TEXTS = ("statuses", "messages", "collection_errors", "collection_skips")
_LISTS = ("plugin_files", "forged", "deselected")


def malformed(data: object) -> str | None:
    """Why a parsed results file is not one the guard plugin wrote (None: its shape is right)."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    for key in _TEXTS:
        value = data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            return f"{key} is not a map of strings"
    for key in _LISTS:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"{key} is not a list of strings"
    counts = data.get("pytest_counts", {})
    if not isinstance(counts, dict) or not all(type(v) is int for v in counts.values()):
        return "pytest_counts is not a map of integers"
    for key in ("unpassed_calls", "repeated_ids"):
        calls = data.get(key, {})
        if not isinstance(calls, dict) or not all(type(v) is int and v >= 0 for v in calls.values()):
            return f"{key} is not a map of counts"
    for key in ("pytest_tests", "exitstatus"):
        if type(data.get(key, 0)) is not int:
            return f"{key} is not an integer"
    if not isinstance(data.get("nonce", ""), str):
        return "nonce is not a string"
    return None


_WORDS = ("empty", "nested", "default", "twice", "none", "order", "large", "unicode", "kwargs", "single",
          "repeat", "mixed", "reverse", "copy", "negative", "zero", "strings", "keys", "lazy", "types")  # fmt: skip


_DEFINED = re.compile(r"^[ \t]*(?:async[ \t]+)?(?:def|class)[ \t]+(\w+)", re.M)


def _names(existing: str, prefix: str, count: int) -> list[str]:
    """Names that read like the module's own tests: one of its test names plus a common suffix."""
    # A pattern, not `ast`: CPython 3.11's ast module is not safe to use from several threads at once
    # (graders run in threads), and a name read wrongly only makes a canary's name less plausible.
    taken = set(_DEFINED.findall(existing))
    bases = sorted(n for n in taken if n.startswith(prefix)) or [f"{prefix}_{secrets.choice(_WORDS)}"]
    out: list[str] = []
    while len(out) < count:
        name = f"{secrets.choice(bases)}_{secrets.choice(_WORDS)}"
        if name not in taken and name not in out:
            out.append(name)
    return out


def checks_module_text(path: str, source: str, tests: Iterable[str]) -> bool:
    """Whether a graded test judges the text of test module `path` rather than running its code: the
    item of a plugin that checks the file itself (pytest-ruff's `path::ruff` and `path::ruff::format`,
    pytest-mypy's `path::mypy`, flake8, pylint, black, isort: a name the module defines no function,
    class or import of; a dotted name is a doctest of the module). Canaries appended to such a module
    fail those items on an honest patch (jaraco.functools 4.6.0, whose tox run enables pytest-ruff
    and pytest-mypy: `test_functools.py::ruff` and `::mypy` failed under the grader and no gold patch
    resolved), so a grade plants them in a module without one."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return False  # pytest cannot collect it either: no item of it runs
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".", 1)[0])
    for test in tests:
        rel, sep, rest = test.partition("::")
        first = rest.split("::", 1)[0].split("[", 1)[0]
        if rel == path and sep and "." not in first and first not in names:
            return True
    return False


def canary_tests(path: str, existing: str, prefix: str = "test") -> tuple[dict[str, str], str]:
    """Canary tests appended to the test module at `path` (repo-relative; `existing` its source), under
    names chosen fresh per call that read like the module's own: node id -> the status each must end
    with (failed, error), and the module's new source.

    One fails in its call and one errors in its setup (a fixture that raises): a report rewritten to
    pass, in either phase, by code that cannot tell them from the project's tests shows as a canary
    reported passed (`canary_evidence`). There is no passing canary: nothing a run can do to one is
    evidence (a pass reported as a failure only costs the patch), so it caught nothing and cost a test
    run, twice or more where a project's fixtures parametrize every test."""
    names = _names(existing, prefix, 3)
    a, b = secrets.randbelow(10**6), 10**6 + secrets.randbelow(10**6)
    fixture, tag = f"_{names[2]}", secrets.token_hex(5)
    # Each failing statement is followed at once by another: pytest then reads the statement's extent
    # off the module's AST alone, without compiling `tokenize`'s patterns for a block scan (a cost of
    # the run's first multi-line failure that a passing run would never pay).
    source = (
        existing.rstrip("\n") + "\n\n\nimport pytest as _pytest_canary\n\n\n"
        f"@_pytest_canary.fixture\ndef {fixture}():\n    raise RuntimeError({tag!r})\n    yield\n\n\n"
        f"def {names[0]}():\n    assert {a} == {b}\n    assert {b} == {b}\n\n\n"
        f"def {names[1]}({fixture}):\n    assert {b} == {b}\n"
    )
    expected = {f"{path}::{names[0]}": "failed", f"{path}::{names[1]}": "error"}
    return expected, source


def canary_of(test_id: str, expected: dict[str, str]) -> str | None:
    """The canary a reported id belongs to (a project's hooks may parametrize it: `id[param]`)."""
    base = test_id.split("[", 1)[0]
    return base if base in expected else None


def canary_evidence(expected: dict[str, str], statuses: dict[str, str]) -> list[str]:
    """What a run's statuses say against the canaries' design (empty: nothing forged). A canary built
    to fail or error that is reported passed cannot happen unless reports were rewritten; one that
    went missing or errored is a broken run, not a forgery."""
    out = []
    for test_id, got in statuses.items():
        canary = canary_of(test_id, expected)
        want = expected.get(canary or "")
        if canary and want != "passed" and got == "passed":
            verb = "fail" if want == "failed" else "error"
            out.append(f"canary {test_id.rsplit('::', 1)[-1]} is built to {verb} but was reported passed")
    return out


@dataclass(frozen=True)
class Canaries:
    """Tests the grader plants in a run: each must end as designed, whatever the patch does."""

    path: str
    source: str
    expected: dict[str, str]
    """node id -> the status it must have: passed, failed or error."""
    kept: tuple[int, int] | None = None
    """The module's own source at the start of `source`: its bytes there, and the newlines cut off its
    end (the guard plugin reuses the module's rewritten code: `guard_plugin_speedups.appended_code`)."""

    @property
    def ids(self) -> list[str]:
        return list(self.expected)

    def evidence(self, statuses: dict[str, str]) -> list[str]:
        """What the run's statuses say against the canaries' design (see `guard_check`)."""
        return canary_evidence(self.expected, statuses)


def make_canaries(path: str, existing: str, prefix: str = "test") -> Canaries:
    """Canary tests appended to the test module `path` (repo-relative, `existing` its source), under
    names chosen fresh per run that read like the module's own tests."""
    expected, source = canary_tests(path, existing, prefix)
    head = existing.rstrip("\n")
    # `existing` holds the file's bytes (surrogateescape for those of another encoding: latin-1)
    kept = (len(head.encode("utf-8", "surrogateescape")), len(existing) - len(head)) if head else None
    return Canaries(path=path, source=source, expected=expected, kept=kept)


def broken_run(data: dict[str, Any] | None, exit_code: int, recorded: int) -> str:
    """Why a checked run of an exported task's verifier gives no verdict on the tests ("" if it does):
    no report, counts that disagree with pytest's, nothing collected, an internal or usage error."""
    if data is None:
        return f"no test report: the test process ended before its session did (exit code {exit_code})"
    errors = data.get("collection_errors") or {}
    if int(data.get("pytest_tests") or 0) != recorded:
        return f"the guard recorded {recorded} tests but pytest counted {data.get('pytest_tests')}"
    if exit_code == 5 or (not data.get("statuses") and not errors):
        return "no tests collected"
    if exit_code == 3 or (exit_code == 4 and not errors):
        return f"pytest internal or usage error (exit code {exit_code})"
    return ""
