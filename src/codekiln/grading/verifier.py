"""The verifier of an exported Harbor task: grades the agent's tree as `codekiln eval` grades a patch.

    python3 -I -S tests/codekiln/verifier.py [--testbed /testbed] [--logs /logs/verifier]

Shipped unchanged into each exported task's `tests/codekiln/` beside the other files of `shipped.VERIFIER`
(standard library only; pytest is needed by the test process alone), with `task.json` (tests, isolation
settings, policy) and `state.json` (the pre-agent tree as path -> [kind, sha256, mode], the snapshot's
protected files and hidden tests, the pre-agent text of the source files for the scan, and the baseline's
statuses of the cases of graded functions asked for by function, `unstable_ids.cases_of`). Harbor uploads
tests/ after the agent has finished, into a verifier container holding the agent's /testbed and a clean venv.
`-I -S`: no site (the venv's `.pth` files, an editable install's naming the tree) and no script folder
on `sys.path`, its own folder alone: nothing of the tree is imported by the verifier, which runs as root.

What it does, as `grading.grade_patch` does:
1. What the agent changed is read from the tree against the manifest (the agent's `.git` and
   `__pycache__` folders are dropped first: a history and a bytecode cache are not part of a fix).
2. `pathrules` judges each changed path: rejected (binary, symlink, special file, mode change, git
   metadata, compiled artefact, a new module hiding an installed one), or protected (put back from
   the snapshot; the hidden tests too; not a new library module named like a test: `libnames`). `scan` rejects added code that reaches into the test machinery.
3. FAIL_TO_PASS + PASS_TO_PASS run as `python -P -s -m pytest` (by `guard_main`) with autoload off, the
   environment's plugins loaded by the guard plugin from their entry points, the snapshot's config
   (`-c`, `--rootdir`), the guard plugin under a fresh name and nonce, and canary tests under fresh
   names, as an unprivileged user when run as root, who cannot read this folder (root's, 0700).
4. `guard_check` cross-checks the marker, exit code, files and canaries, `tampered` on a mismatch, as is
   a graded doctest collecting examples neither its docstring nor `state.json`'s `doctest_digests` hold.
5. With a kept twin (`state.json`'s `twin`), the real run and one on the twin in an order drawn per
   grade, the container put back between them (`verifier_twin`): where the real run resolves, a kept id
   passed on the twin is `tampered`; a mark that tells a run's place resolves under at most half the draws.

Writes `<logs>/reward.txt` (1 only when resolved) and `<logs>/grade.json` (outcome, reason, detail,
statuses, findings). Code under test shares pytest's process: forging the verdict is detectable only.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

if __name__ == "__main__":  # `-I -S`: no site (a `.pth` naming the tree), no script folder: its own alone
    sys.path[:0] = [os.path.dirname(os.path.abspath(__file__))]
try:  # shipped: beside its sibling files in the task's tests/codekiln/
    import doctests
    import guard_check
    import libnames
    import pathrules
    import scan_reach
    import shipped
    import suite_order
    import unstable_ids
    import verifier_files as files
    import verifier_twin
except ImportError:  # imported from the codekiln package
    from codekiln.grading import (  # type: ignore[no-redef]
        doctests,
        guard_check,
        libnames,
        pathrules,
        scan_reach,
        shipped,
        suite_order,
        unstable_ids,
        verifier_twin,
    )
    from codekiln.grading import verifier_files as files  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent


class Verifier:
    """One grading of the tree at `testbed` (see the module docstring)."""

    keep_git = False
    """Whether the tree's `.git` stays (an exported row's eval script checks files out of it after)."""

    def __init__(self, testbed: Path, task: dict[str, Any], state: dict[str, Any]) -> None:
        self.root, self.task = testbed, task
        self.manifest: dict[str, list[Any]] = state["manifest"]
        self.originals: dict[str, list[Any]] = state["originals"]  # rel -> [mode, base64]
        self.before: dict[str, str] = state["before"]
        self.doctests: dict[str, str] = state.get("doctests", {})  # rel -> the snapshot's, base64
        self.vouched: dict[str, str] = state.get("doctest_digests", {})
        """Graded doctest id -> digest of the examples the buggy state's run collected (`doctest_runs`)."""
        self.baseline: dict[str, str] | None = state.get("baseline_cases")
        """The clean tree's statuses of the cases of functions asked for in place of an unstable id
        (`unstable_ids.read_back`, from the environment's baseline, as the grader); None: an older export."""
        self.rules = pathrules.Rules(**{k: v for k, v in task["policy"].items() if k in RULE_FIELDS})
        self.findings: list[dict[str, Any]] = []
        self.kept: frozenset[str] = frozenset()
        """New library modules named like tests that stand (`libnames.kept_modules`)."""
        self.changed: set[str] = set()
        """Paths the agent changed that stand (not reverted)."""
        self.venv = Path(os.environ.get("CODEKILN_VENV") or task["venv"])
        self.python = os.environ.get("PYTHON") or str(self.venv / "bin" / "python")

    def in_snapshot(self, rel: str) -> bool:
        prefix = rel.rstrip("/") + "/"
        known = (*self.manifest, *self.originals)
        return rel in self.manifest or rel in self.originals or any(k.startswith(prefix) for k in known)

    def original_executable(self, rel: str) -> bool | None:
        if rel in self.originals:
            return bool(self.originals[rel][0] & 0o111)
        entry = self.manifest.get(rel)
        return bool(entry[2] & 0o111) if entry and entry[0] == "file" else None

    def touched(self) -> dict[str, str]:
        """Paths the agent changed, with their kind now (file, symlink, other, deleted)."""
        files.drop_pycache(self.root)
        if not self.keep_git:
            files.remove(self.root / ".git")
        now = files.tree_state(self.root)
        out = {rel: "deleted" for rel in self.manifest if rel not in now}
        for rel, entry in now.items():
            if self.manifest.get(rel) != entry:
                out[rel] = entry[0]
        return out

    def originals_at(self, rel: str) -> Iterator[tuple[str, int, bytes]]:
        """The snapshot's files to put back at `rel` or under it: (path, mode, bytes)."""
        prefix = rel + "/"
        for name, (mode, data) in self.originals.items():
            if name == rel or name.startswith(prefix):
                yield name, mode, base64.b64decode(data)

    def before_text(self, rel: str) -> str | None:
        """The pre-agent text of a Python file, which the scan compares the change with."""
        return self.before.get(rel)

    def snapshot_module(self, rel: str) -> bytes | None:
        """The snapshot's bytes of a graded doctest's module (`doctests.judge`)."""
        return base64.b64decode(self.doctests[rel]) if rel in self.doctests else None

    def restore(self, paths: list[str]) -> None:
        """Put `paths` back as they are in the snapshot (absent there: deleted)."""
        for rel in paths:
            files.remove(self.root / rel)
            for name, mode, data in self.originals_at(rel):
                target = self.root / name
                for parent in reversed(target.relative_to(self.root).parents):
                    if (self.root / parent).is_symlink() or (self.root / parent).is_file():
                        files.remove(self.root / parent)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                target.chmod(mode)

    def check(self) -> tuple[str, str, dict[str, str]] | None:
        """Judge the agent's changes; a (outcome, reason, detail) verdict when the change is rejected."""
        touched, fixed, hidden_tests = self.touched(), self.task.get("fixed", ()), self.task["hidden_tests"]
        new = [rel for rel, kind in touched.items() if kind != "deleted" and not self.in_snapshot(rel)]
        roots = pathrules.path_roots(
            self.venv, lambda folder: f"{folder}/__init__.py" in self.manifest, self.task["tests"],
            self.task["workdir"],
        )  # fmt: skip
        folders = pathrules.test_folders([*self.manifest, *self.originals, *hidden_tests])
        packages = pathrules.project_packages(self.venv, self.task["workdir"])
        self.kept = libnames.kept_modules(new, packages, folders.__contains__, roots, self.task["tests"])
        is_test = libnames.protection(self.kept)  # `is_protected`, less new library modules named like tests
        for rel, kind in sorted(touched.items()):
            path = self.root / rel
            data = path.read_bytes() if kind == "file" else None
            executable = kind == "file" and bool(path.lstat().st_mode & 0o111)
            back = pathrules.put_back(rel, fixed) and rel not in self.kept
            problem = pathrules.reject_reason(
                rel, kind, data, executable, self.original_executable(rel), self.rules, back
            )
            if problem:
                self.findings.append({"kind": "patch_rule", "path": rel, "detail": problem})
                return "rejected", "patch_rule", {"detail": problem}
        shadows = pathrules.shadowing(new, roots, pathrules.installed_modules(self.venv), self.in_snapshot)
        problem, texts = doctests.judge(
            self.task["tests"], touched, self.snapshot_module,
            lambda rel: (self.root / rel).read_bytes() if touched.get(rel) == "file" else None,
        )  # fmt: skip
        if problem:
            self.findings.append({"kind": "patch_rule", "path": problem.split(":", 1)[0], "detail": problem})
            return "rejected", "patch_rule", {"detail": problem}
        areas = pathrules.code_areas(fixed, roots)
        as_data = {rel: pathrules.DATA for rel in texts} | dict.fromkeys(shadows, pathrules.SHADOWS)
        for rel, kind in touched.items():
            why = pathrules.is_data(rel, fixed, areas, self.in_snapshot(rel))
            if why and not is_test(rel) and not pathrules.new_folder(rel, kind, self.in_snapshot):
                as_data[rel] = why
        for rel in set(touched) & set(self.task.get("support", ())):  # `grading.support`, at export
            as_data.setdefault(rel, pathrules.SUPPORT)
        protected = sorted({*(rel for rel in touched if is_test(rel)), *as_data})
        hidden = pathrules.hidden_modules(touched, self.in_snapshot, protected)
        as_data |= dict.fromkeys(hidden, pathrules.SHADOWS)
        protected = sorted({*protected, *hidden})
        hides = shadows | hidden
        self.findings.extend({"kind": "shadows_module", "path": p, "detail": hides[p]} for p in sorted(hides))
        self.findings.extend({"kind": "kept", "path": p, "detail": libnames.KEPT} for p in sorted(self.kept))
        self.findings.extend(
            {"kind": "reverted", "path": rel, "detail": as_data.get(rel, "protected path")}
            for rel in protected
        )
        self.restore(sorted(set(protected) | set(hidden_tests)))
        self.changed = {rel for rel in touched if rel not in protected}
        mode = self.task["policy"].get("scan", "enforce")
        if mode == "off":
            return None
        changes = {
            rel: (self.before_text(rel), (self.root / rel).read_bytes().decode("utf-8", "surrogateescape"))
            for rel, kind in touched.items()
            if rel.endswith(".py") and kind == "file" and rel not in protected
        }
        support = set(self.task.get("support", ()))  # `scan_reach`
        found = scan_reach.change_findings(
            changes, roots, self.in_snapshot, lambda rel: is_test(rel) or rel in support, is_test=is_test,
            read=lambda rel: (self.root / rel).read_bytes() if (self.root / rel).is_file() else None,
            own=pathrules.library_judge(self.venv, self.task["workdir"], folders.__contains__, hidden_tests),
        )  # fmt: skip
        self.findings.extend(found)
        if found and mode == "enforce":
            first = found[0]
            detail = f"the change reaches into the test machinery: {first.get('path')}:{first.get('line')} {first.get('detail')}"
            return "rejected", "scan", {"detail": detail}
        return None

    def run(self, timeout: float, held: Path = HERE) -> dict[str, Any]:
        """Run the tests guarded, `held` (the grader's files) out of their reach; the verdict's fields."""
        tests: list[str] = self.task["tests"]
        iso = self.task["isolation"]
        # As the grader does (grading.graded.canary_module): the first graded test module whose text no
        # graded test checks (a linter's item of it), else a new one. Each module is parsed once.
        modules = dict.fromkeys(t.split("::", 1)[0] for t in tests if "::" in t)
        found = [
            rel for rel in modules
            if rel.endswith(".py") and pathrules.is_protected(rel) and (self.root / rel).is_file()
            and not guard_check.checks_module_text(
                rel, (self.root / rel).read_bytes().decode("utf-8", "surrogateescape"), tests
            )
        ][:1]  # fmt: skip
        beside = PurePosixPath(tests[0].split("::", 1)[0]).parent / f"test_{secrets.token_hex(4)}.py"
        module = found[0] if found else str(beside).removeprefix("./")
        canary_file = self.root / module
        # As bytes through text (surrogateescape): a test module in latin-1 keeps its own bytes.
        existing = canary_file.read_bytes().decode("utf-8", "surrogateescape") if found else ""
        expected, source = guard_check.canary_tests(module, existing, iso["function_prefix"])
        canary_file.write_bytes(source.encode("utf-8", "surrogateescape"))
        guard = Path(files.GUARD_ROOT) / secrets.token_hex(8)
        (guard / "run-tmp").mkdir(parents=True)  # its own HOME and TMPDIR (no name to import)
        nonce, module = secrets.token_hex(16), f"codekiln_guard_{secrets.token_hex(4)}"
        for name, loaded in shipped.guard_plugin_names(module).items():
            shutil.copyfile(HERE / name, guard / f"{loaded}.py")
        shutil.copyfile(HERE / "guard_main.py", guard / f"{module}_main.py")  # the tree held off till -p
        options: list[str] = list(self.task["pytest_options"])
        junit = Path(options[options.index("--junitxml") + 1])
        junit.parent.mkdir(parents=True, exist_ok=True)
        files.remove(junit)
        results, settings = guard / "results.json", guard / "settings.json"
        trusted = [str(self.root / rel) for rel in sorted({*iso.get("trusted", []), module})]
        settings.write_text(
            json.dumps(
                {
                    "nonce": nonce,
                    "out": str(results),
                    "junit": str(junit),
                    "workdir": str(self.root),
                    "trusted": trusted,
                    "trusted_digests": {p: d for p in trusted if (d := files.digest(Path(p)))},  # as now
                    "support": [str(self.root / rel) for rel in self.task.get("support", ())],
                    "plugins": list(iso["plugins"]),
                    "doctests": iso.get("doctests", {}),
                    "doctest_digests": self.vouched,
                    "hide": True,  # emptied once collected (`guard_plugin_hide`): this tree has one run
                }
            )
        )
        config = str(self.root / iso["config"]) if iso["config"] else str(guard / "pytest.ini")
        if not iso["config"]:
            (guard / "pytest.ini").write_text("[pytest]\n")
        # A case whose id holds an address is asked for by its function and read back by its blanked id,
        # as the grader's runner does (`unstable_ids`). The ids go in the suite's own run order, exported
        # as `order` (`suite_order`; a task exported before it: as listed, the cases' functions last).
        stable, unstable = unstable_ids.split(tests)
        functions = set(unstable_ids.function_ids(unstable))
        order = self.task.get("order")
        requested = [*(suite_order.pytest_ids(order) if order else [*stable, *sorted(functions)]), *expected]
        ids = guard / "test-ids.txt"
        ids.write_text("\n".join(requested) + "\n")
        argv = [self.python, "-P", "-s", "-m", f"{module}_main", "-c", config, "--rootdir", str(self.root)]
        argv += ["-p", module, *options, f"@{ids}"]
        env = {
            "PATH": f"{self.venv}/bin:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(guard / "run-tmp"),
            "TMPDIR": str(guard / "run-tmp"),
            "LANG": "C.UTF-8",
            **self.task["env"],
            "PYTHONPATH": str(guard),
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONNOUSERSITE": "1",
            "CODEKILN_GUARD": str(settings),
        }
        uid = files.test_uid()
        if uid is not None:  # the tree theirs; state.json (the hidden tests' text) and the rest not
            files.withhold(held, uid, give=(self.root, guard, junit.parent))
        start = time.monotonic()
        proc = subprocess.Popen(
            argv, cwd=self.root, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True, user=uid, group=uid,
            extra_groups=[] if uid is not None else None,
        )  # fmt: skip
        try:
            out, _ = proc.communicate(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, _ = proc.communicate()
            timed_out = True
        files.kill_group(proc.pid)
        stdout = out.decode("utf-8", "replace")
        verdict: dict[str, Any] = {"exit_code": proc.returncode, "duration_s": time.monotonic() - start}
        verdict["log"] = stdout
        if timed_out:
            return {**verdict, "outcome": "timeout", "reason": "timeout", "detail": f"passed {timeout:.0f} s"}
        data, evidence = guard_check.check_run(
            stdout, proc.returncode, nonce, files.read(results), files.digest(junit)
        )
        evidence[:0] = files.not_regular(results, "results file") + files.not_regular(junit, "JUnit report")
        statuses = {str(k): str(v) for k, v in ((data or {}).get("statuses") or {}).items()}
        evidence += guard_check.canary_evidence(expected, statuses)
        recorded = len(statuses)
        for test_id in [t for t in statuses if guard_check.canary_of(t, expected)]:
            statuses.pop(test_id, None)
        outside = sorted(t for t in set(statuses) - set(tests) if not unstable_ids.selected_by(t, functions))
        if data is not None and outside:
            evidence.append(f"the report holds {len(outside)} test(s) that were not requested: {outside[:3]}")
        if evidence:
            self.findings.extend({"kind": "tampered", "detail": e} for e in evidence)
            detail = "the test run's report failed the grader's cross-checks: " + "; ".join(evidence)
            return {**verdict, "outcome": "tampered", "reason": "report_forged", "detail": detail}
        broke = guard_check.broken_run(data, proc.returncode, recorded)
        if broke:
            outcome, reason = ("unresolved", "broke_test_run") if self.changed else ("error", "harness")
            return {**verdict, "outcome": outcome, "reason": reason, "detail": broke}
        statuses, _ = unstable_ids.read_back(statuses, {}, unstable, set(stable), self.baseline)
        ok = all(statuses.get(t) == "passed" for t in self.task["fail_to_pass"] + self.task["pass_to_pass"])
        verdict["statuses"] = statuses
        verdict["missing"] = [t for t in tests if t not in statuses]
        errors = (data or {}).get("collection_errors") or {}
        detail = ("collection errors: " + "; ".join(sorted(errors))[:1000]) if errors else ""
        reason = "collection_error" if errors else ""
        return {**verdict, "outcome": "resolved" if ok else "unresolved", "reason": reason, "detail": detail}


RULE_FIELDS = ("allow_binary", "allow_symlinks", "allow_mode_changes", "compiled_suffixes")


def grade(testbed: Path, here: Path = HERE) -> dict[str, Any]:
    """Grade the tree at `testbed` with the task files in `here`; the verdict as written to grade.json."""
    task = json.loads((here / "task.json").read_text(encoding="utf-8"))
    state = json.loads((here / "state.json").read_text(encoding="utf-8"))
    task["policy"]["compiled_suffixes"] = tuple(task["policy"].get("compiled_suffixes", ()))
    verifier = Verifier(testbed, task, state)
    verdict: dict[str, Any] = {"instance_id": task["instance_id"]}
    rejected = verifier.check()
    if rejected:
        verdict.update(outcome=rejected[0], reason=rejected[1], **rejected[2])
    else:
        verdict.update(verifier_twin.graded(verifier, float(task["timeout_s"]), here, state.get("twin")))
    verdict["resolved"] = verdict["outcome"] == "resolved"
    verdict["findings"] = verifier.findings
    return verdict


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Grade an exported codekiln task's tree (Harbor verifier).")
    parser.add_argument("--testbed", default="/testbed", help="the agent's repository")
    parser.add_argument("--logs", default="/logs/verifier", help="where reward.txt and grade.json go")
    args = parser.parse_args(argv)
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    (logs / "reward.txt").write_text("0\n")
    try:
        verdict = grade(Path(args.testbed))
    except Exception as err:  # the verifier itself failed: reward stays 0, the cause is recorded
        verdict = {"outcome": "error", "reason": "verifier", "detail": f"{type(err).__name__}: {err}"}
        verdict["resolved"] = False
    (logs / "test_output.txt").write_text(verdict.pop("log", ""), encoding="utf-8")
    (logs / "grade.json").write_text(json.dumps(verdict, indent=2, sort_keys=True), encoding="utf-8")
    (logs / "reward.txt").write_text("1\n" if verdict["resolved"] else "0\n")
    print(
        f"codekiln verifier: {verdict['outcome']} {verdict.get('reason', '')} {verdict.get('detail', '')[:500]}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
