"""Per-test comparison of bench/envbuild.py: the plain run's outcome of every test id against codekiln's
recorded baseline, as pure functions, and where each library's per-test data is kept.

    plain = plain_side(json.loads(Path("reports.json").read_text()))   # from envreport's file
    verdict, reason = compare_tests(plain, codekiln)                    # Side, Side -> (verdict, reason)

Both sides are reduced to one status per id, codekiln's rule (`grading.guard_plugin`): a call that
passed (an unexpected pass too) is `passed`, a skip or an expected failure `skipped`, a failed call
`failed`, a setup or teardown that broke `error`, the worst of a test's reports winning. A module that
failed to collect is one id (its path) with status `error`, a module skipped at collection one with
`skipped`: pytest's summary counts both, and codekiln records both (`collection_errors`, which holds the
modules its build left out, and `collection_skips`).

A test in a module that failed to collect has no report of its own in that run, but it did not pass
there: pytest counted its module as an error, and the test's code never ran. So where one side has a
test id that the other lacks, and the other side failed to collect the module it lives in (or a
package or conftest.py above it), the test counts as `error` on the side that failed to collect it
(`inherited`): a test that codekiln collects and fails, where the plain run failed to collect its
module, failed on both sides and is no "fail only in codekiln".

A plain run with no test outcome at all (every module failed to collect, or pytest stopped at its
configuration or conftest before collecting) is no reference: there is nothing of the library's own
result that codekiln's could reproduce or fall short of, and calling codekiln "better" there would be a
verdict that no build could fail. `compare_tests` says `no reference` for it, which is not counted as
reproduced (envcompare does the same for the runs that left no per-test data).

Ids are made comparable before they are compared: an address in a parameter id (`<object at 0x7f..>`)
differs from run to run and is blanked on both sides, and where the two runs chose different rootdirs
(pytest picks it from the arguments when no config file names one) the prefix that the other side's ids
carry is added to the shorter side.
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}
FAILING = ("failed", "error")
SHOWN = 4
"""Test ids named in a reason, per group (the per-test file has them all)."""
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,}")
CAUSES = (
    ("name resolution", re.compile(r"name resolution|Name or service not known|nodename nor servname|"
                                   r"getaddrinfo failed|NameResolutionError|Failed to resolve|gaierror", re.I)),
    ("connection refused", re.compile(r"Connection refused|ConnectionRefusedError|ECONNREFUSED|Errno 111\b")),
    ("network unreachable", re.compile(r"Network is unreachable|ENETUNREACH|Errno 101\b|No route to host")),
    ("module missing", re.compile(r"No module named '([\w.]+)'")),
    ("timeout", re.compile(r"\btimed? ?out\b|TimeoutError|Timeout\b", re.I)),
)  # fmt: skip
"""What a failure's message says went wrong, where it says it in words a class can be named by."""


@dataclass
class Side:
    """One run reduced per test id: status, and the failure message where there was one; `reruns`: the
    statuses each differing test had when it was rerun on this side (`envflaky`)."""

    statuses: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    reruns: dict[str, list[str]] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"statuses": self.statuses, "messages": self.messages, "reruns": self.reruns}

    @classmethod
    def from_json(cls, data: dict[str, dict[str, str]]) -> Side:
        reruns = {k: list(v) for k, v in dict(data.get("reruns") or {}).items()}
        return cls(dict(data.get("statuses") or {}), dict(data.get("messages") or {}), reruns)

    def seen(self, test_id: str) -> set[str]:
        """Every status `test_id` had on this side: in the suite's run and in its reruns."""
        return {self.statuses[test_id], *self.reruns.get(test_id, ())} if test_id in self.statuses else set()


def _put(side: Side, test_id: str, status: str, message: str) -> None:
    old = side.statuses.get(test_id)
    if old is None or RANK[status] > RANK[old]:
        side.statuses[test_id] = status
        if message:
            side.messages[test_id] = message


def plain_side(data: dict[str, object]) -> Side:
    """The plain run's reports (`envreport`'s file) reduced as codekiln's guard reduces them."""
    side = Side()
    for nodeid, when, outcome, _xfail, message in data.get("reports") or []:  # type: ignore[attr-defined]
        if when == "call":
            status = {"passed": "passed", "skipped": "skipped"}.get(outcome, "failed")
        elif outcome == "failed":
            status, message = "error", f"failed on {when}: {message}"
        elif outcome == "skipped" and when == "setup":
            status = "skipped"
        else:
            continue
        _put(side, nodeid, status, message if status in FAILING else "")
    for module, why in dict(data.get("collection_errors") or {}).items():  # type: ignore[call-overload]
        _put(side, module, "error", why)
    for module in dict(data.get("collection_skips") or {}):  # type: ignore[call-overload]
        _put(side, module, "skipped", "")
    return side


def codekiln_side(
    baseline: dict[str, str],
    collection_errors: dict[str, str],
    collection_skips: dict[str, str],
    messages: dict[str, str],
) -> Side:
    """codekiln's recorded baseline (`EnvRecord`), its collection errors (left-out modules included) and
    skips as ids; `messages`: what a rerun of its failing tests said (the record keeps no messages)."""
    side = Side()
    for test_id, status in baseline.items():
        _put(side, test_id, status, messages.get(test_id, "") if status in FAILING else "")
    for module, why in collection_errors.items():
        _put(side, module, "error", why)
    for module in collection_skips:
        _put(side, module, "skipped", "")
    return side


def normalized(side: Side, prefix: str = "") -> Side:
    """The side with addresses blanked in its ids and `prefix` put before each id."""
    out = Side()
    for test_id, status in side.statuses.items():
        _put(out, comparable(test_id, prefix), status, side.messages.get(test_id, ""))
    for test_id, seen in side.reruns.items():
        out.reruns.setdefault(comparable(test_id, prefix), []).extend(seen)
    return out


def comparable(test_id: str, prefix: str = "") -> str:
    """`test_id` as it is compared: its addresses blanked, `prefix` before it."""
    return prefix + _ADDRESS.sub("0x?", test_id)


def rootdir_prefix(ids: set[str], other: set[str]) -> str:
    """The directory that every id of `other` has before an id of `ids` (`tests/` where one run's
    rootdir was tests/ and the other's the project), or "" where the ids already meet or none fits."""
    if not ids or not other or ids & other:
        return ""
    files = {i.split("::", 1)[0] for i in ids}
    for full in sorted(other):
        path = full.split("::", 1)[0]
        for short in files:
            if path.endswith("/" + short):
                prefix = path[: -len(short)]
                if sum(1 for i in ids if prefix + i in other) * 2 >= len(ids):
                    return prefix
        break  # the first id of the other side decides; a second guess would only fit by chance
    return ""


def aligned(plain: Side, ck: Side) -> tuple[Side, Side]:
    plain_prefix, ck_prefix = prefixes(plain, ck)
    return normalized(plain, plain_prefix), normalized(ck, ck_prefix)


def prefixes(plain: Side, ck: Side) -> tuple[str, str]:
    """What `aligned` puts before each id of the plain side and of codekiln's (one of them is "")."""
    p = {comparable(i) for i in plain.statuses}
    c = {comparable(i) for i in ck.statuses}
    if prefix := rootdir_prefix(c, p):
        return "", prefix
    return rootdir_prefix(p, c), ""


def _collection_errors(side: Side) -> list[str]:
    """The ids on `side` that are collection errors (paths with no `::`)."""
    return [i for i, status in side.statuses.items() if status == "error" and "::" not in i]


def covering_error(side: Side, test_id: str, errors: list[str] | None = None) -> str:
    """The collection error on `side` that `test_id` lies under: its module, a directory above it, or the
    package (`__init__.py`) or conftest.py of a directory above it; "" where there is none."""
    path = test_id.split("::", 1)[0]
    for error in _collection_errors(side) if errors is None else errors:
        if error == test_id:
            continue
        base = error.rsplit("/", 1)[0] + "/" if error.endswith(("/conftest.py", "/__init__.py")) else ""
        if error == path or path.startswith(error.rstrip("/") + "/") or (base and path.startswith(base)):
            return error
    return ""


def inherited(side: Side, other: Side) -> Side:
    """`side` with an `error` status for each test id that only `other` has and that lies under a
    collection error of `side` (the run errored on it: pytest counted its module as an error). The added
    ids carry no message; `_why` names the module that failed to collect."""
    errors = _collection_errors(side)
    if not errors:
        return side
    out = Side(dict(side.statuses), dict(side.messages), side.reruns)
    for test_id in other.statuses:
        if test_id not in out.statuses and covering_error(side, test_id, errors):
            out.statuses[test_id] = "error"
    return out


def ran_a_test(side: Side) -> bool:
    """Whether any test id has an outcome on `side` (a collection error or skip is a path, not a test)."""
    return any("::" in i for i in side.statuses)


def cause(message: str) -> str:
    """The class of a failure's message (`CAUSES`), else its first line, short."""
    for name, pattern in CAUSES:
        m = pattern.search(message or "")
        if m:
            return f"{name}: {m[1]}" if m.groups() else name
    first = (message or "").strip().splitlines()
    return first[0][:80] if first else "no message"


def compare_tests(plain: Side, ck: Side) -> tuple[str, str]:
    """(verdict, reason) from the ids: `reproduced` where every id has the same status on both sides;
    `better` where every test that passes plainly passes in codekiln, none fails in codekiln that did not
    fail plainly (a test under a module the plain run failed to collect failed plainly: `inherited`) and
    codekiln passes more (the reason names them and why they did not pass plainly); `no reference` where
    the plain run ran no test and codekiln did; else `tests differ`, the reason naming the differing ids
    by kind with their causes."""
    plain, ck = aligned(plain, ck)
    if not ran_a_test(plain) and ran_a_test(ck):
        return "no reference", _no_reference(plain, ck)
    plain, ck = inherited(plain, ck), inherited(ck, plain)
    ids = set(plain.statuses) | set(ck.statuses)
    differ = sorted(i for i in ids if plain.statuses.get(i) != ck.statuses.get(i))
    differ = [i for i in differ if not run_on_neither(i, plain, ck)]
    flaky = [i for i in differ if flaky_on_a_side(i, plain, ck)]
    if flaky:
        differ = [i for i in differ if i not in set(flaky)]
        note = f"{len(flaky)} flaky (not differences): " + _flaky(flaky, plain, ck)
        verdict, reason = _judged(differ, ids, plain, ck)
        return verdict, f"{reason}; {note}" if reason else note
    return _judged(differ, ids, plain, ck)


def run_on_neither(test_id: str, plain: Side, ck: Side) -> bool:
    """A module skipped at collection on one side that the other side has no id of, nor of any test in
    it (not collected, or every test of it deselected): no test of it ran on either side, the same
    outcome (multidict's hypothesis modules: skipped plainly, where hypothesis is not installed, and
    deselected by the project's `-m "not hypothesis"` in codekiln, which installs it)."""
    if "::" in test_id:
        return False
    for side, other in ((plain, ck), (ck, plain)):
        if side.statuses.get(test_id) == "skipped" and test_id not in other.statuses:
            return not any(i.startswith(test_id + "::") for i in other.statuses)
    return False


def flaky_on_a_side(test_id: str, plain: Side, ck: Side) -> bool:
    """The bench's rule for a test whose outcome is not deterministic (envflaky's docstring): a test id
    on both sides that had two different statuses on one of them, over its run in the suite and its
    reruns there."""
    return len(plain.seen(test_id)) > 1 or len(ck.seen(test_id)) > 1


def _flaky(ids: list[str], plain: Side, ck: Side) -> str:
    def seen(side: Side, i: str) -> str:
        return "/".join(sorted(side.seen(i)))

    return ", ".join(f"{i} [plain {seen(plain, i)}; codekiln {seen(ck, i)}]" for i in ids[:SHOWN]) + (
        f" and {len(ids) - SHOWN} more" if len(ids) > SHOWN else ""
    )


def _judged(differ: list[str], ids: set[str], plain: Side, ck: Side) -> tuple[str, str]:
    if not differ:
        return ("reproduced", "") if ids else ("no tests", "neither run collected a test")
    p, c = plain.statuses, ck.statuses
    lost = [i for i in differ if p.get(i) == "passed"]  # pass plainly, not in codekiln
    new_fail = [i for i in differ if c.get(i) in FAILING and p.get(i) not in FAILING]
    gained = [i for i in differ if c.get(i) == "passed"]
    rest = [i for i in differ if i not in set(new_fail) | set(lost) | set(gained)]
    if not lost and not new_fail and gained:
        reason = f"codekiln passes {len(gained)} more: " + _group(gained, plain, "plain")
        # tests failing on both sides in different ways are named, never hidden (the modules the plain
        # run failed to collect are named with the tests gained in them)
        if tests := [i for i in rest if "::" in i]:
            reason += f"; {len(tests)} other: " + _group(tests, plain, "plain", (ck, "in codekiln"))
        return "better", reason
    parts = []
    if new_fail:
        parts.append(
            f"{len(new_fail)} fail only in codekiln: " + _group(new_fail, ck, "codekiln", (plain, "plainly"))
        )
    lost_other = [i for i in lost if i not in new_fail]
    if lost_other:
        parts.append(f"{len(lost_other)} pass only plainly: " + _group(lost_other, ck, "codekiln"))
    if gained:
        parts.append(f"{len(gained)} pass only in codekiln: " + _group(gained, plain, "plain"))
    if rest:
        parts.append(f"{len(rest)} other: " + _group(rest, plain, "plain", (ck, "in codekiln")))
    return "tests differ", "; ".join(parts)


def _why(i: str, side: Side) -> str:
    """Why test `i` has its status on `side`: the cause its message gives, its module's collection
    error where it has no status of its own, else the status."""
    status = side.statuses.get(i, "absent")
    if i in side.messages:
        return cause(side.messages[i])
    if status in ("absent", "error") and (module := covering_error(side, i)):
        return f"{module} failed to collect: {cause(side.messages.get(module, ''))}"
    return status


def _no_reference(plain: Side, ck: Side) -> str:
    errors = _collection_errors(plain)
    shown = f" ({errors[0]}: {cause(plain.messages.get(errors[0], ''))})" if errors else ""
    got = counts(ck)
    return (
        f"the plain run ran no test: {len(errors)} module(s) failed to collect{shown}; codekiln "
        f"{got['passed']}/{got['failed'] + got['error']}/{got['skipped']} has nothing to be compared with"
    )


def _group(ids: list[str], side: Side, name: str, other: tuple[Side, str] | None = None) -> str:
    """`ids` by why they have their status on `side` (most common first), a few ids each; with `other`
    (a side and its label), what that run did with them too."""
    by: dict[str, list[str]] = {}
    for i in ids:
        why = _why(i, side)
        if other is not None:
            why = f"{why}; {other[1]} {_why(i, other[0])}"
        by.setdefault(why, []).append(i)
    out = []
    for why, group in sorted(by.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(group[:SHOWN]) + (f" and {len(group) - SHOWN} more" if len(group) > SHOWN else "")
        out.append(f"[{name}: {why}] {shown}")
    return " ".join(out)


def differences(plain: Side, ck: Side) -> dict[str, list[str]]:
    """Every differing id as `plain status -> codekiln status` (absent where a side has no such id)."""
    plain, ck = aligned(plain, ck)
    plain, ck = inherited(plain, ck), inherited(ck, plain)
    out: dict[str, list[str]] = {}
    for i in sorted(set(plain.statuses) | set(ck.statuses)):
        a, b = plain.statuses.get(i, "absent"), ck.statuses.get(i, "absent")
        if a != b:
            out.setdefault(f"{a} -> {b}", []).append(i)
    return out


def counts(side: Side) -> Counter[str]:
    return Counter(side.statuses.values())


def save_sides(path: Path, plain: Side, ck: Side) -> None:
    """The per-test data of one library (gzip JSON, ids sorted so that reruns diff well)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"plain": _sorted(plain.to_json()), "codekiln": _sorted(ck.to_json())}
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        json.dump(data, fh, indent=0, sort_keys=True)
    tmp.replace(path)


def load_sides(path: Path) -> tuple[Side, Side] | None:
    if not path.is_file():
        return None
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        data = json.load(fh)
    return Side.from_json(data["plain"]), Side.from_json(data["codekiln"])


def _sorted(data: dict[str, object]) -> dict[str, object]:
    return {k: dict(sorted(v.items())) for k, v in data.items() if v or k != "reruns"}  # type: ignore[attr-defined]
