"""The decision rules of bench/envbuild.py, as pure functions: read pytest's summary, compare, tabulate.

The exact reproduction rule is stated in envbuild.py's docstring; `compare` is that rule.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from envtests import Side, compare_tests

STEP_LIMITS = {"plain_install": 300, "plain_test": 300, "build": 600, "synth": 240}
"""Seconds each step may run (the defaults; `--step-limit STEP=SECONDS` raises one for a run)."""
SYNTH_SUITE_FACTOR = 3
"""The short synthesis may run this many times the row's own plain suite when that is longer than
STEP_LIMITS["synth"] (`synth_limit`): it runs the suite at least twice before its first task (the
coverage map, then the first batch's runs and the grader's), so a fixed limit shorter than that
measured the suite's length, not synthesis."""
_SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|xfailed|xpassed|errors?|deselected)\b")
_TIME = re.compile(r"\bin [\d.]+s\b")
_RESULTS = re.compile(r"^Results \([\d.]+s\):\s*$")
_COLLECT = re.compile(r"^ERROR (\S+)(?: - (.*))?$")
_OUTCOME = re.compile(r"^(PASSED|XPASS|XFAIL|FAILED|ERROR) (\S+::.*)$")
_BUCKET = {"PASSED": "passed", "XPASS": "xpassed", "XFAIL": "xfailed", "FAILED": "failed", "ERROR": "errors"}
_WORST = {"XFAIL": 0, "PASSED": 1, "XPASS": 1, "FAILED": 2, "ERROR": 3}
PLAIN_REPORT = "-rpfExX"
"""Added to the plain `python -m pytest`: one short-summary line per test outcome (skips stay grouped),
so a test that pytest's summary counts twice (a pass or failure, then an error at teardown) is seen."""


def synth_limit(
    plain: Mapping[str, object] | None, codekiln: Mapping[str, object] | None = None
) -> tuple[float, str]:
    """The short synthesis's time limit for a row, the same rule for every row: max(STEP_LIMITS["synth"],
    SYNTH_SUITE_FACTOR x the suite's time), and the rule as the row states it. The suite's time is the
    plain run's (`test_s`), or codekiln's baseline run's (`baseline_s` of its build) when that is longer
    and the plain side ran fewer tests than codekiln's baseline: synthesis runs codekiln's suite, and a
    plain run whose modules failed to import (s3fs 2026.9.0: 11 tests plainly, 382 in codekiln) says
    nothing about how long that takes."""
    base = float(STEP_LIMITS["synth"])
    plain, codekiln = plain or {}, codekiln or {}
    test_s = float(plain.get("test_s") or 0.0)  # type: ignore[arg-type]
    ck_s = float(codekiln.get("baseline_s") or 0.0)  # type: ignore[arg-type]
    ran, ck_ran = sum(triple_plain(plain)), sum(triple_codekiln(codekiln))
    if ran < ck_ran and ck_s > test_s:
        what = f"codekiln suite {ck_s:g} s (plain ran {ran} of its {ck_ran} tests)"
        suite_s = ck_s
    else:
        what, suite_s = f"plain suite {test_s:g} s", test_s
    rule = f"max({base:g} s, {SYNTH_SUITE_FACTOR} x {what})"
    return round(max(base, SYNTH_SUITE_FACTOR * suite_s), 1), rule


def step_limits(overrides: list[str]) -> dict[str, int]:
    """STEP_LIMITS with `STEP=SECONDS` overrides applied. A limit that a loaded machine crosses is the
    bench's problem, not a verdict: a run on a busy machine raises it and says so."""
    limits = dict(STEP_LIMITS)
    for item in overrides:
        step, sep, value = item.partition("=")
        if step not in limits or not sep:
            known = ", ".join(limits)
            raise ValueError(f"--step-limit {item!r}: give STEP=SECONDS, STEP one of {known}")
        if not value.isdigit() or int(value) <= 0:
            raise ValueError(f"--step-limit {item!r}: SECONDS must be a positive whole number")
        limits[step] = int(value)
    return limits


def plain_counts(output: str) -> tuple[dict[str, int], list[str]]:
    """Counts from pytest's own summary line (the last line that has `in N.NNs`) and the collection
    errors named in its short summary ('ERROR path - reason' lines for 'ERROR collecting' sections)."""
    counts = {"passed": 0, "failed": 0, "skipped": 0, "xfailed": 0, "xpassed": 0, "errors": 0}
    lines = output.splitlines()
    summary = next(
        (ln for ln in reversed(lines) if _TIME.search(ln) and ("=" in ln or _SUMMARY.search(ln))), ""
    )
    if not summary:
        summary = results_block(lines)
    for num, kind in _SUMMARY.findall(summary):
        key = "errors" if kind.startswith("error") else kind
        counts[key] = counts.get(key, 0) + int(num)
    collected = collection_errors(lines)
    reasons = []
    for ln in lines:
        m = _COLLECT.match(ln)
        if m and m.group(1) in collected:
            why = (m.group(2) or "").strip() or collected[m.group(1)]
            reasons.append(f"{m.group(1)}: {why}"[:200])
    if collected and not reasons:
        reasons = sorted(collected)
    counts["summary_found"] = int(bool(summary))
    for bucket, extra in twice_counted(lines).items():
        counts[bucket] -= extra
        counts["counted_twice"] = counts.get("counted_twice", 0) + extra
    counts["shared_ids"] = shared = items_sharing_ids(lines)
    if shared:
        counts["counted_twice"] -= shared
    return counts, reasons


def results_block(lines: list[str]) -> str:
    """The counts of a `Results (1.23s):` block, on one line: the summary that pytest-sugar and
    pytest-pretty print instead of pytest's own (`  62 passed` / `  1 failed` below it), "" if none."""
    start = next((i for i in range(len(lines) - 1, -1, -1) if _RESULTS.match(lines[i])), None)
    if start is None:
        return ""
    block = []
    for ln in lines[start + 1 :]:
        if not _SUMMARY.fullmatch(ln.strip()):
            break
        block.append(ln.strip())
    return ", ".join(block)


def collection_errors(lines: list[str]) -> dict[str, str]:
    """Module -> the last `E   ` line of its 'ERROR collecting' section: the reason where the short
    summary line has none (pytest prints `ERROR tests/t.py` alone for an ImportError at collection)."""
    out: dict[str, str] = {}
    current = ""
    for ln in lines:
        if ln.startswith(("_", "=")):
            m = re.search(r"ERROR collecting (\S+)", ln)
            current = m.group(1) if m else ""
            if current:
                out[current] = ""
        elif current and ln.startswith("E   "):
            out[current] = ln[1:].strip()
    return out


def twice_counted(lines: list[str]) -> Counter[str]:
    """The reports pytest's summary counts beyond one per test, by summary bucket: pytest counts every
    report, so a test that passed (or failed) and then broke at teardown is `1 passed, 1 error` there,
    while codekiln records one status per test id, the worst (error). Read from the short summary's
    per-test lines (`PLAIN_REPORT`); every outcome of an id but its worst is an extra report."""
    seen: dict[str, list[str]] = {}
    for ln in lines:
        m = _OUTCOME.match(ln)
        if m:
            seen.setdefault(_node_id(m.group(2)), []).append(m.group(1))
    extra: Counter[str] = Counter()
    for kinds in seen.values():
        for kind in sorted(kinds, key=_WORST.__getitem__)[:-1]:
            extra[_BUCKET[kind]] += 1
    return extra


def items_sharing_ids(lines: list[str]) -> int:
    """Of `twice_counted`'s extras, those that repeat an id's call outcome (`PASSED id` five times): items
    that share their id, not one test's two reports (a pass, then an error at teardown). A conftest
    collecting text cases can name cases alike (docopt-ng 0.9.0: 614 items under 520 ids); pytest
    asked for such an id runs all its items, and codekiln records the id once, its items' worst
    status (`grading.runner.TestRun.repeated_ids`), so the counts agree once these are taken off, and
    the row says that they were (`compare`)."""
    seen: Counter[tuple[str, str]] = Counter()
    for ln in lines:
        m = _OUTCOME.match(ln)
        if m and m.group(1) != "ERROR":  # one test errs at setup and at teardown: two ERROR lines
            seen[(_node_id(m.group(2)), m.group(1))] += 1
    return sum(n - 1 for n in seen.values())


def triple_plain(plain: Mapping[str, object]) -> tuple[int, int, int]:
    g = lambda k: int(plain.get(k, 0) or 0)  # noqa: E731
    return g("passed") + g("xpassed"), g("failed") + g("errors"), g("skipped") + g("xfailed")


def triple_codekiln(ck: Mapping[str, object]) -> tuple[int, int, int]:
    g = lambda k: int(ck.get(k, 0) or 0)  # noqa: E731
    return (
        g("passed"),
        g("failed") + g("error") + g("collection_errors"),
        g("skipped") + g("collection_skips"),
    )


def compare(
    plain: Mapping[str, object], ck: Mapping[str, object], sides: tuple[Side, Side] | None = None
) -> tuple[str, str]:
    """(verdict, reason): reproduced | better | tests differ (by `envtests.compare_tests`, where both
    sides' per-test outcomes are given) | plain failed | build failed | timeout | count mismatch (where
    they are not) | no tests | no reference (the plain run ran no test, codekiln did: nothing to judge
    codekiln's result by, and not counted as reproduced). See envbuild.py's docstring for the rule."""
    if plain.get("status") != "ran":
        status = str(plain.get("status"))
        return ("timeout" if status.startswith("timeout") else "plain failed"), status + _first(plain)
    if not plain.get("summary_found"):  # stopped at its configuration or conftest: no test outcome
        why = f"pytest exited {plain.get('exit_code')} with no summary line" + _first(plain)
        if ck.get("ok"):
            return (
                "no reference",
                f"{why}; codekiln {fmt(triple_codekiln(ck))} has nothing to be compared with",
            )
        return "plain failed", why
    stopped = _collection_stopped(plain)
    if stopped and not ck.get("ok"):
        return "plain failed", stopped
    if not ck.get("ok"):
        status = str(ck.get("status"))
        verdict = "timeout" if status.startswith("timeout") else "build failed"
        step = f" at {ck['step']}" if ck.get("step") else ""
        return verdict, f"{status}{step}: {str(ck.get('error') or ck.get('log') or '')[:200]}"
    want, got = triple_plain(plain), triple_codekiln(ck)
    if stopped and _ran_a_test(ck):
        return "no reference", f"{stopped}; codekiln {fmt(got)} has nothing to be compared with"
    if sides is not None:
        verdict, reason = compare_tests(*sides)
        errors = list(plain.get("collect_errors") or [])  # type: ignore[call-overload]
        if errors and verdict != "reproduced":
            reason += f"; the plain run had {len(errors)} collection error(s): {errors[0]}"
        return verdict, reason
    shown = f"plain {fmt(want)} vs codekiln {fmt(got)}"
    shared = int(plain.get("shared_ids", 0) or 0)  # type: ignore[call-overload]
    if want == got and not stopped and shared:  # reproduced, and why pytest's own summary said more
        return "reproduced", f"pytest counted {shared} more item(s) under ids several items share"
    if want == got and not stopped:  # equal counts of a run stopped at collection reproduce no suite
        return ("reproduced", "") if sum(want) else ("no tests", "neither run collected a test")
    errors = list(plain.get("collect_errors") or [])  # type: ignore[call-overload]
    if errors and not ck.get("collection_errors") and got[0] >= want[0] and got[1] <= want[1]:
        return "better", f"{shown}; plain collection failed: {errors[0]}"
    if stopped:
        return "plain failed", f"{stopped}; codekiln {fmt(got)}"
    return "count mismatch", shown


def _node_id(rest: str) -> str:
    """The node id at the start of a short-summary line's rest (`id` or `id - message`): a parameter id
    may hold spaces, brackets and ' - ', so it ends where its first bracket closes."""
    start = rest.find("[")
    if start < 0 or " " in rest[:start]:
        return rest.split(" ", 1)[0]
    depth = 0
    for i, ch in enumerate(rest[start:], start):
        depth += {"[": 1, "]": -1}.get(ch, 0)
        if depth == 0:
            return rest[: i + 1]
    return rest


def _collection_stopped(plain: Mapping[str, object]) -> str:
    """Why the plain run ran no test at all (pytest stops before the first test when a module fails to
    collect), or "" when tests ran: there is then no suite result to reproduce, only its failure."""
    errors = list(plain.get("collect_errors") or [])  # type: ignore[call-overload]
    ran = sum(int(plain.get(k, 0) or 0) for k in ("passed", "failed", "xfailed", "xpassed"))  # type: ignore[call-overload]
    if not errors or ran or not plain.get("summary_found"):
        return ""
    return f"no test ran in the plain run: {len(errors)} module(s) failed to collect ({errors[0]})"


def _ran_a_test(ck: Mapping[str, object]) -> bool:
    return any(int(ck.get(k, 0) or 0) for k in ("passed", "failed", "error", "skipped"))  # type: ignore[call-overload]


def _first(row: Mapping[str, object]) -> str:
    """The log line that says what went wrong: the last one naming an error, else the last one."""
    log = str(row.get("log") or "").strip().splitlines()
    named = [ln for ln in log if re.search(r"[Ee]rror\b|error:", ln)]
    return f": {(named or log)[-1].strip()[:200]}" if log else ""


def fmt(t: tuple[int, int, int]) -> str:
    return f"{t[0]}/{t[1]}/{t[2]}"


def synth_cell(synth: Mapping[str, object]) -> str:
    """The tasks cell: the count, the status when not "done", the limit when `synth_limit` raised it, and
    for a run without a task why (the
    run's own reason, else its rejections per reason: `rejected` as `envrun.synth_outcome` counts them)."""
    cell = str(synth.get("tasks", "-"))
    if synth.get("synth_status", "done") != "done":
        cell += f" ({synth['synth_status']})"
    limit = float(synth.get("limit_s") or STEP_LIMITS["synth"])  # type: ignore[arg-type]
    if limit > STEP_LIMITS["synth"]:  # raised by `synth_limit`'s rule for a long suite
        cell += f" in {limit:g} s ({synth.get('limit_rule', 'limit')})"
    rejected = synth.get("rejected") or {}
    why = str(synth.get("why") or "") or (
        "rejected: " + ", ".join(f"{k} {v}" for k, v in rejected.items())  # type: ignore[union-attr]
        if rejected and not synth.get("tasks")
        else ""
    )
    return cell + (f"; {why[:160]}".replace("|", "\\|") if why else "")


def table(rows: list[Mapping[str, object]], sample: int) -> str:
    """A markdown table of the rows, with the share that reproduce and the reasons for the rest."""
    out = [
        "| library | version | plain p/f/s | codekiln p/f/s | verdict | tasks | reason |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        plain, ck = r.get("plain") or {}, r.get("codekiln") or {}
        p = fmt(triple_plain(plain)) if plain.get("summary_found") else "-"  # type: ignore[union-attr]
        c = fmt(triple_codekiln(ck)) if ck.get("ok") else "-"  # type: ignore[union-attr]
        tasks = synth_cell(r.get("synth") or {})  # type: ignore[arg-type]
        reason = str(r.get("reason") or "").replace("|", "\\|").replace("\n", " ")[:240]
        out.append(f"| {r['library']} | {r['version']} | {p} | {c} | {r['verdict']} | {tasks} | {reason} |")
    verdicts = Counter(str(r["verdict"]) for r in rows)
    ok = verdicts["reproduced"] + verdicts["better"]
    built = [r for r in rows if (r.get("codekiln") or {}).get("ok")]  # type: ignore[union-attr]
    with_tasks = sum(1 for r in built if int((r.get("synth") or {}).get("tasks", 0)) > 0)  # type: ignore[union-attr]
    out.append("")
    out.append(
        f"{len(rows)} of {sample} libraries run; reproduced {ok}/{len(rows)}"
        + (f" ({ok / len(rows):.0%})" if rows else "")
        + f" ({verdicts['better']} of them better: codekiln passes more, and fails nothing the plain run passes); "
        + ", ".join(f"{k} {v}" for k, v in verdicts.most_common() if k not in ("reproduced", "better"))
        + f"; built {len(built)}, tasks from a short synthesis on {with_tasks}/{len(built)}"
    )
    return "\n".join(out)
