"""The steps of an exported SWE-bench row's eval script that judge the model patch as the Harbor verifier
does: its patch rules and scan on the patched tree, then the graded tests run guarded, and a log that
swebench's parser (`parse_log_pytest_v2`) reads as the rules and the guard decide.

    python -I -S /tmp/codekiln-row.XXXX/row_verifier.py --check --testbed /testbed   # first, on the patch
    python -I -S /tmp/codekiln-row.XXXX/row_verifier.py --testbed /testbed           # between the markers

Shipped into the row's eval script with the files of `shipped.ROW` (standard library only) and
`task.json` / `state.json` beside them (`tasks.export.swebench_guard`). The check runs on the tree as
the harness left it (`base_commit` + the model patch), before the script's own resets:
`verifier.Verifier.check` compares it with `state.json`'s manifest of `base_commit` (path -> [kind,
sha256, mode], written at export), rejects what the grader rejects (binary, symlink, mode change, a new
module or package hiding an installed one, the static scan's findings), puts back protected paths,
Python and other data, support modules and files a new package hides, and deletes the hidden tests.
The snapshot's bytes it puts back or scans against are read from git at `base_commit` and must match
the manifest's digests (a mismatch is an error: every test FAILED). Its verdict and findings go to
`check.json` in this folder, which the test process's user cannot write, and the new library modules
named like tests it keeps (`libnames`) to `kept.json`. Then the eval script resets (as before, sparing
those) and applies `test_patch`, and the test step prints the check's rejection, or runs the
tests: `verifier.Verifier.run` runs FAIL_TO_PASS +
PASS_TO_PASS with the guard plugin under a fresh name and nonce, loaded with `-p` from outside the
repository, the task's support modules held, canaries planted, as an unprivileged user when run as root,
and cross-checks the report (`guard_check`); with a kept twin (`state.json`'s `twin`), the real run and
one on the twin in an order drawn per grade, the container put back between them (`verifier_twin`: a
mark that tells a run's place resolves under at most half the draws), each run's limit its share of
the harness's timeout (`task.json`'s `timeout_s`, `swebench_guard.HARNESS_TIMEOUT_S`).

What the test step prints, in this order:
- the check's findings ("| codekiln finding: <kind> <path> <detail>") and pytest's own output, every
  line behind `| ` (a carriage return starts a line, as Python's universal newlines read the log back)
  and swebench's `>>>>>` markers broken, so nothing the code under test prints reads as a status or
  moves the parsed region;
- the verdict line: "codekiln guard: <outcome> <reason> <detail>";
- one swebench status line per graded test id as the row lists it (addresses blanked): the guard's
  status when the run is `resolved` or `unresolved`, and `FAILED <id> - codekiln guard: ...` for every
  test otherwise (a patch the check rejected, a report that failed the guard's cross-checks, a
  timeout, a run that broke, a kept id of the twin passed: `tampered answers_read`).

It exits 0 when every line says PASSED or SKIPPED, else 1: the row's recorded test exit code agrees
with the lines (swebench drops a log that reports no failure beside a failing exit code). The test
process runs as another user than this script, so nothing it writes changes what is printed here;
code under test still shares pytest's process, where the guard makes forging detectable, not
impossible (see `verifier`).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

if __name__ == "__main__":  # `-I -S`: no site (a `.pth` naming the tree), no script folder: its own alone
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__))]
try:  # shipped: beside its sibling files in the row's folder
    import pathrules
    import unstable_ids
    import verifier
    import verifier_files
    import verifier_twin
except ImportError:  # imported from the codekiln package
    from codekiln.grading import (  # type: ignore[no-redef]
        pathrules,
        unstable_ids,
        verifier,
        verifier_files,
        verifier_twin,
    )

HERE = Path(__file__).resolve().parent
SWEBENCH = {"passed": "PASSED", "failed": "FAILED", "error": "ERROR", "skipped": "SKIPPED"}
"""The guard's statuses as swebench's `TestStatus` spells them."""
RANK = {"passed": 0, "skipped": 1, "failed": 2, "error": 3}
"""Cases of one blanked id keep the worst status, as codekiln's runner does (`unstable_ids`)."""
VOUCHED = ("resolved", "unresolved")
CHECKED = "check.json"
"""The check's verdict, beside this file: {"findings": [...]}, with outcome/reason/detail when rejected."""
KEPT = "kept.json"
"""The new library modules named like test files that the check keeps (`libnames`), a JSON list beside
this file: the eval script's removal of new protected files spares them (none when the check failed)."""


class RowVerifier(verifier.Verifier):
    """The Harbor verifier's patch rules on a row's tree: the snapshot's files come from git at
    `base_commit`, held to the export's digests. The row's image keeps its git directory outside the
    tree (`GIT_DIR`), so a `.git` in it (a folder, a gitfile, a link: whatever the harness's `patch`
    fallback wrote) is the patch's: rejected, and left for no git command to read."""

    keep_git = True

    def __init__(self, testbed: Path, task: dict[str, Any], state: dict[str, Any]) -> None:
        super().__init__(testbed, task, state)
        self.base: str = state["base_commit"]
        manifest: dict[str, list[Any]] = state["manifest"]
        self.installed = installed_files(state.get("installed"), manifest)
        """What the image's install left in the tree beside `base_commit`'s files: no patch's change."""
        self.manifest = {**self.installed, **manifest}

    def touched(self) -> dict[str, str]:
        out = super().touched()
        top = self.root / ".git"
        if top.is_symlink() or top.exists():
            out[".git"] = "symlink" if top.is_symlink() else "file" if top.is_file() else "other"
        # the harness's `git clean -fd` between its ways to apply deletes untracked files: not the patch
        return {rel: kind for rel, kind in out.items() if not (rel in self.installed and kind == "deleted")}

    def snapshot_bytes(self, rel: str) -> bytes | None:
        """The bytes of file `rel` at `base_commit` (None: no such file in the manifest)."""
        entry = None if rel in self.installed else self.manifest.get(rel)
        if not entry or entry[0] != "file":
            return None
        argv = [
            "git",
            "-c",
            "safe.directory=*",
            "-c",
            "core.fsmonitor=false",
            "-c",
            "core.hooksPath=/dev/null",
            "-C",
            str(self.root),
            "cat-file",
            "blob",
            f"{self.base}:{rel}",
        ]
        got = subprocess.run(argv, capture_output=True, check=False)
        if got.returncode != 0 or verifier_files.sha256(got.stdout) != entry[1]:
            raise RuntimeError(f"{rel} at base_commit is not the file the export recorded")
        return got.stdout

    def originals_at(self, rel: str) -> Iterator[tuple[str, int, bytes]]:
        prefix = rel + "/"
        for name, entry in self.manifest.items():  # what the install left is put back as no file
            if (name == rel or name.startswith(prefix)) and entry[0] == "file" and name not in self.installed:
                yield name, int(entry[2]), self.snapshot_bytes(name) or b""

    def before_text(self, rel: str) -> str | None:
        data = None if pathrules.is_protected(rel) else self.snapshot_bytes(rel)
        return None if data is None else data.decode("utf-8", "surrogateescape")

    def snapshot_module(self, rel: str) -> bytes | None:
        return self.snapshot_bytes(rel)


def installed_files(record: str | None, manifest: dict[str, list[Any]]) -> dict[str, list[Any]]:
    """The entries of the image's record of its tree after the install (`record`, a JSON file of
    `verifier_files.tree_state` written when the image was built, outside the tree) that `manifest`
    (`base_commit`'s) lacks: an `*.egg-info`, a C extension built in place. None: no record."""
    path = Path(record) if record else None
    if path is None or not path.is_file():
        return {}
    entries: dict[str, list[Any]] = json.loads(path.read_text(encoding="utf-8"))
    return {rel: entry for rel, entry in entries.items() if rel not in manifest}


def check(testbed: Path, here: Path = HERE) -> dict[str, Any]:
    """The Harbor verifier's patch rules and scan on the row's patched tree (see the module docstring)."""
    task = json.loads((here / "task.json").read_text(encoding="utf-8"))
    state = json.loads((here / "state.json").read_text(encoding="utf-8"))
    task["policy"]["compiled_suffixes"] = tuple(task["policy"].get("compiled_suffixes", ()))
    run = RowVerifier(testbed, task, state)
    rejected = run.check()
    verdict: dict[str, Any] = {"findings": run.findings, "kept": sorted(run.kept)}
    if rejected:
        verdict.update(outcome=rejected[0], reason=rejected[1], **rejected[2])
    return verdict


def finding_lines(findings: list[dict[str, Any]]) -> list[str]:
    """The check's findings, one quoted line each."""
    text = "\n".join(
        " ".join(f"codekiln finding: {f.get('kind')} {f.get('path', '')} {f.get('detail', '')}".split())
        for f in findings
    )
    return quoted_log(text) if findings else []


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
    """The Harbor verifier's guarded run of the graded tests on `testbed` (the check has judged the
    patch, and the eval script has reset the tree and applied `test_patch` since)."""
    task = json.loads((here / "task.json").read_text(encoding="utf-8"))
    state = json.loads((here / "state.json").read_text(encoding="utf-8"))
    run = verifier.Verifier(testbed, task, state)
    run.changed = {"the model patch"}  # a run that breaks is the patch's doing: unresolved
    owner = testbed.stat()
    try:
        return verifier_twin.graded(run, float(task["timeout_s"]), here, state.get("twin"))
    finally:  # the tests ran as another user: the eval script's `git checkout` after them needs the tree
        if verifier_files.test_uid() is not None:
            subprocess.run(["chown", "-R", f"{owner.st_uid}:{owner.st_gid}", str(testbed)], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run an exported SWE-bench row's graded tests guarded.")
    parser.add_argument("--testbed", default="/testbed", help="the repository, the model patch applied")
    parser.add_argument("--check", action="store_true", help="judge the patch only, into check.json")
    args = parser.parse_args(argv)
    if args.check:
        try:
            checked = check(Path(args.testbed))
        except Exception as err:  # the check itself failed: every test will read failed
            checked = {"outcome": "error", "reason": "verifier", "detail": f"{type(err).__name__}: {err}"}
        (HERE / KEPT).write_text(json.dumps(checked.pop("kept", [])), encoding="utf-8")
        (HERE / CHECKED).write_text(json.dumps(checked), encoding="utf-8")
        print(f"codekiln patch rules: {checked.get('outcome', 'passed')} {checked.get('reason', '')}")
        return 0
    tests = json.loads((HERE / "task.json").read_text(encoding="utf-8"))["tests"]
    try:
        checked = json.loads((HERE / CHECKED).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        checked = {
            "outcome": "error",
            "reason": "verifier",
            "detail": f"no verdict of the patch rules: {err}",
        }
    findings = checked.pop("findings", [])
    try:
        verdict = checked if "outcome" in checked else guarded_run(Path(args.testbed))
    except Exception as err:  # the run itself failed: every test reads failed, the cause is printed
        verdict = {"outcome": "error", "reason": "verifier", "detail": f"{type(err).__name__}: {err}"}
    out = [*finding_lines(findings), *quoted_log(verdict.pop("log", "")), ""]
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
