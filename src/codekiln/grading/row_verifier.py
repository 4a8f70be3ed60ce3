"""The test step of an exported SWE-bench row: the graded tests run guarded, as the Harbor verifier runs
them, and a log that swebench's parser (`parse_log_pytest_v2`) reads as the guard vouches.

    python -E -s /tmp/codekiln-row.XXXX/row_verifier.py --testbed /testbed      # between the markers

Shipped into the row's eval script with the files of `shipped.ROW` (standard library only) and
`task.json` / `state.json` beside them (`tasks.export.swebench_guard`); the eval script has already put
back what the grader puts back and applied `test_patch`. `verifier.Verifier.run` runs FAIL_TO_PASS +
PASS_TO_PASS with the guard plugin under a fresh name and nonce, loaded with `-p` from outside the
repository, the task's support modules held, canaries planted, as an unprivileged user when run as root,
and cross-checks the report (`guard_check`).

What it prints, in this order:
- pytest's own output, every line behind `| ` (a carriage return starts a line, as Python's universal
  newlines read the log back) and swebench's `>>>>>` markers broken, so nothing the code under test
  prints reads as a status or moves the parsed region;
- the verdict line: "codekiln guard: <outcome> <reason> <detail>";
- one swebench status line per graded test id as the row lists it (addresses blanked): the guard's
  status when the run is `resolved` or `unresolved`, and `FAILED <id> - codekiln guard: ...` for every
  test otherwise (a report that failed the guard's cross-checks, a timeout, a run that broke).

It exits 0 when every line says PASSED or SKIPPED, else 1: the row's recorded test exit code agrees
with the lines (swebench drops a log that reports no failure beside a failing exit code). The test
process runs as another user than this script, so nothing it writes changes what is printed here;
code under test still shares pytest's process, where the guard makes forging detectable, not
impossible (see `verifier`).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

try:  # shipped: beside its sibling files in the row's folder
    import unstable_ids
    import verifier
except ImportError:  # imported from the codekiln package
    from codekiln.grading import unstable_ids, verifier  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
SWEBENCH = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}
"""The guard's statuses as swebench's `TestStatus` spells them."""
RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
"""Cases of one blanked id keep the worst status, as codekiln's runner does (`unstable_ids`)."""
VOUCHED = ("resolved", "unresolved")


def quoted_log(log: str) -> list[str]:
    """pytest's output as lines no parser reads as a status or a marker (see the module docstring)."""
    lines = log.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return ["| " + line.replace(">>>>>", ">>>> >") for line in lines]


def status_lines(verdict: dict[str, Any], tests: list[str]) -> list[str]:
    """One line per graded test id as the row lists it (`unstable_ids.blank`)."""
    if verdict["outcome"] not in VOUCHED:
        why = f"codekiln guard: {verdict['outcome']} {verdict.get('reason', '')}".rstrip()
        return [f"FAILED {test} - {why}" for test in dict.fromkeys(map(unstable_ids.blank, tests))]
    statuses: dict[str, str] = verdict.get("statuses") or {}
    worst: dict[str, str] = {}
    for test in tests:  # a test the report lacks did not pass
        status, shown = statuses.get(test, "failed"), unstable_ids.blank(test)
        if RANK.get(status, RANK["failed"]) >= RANK.get(worst.get(shown, "passed"), 0):
            worst[shown] = status
    return [f"{SWEBENCH.get(status, 'FAILED')} {test}" for test, status in worst.items()]


def guarded_run(testbed: Path, here: Path = HERE) -> dict[str, Any]:
    """The Harbor verifier's guarded run of the graded tests on `testbed` (the tree is already put back
    by the eval script, so the verifier's own patch rules have nothing to judge)."""
    task = json.loads((here / "task.json").read_text(encoding="utf-8"))
    state = json.loads((here / "state.json").read_text(encoding="utf-8"))
    run = verifier.Verifier(testbed, task, state)
    run.changed = {"the model patch"}  # a run that breaks is the patch's doing: unresolved
    owner = testbed.stat()
    try:
        return run.run(float(task["timeout_s"]))
    finally:  # the tests ran as another user: the eval script's `git checkout` after them needs the tree
        if run._test_uid() is not None:
            subprocess.run(["chown", "-R", f"{owner.st_uid}:{owner.st_gid}", str(testbed)], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an exported SWE-bench row's graded tests guarded.")
    parser.add_argument("--testbed", default="/testbed", help="the repository, the model patch applied")
    args = parser.parse_args(argv)
    tests = json.loads((HERE / "task.json").read_text(encoding="utf-8"))["tests"]
    try:
        verdict = guarded_run(Path(args.testbed))
    except Exception as err:  # the run itself failed: every test reads failed, the cause is printed
        verdict = {"outcome": "error", "reason": "verifier", "detail": f"{type(err).__name__}: {err}"}
    out = [*quoted_log(verdict.pop("log", "")), ""]
    detail = " ".join(str(verdict.get("detail", "")).split())[:2000].replace(">>>>>", ">>>> >")
    took = f"(tests ran {verdict['duration_s']:.1f} s)" if "duration_s" in verdict else ""
    out.append(
        " ".join(f"codekiln guard: {verdict['outcome']} {verdict.get('reason', '')} {took} {detail}".split())
    )
    lines = status_lines(verdict, tests)
    sys.stdout.write("\n".join([*out, *lines]) + "\n")
    sys.stdout.flush()
    return 0 if all(line.startswith(("PASSED ", "SKIPPED ")) for line in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
