"""The bench's rule for tests whose outcome is not deterministic, and the reruns it rests on.

The rule (applied to every row, by `envtests.compare_tests`): every test id whose status differs between
the two sides, and that both sides ran, is rerun RERUNS times on BOTH sides, the differing ids of a
library together in one pytest run each time, away from the rest of the suite (plainly in the plain
venv and source tree, with the project's configuration; in codekiln through `run_tests` in a fresh
sandbox of the built environment, as a grader runs it). A test seen with two different statuses on one
side, over its run in the suite and its reruns there, is **flaky**: it is not a difference, and the row
names it with every status each side saw ("N flaky (not differences): ..."). A test that kept one status
on each side, and the two differ, stays a difference.

What this does and does not excuse: a load-timed test (zipp's `big_O` complexity tests, which skip or
pass with the machine's speed) or one that fails only in the suite's company (a GC-timed unraisable-
exception warning that lands on whichever test runs when the collector does; a test that passes alone)
counts as flaky, since its status is not a property of the environment. A test that fails in the suite
and passes alone because of an earlier test is therefore flaky too; the row shows its statuses so a
reader can tell. An id on one side only (absent on the other) is never rerun and stays a difference,
and so does a test that differs the same way every time (the network the sandbox has not, by design).

Reruns are capped (RERUN_AT_MOST ids) and each has the step's time limit; a rerun that fails to run
adds no status, so it can only leave a difference standing. Run `RERUNS`: 3.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from envcompare import STEP_LIMITS
from envrun import as_non_root, observe_tests, plain_test_env
from envtests import Side, aligned, comparable, inherited, plain_side, prefixes

from codekiln.core.proc import run

RERUNS = 3
RERUN_AT_MOST = 100

CODEKILN_CHILD = """
import json, sys
from codekiln.envs import build_env
from codekiln.grading import run_tests
env = build_env(sys.argv[1])  # built already: the cached environment
ids = json.loads(sys.argv[2])
seen = []
for _ in range(int(sys.argv[3])):
    with env.open_sandbox() as sb:
        seen.append(run_tests(sb, env.test, tests=ids).statuses)
print("RERUNS " + json.dumps(seen))
"""


def rerun_differing(
    plain: Side, ck: Side, plain_dir: Path, spec: str, home: Path, pip_cache: Path
) -> dict[str, object]:
    """Rerun the differing tests on both sides (the rule above), noting what each rerun saw in
    `plain.reruns` and `ck.reruns`; what the row keeps of it (ids rerun, runs that came back)."""
    p_ids, c_ids = to_rerun(plain, ck)
    if not p_ids and not c_ids:
        return {}
    venv, root = plain_dir / "venv", next((plain_dir / "src").iterdir())
    reports = observe_tests(venv, plain_dir)
    argv = [*as_non_root(), str(venv / "bin" / "python"), "-m", "pytest", "-p", "envreport",
            "--envreport-out", str(reports)]  # fmt: skip
    plain_runs = rerun_plain(p_ids, root, argv, plain_test_env(venv, plain_dir), reports)
    ck_runs, why = rerun_codekiln(c_ids, spec, home, pip_cache)
    add_reruns(plain, plain_runs)
    add_reruns(ck, ck_runs)
    out: dict[str, object] = {"ids": len(p_ids), "plain_runs": len(plain_runs), "codekiln_runs": len(ck_runs)}
    return {**out, "codekiln_error": why} if why else out


def to_rerun(plain: Side, ck: Side) -> tuple[list[str], list[str]]:
    """The differing tests that both sides ran, as each side names them (plain ids, codekiln ids)."""
    p_prefix, c_prefix = prefixes(plain, ck)
    a, b = aligned(plain, ck)
    a, b = inherited(a, b), inherited(b, a)
    differ = {i for i in set(a.statuses) & set(b.statuses) if "::" in i and a.statuses[i] != b.statuses[i]}
    p_ids = sorted(i for i in plain.statuses if comparable(i, p_prefix) in differ)
    c_ids = sorted(i for i in ck.statuses if comparable(i, c_prefix) in differ)
    return p_ids[:RERUN_AT_MOST], c_ids[:RERUN_AT_MOST]


def add_reruns(side: Side, runs: list[dict[str, str]]) -> None:
    """Note each rerun's status of every test the side had (a test a rerun did not report adds none)."""
    for statuses in runs:
        for test_id, status in statuses.items():
            if test_id in side.statuses:
                side.reruns.setdefault(test_id, []).append(status)


def rerun_plain(
    ids: list[str], root: Path, argv: list[str], env: dict[str, str], reports: Path
) -> list[dict[str, str]]:
    """`ids` run RERUNS times plainly: `argv` is the plain suite's pytest command up to its arguments
    (observer plugin included, writing to `reports`)."""
    out = []
    for _ in range(RERUNS if ids else 0):
        reports.unlink(missing_ok=True)
        res = run(
            [*argv, "-p", "no:cacheprovider", *ids], timeout=STEP_LIMITS["plain_test"], env=env, cwd=root
        )
        if res.timed_out or not reports.is_file():
            continue
        out.append(plain_side(json.loads(reports.read_text())).statuses)
    return out


def rerun_codekiln(
    ids: list[str], spec: str, home: Path, pip_cache: Path
) -> tuple[list[dict[str, str]], str]:
    """`ids` run RERUNS times in codekiln's built environment, each in a fresh sandbox; (the runs, what
    went wrong where they could not run)."""
    if not ids:
        return [], ""
    env = {**os.environ, "CODEKILN_HOME": str(home), "CODEKILN_PIP_CACHE": str(pip_cache)}
    res = run(
        [sys.executable, "-c", CODEKILN_CHILD, spec, json.dumps(ids), str(RERUNS)],
        timeout=STEP_LIMITS["build"], env=env,
    )  # fmt: skip
    line = next((ln for ln in reversed(res.stdout.splitlines()) if ln.startswith("RERUNS ")), None)
    if line is None:
        return [], ("timeout" if res.timed_out else res.stderr.strip()[-300:])
    return json.loads(line[len("RERUNS ") :]), ""
