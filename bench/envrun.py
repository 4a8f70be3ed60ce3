"""The two runs of bench/envbuild.py on one library's sdist: its own suite plainly in a fresh venv
(`run_plain`), and `codekiln env build` in a fresh CODEKILN_HOME (`run_codekiln`), each with its per-test
outcomes (`plain_tests`, `codekiln_tests`), and the short synthesis on what codekiln built (`run_synth`).
The rules they run by are stated in envbuild.py's docstring.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from envcommand import plain_pytest_args
from envcompare import PLAIN_REPORT, STEP_LIMITS, plain_counts, synth_limit
from envplain import builds_extensions, plain_targets
from envtests import Side, codekiln_side, plain_side

from codekiln.core.proc import run, tail
from codekiln.core.records import iter_jsonl
from codekiln.repos.fetch import unpack
from codekiln.sandbox.common import SYSTEM_PATH

BUILD_CHILD = """
import json, sys
from codekiln.core.errors import CodekilnError
from codekiln.envs import build_env
from codekiln.grading import run_tests
try:
    env = build_env(sys.argv[1])
except CodekilnError as err:
    print("ROW " + json.dumps({"ok": False, "error": err.message[:300], **err.to_record()}))
    raise SystemExit(0)
failing = sorted(t for t, s in env.baseline.items() if s in ("failed", "error"))[:RERUN_AT_MOST]


def failure_messages():
    # The record keeps statuses only: what its failures say comes from a rerun of them; ids pytest
    # cannot select alone (a directory's item) from one more run of the whole suite.
    with env.open_sandbox() as sb:
        rerun = run_tests(sb, env.test, tests=failing)
    out = {t: m for t, m in rerun.messages.items() if t in failing}
    unselected = [t for t in failing if t not in rerun.statuses]
    if unselected:
        with env.open_sandbox() as sb:
            full = run_tests(sb, env.test)
        out.update({t: full.messages[t] for t in unselected if t in full.messages})
    for t in failing:
        if t not in out:
            out[t] = "rerun alone: " + rerun.statuses.get(t, rerun.error or "pytest selects no such id")
    return out


try:
    messages = failure_messages() if failing else {}
except Exception as err:  # the build's row stands without them
    messages = dict.fromkeys(failing, f"rerun for messages failed: {err!r}"[:300])
with open(sys.argv[2], "w") as fh:
    json.dump({"baseline": env.baseline, "collection_errors": env.collection_errors,
        "collection_skips": env.collection_skips, "messages": messages}, fh)
c = env.counts
print("ROW " + json.dumps({"ok": True, "passed": c.get("passed", 0), "failed": c.get("failed", 0),
    "error": c.get("error", 0), "skipped": c.get("skipped", 0), "collection_errors": len(env.collection_errors),
    "collection_skips": len(env.collection_skips), "left_out": sorted(env.left_out),
    "test": " ".join(["pytest", *env.recipe.test.args]), "test_source": env.recipe.test_source,
    "skipped_deps": sorted(env.skipped_deps), "exit_code": env.baseline_exit_code,
    "rerun_for_messages": len(failing), "baseline_s": round(env.steps_s.get("baseline", 0.0), 1)}))
""".replace("RERUN_AT_MOST", "300")


def plain_test_env(venv: Path, scratch: Path) -> dict[str, str]:
    """The plain suite's environment: what codekiln's sandbox starts from (`Sandbox.base_env`), not this
    process's. The host's variables change what a suite does: this machine sets AWS_CA_BUNDLE,
    SSL_CERT_FILE, REQUESTS_CA_BUNDLE and more, which botocore, ssl and requests read in the tests.
    TMPDIR is the run's own, as the sandbox's /tmp is: run as uid 65534 (`as_non_root`), pytest's
    /tmp/pytest-of-nobody would be another run's, or a real nobody's, and unreadable."""
    home, tmp = scratch / "home", scratch / "tmp"
    home.mkdir(parents=True, exist_ok=True)
    tmp.mkdir(parents=True, exist_ok=True)
    return {
        "PATH": f"{venv / 'bin'}:{SYSTEM_PATH}", "VIRTUAL_ENV": str(venv), "HOME": str(home),
        "TMPDIR": str(tmp), "LANG": "C.UTF-8", "SHELL": "/bin/bash",
    }  # fmt: skip


NON_ROOT = ["unshare", "--user", "--map-user=65534", "--map-group=65534"]


def as_non_root() -> list[str]:
    """The prefix that runs the plain suite as a non-root user, as the projects' own CI does (and as
    codekiln's sandbox does): a user namespace where the suite is uid/gid 65534, mapped to root outside.
    Root's rights are gone (a file chmod 000 is unreadable, ports below 1024 cannot be bound) while the
    kernel still checks files as their owner, root, so the venv and the interpreter under /root stay
    usable; the uid is mapped, so a suite may still switch to its own uid (anyio's `run_process(user=
    os.getuid())`: with no map that is EINVAL). Empty where this process is not root or the kernel
    refuses user namespaces (the row says which)."""
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return []
    probe = run([*NON_ROOT, "true"], timeout=30)
    return list(NON_ROOT) if probe.exit_code == 0 else []


def run_plain(archive: Path, scratch: Path, pip_cache: Path) -> dict[str, object]:
    """The library's own suite, plainly: fresh venv, pip install with test extras, `python -m pytest`."""
    root = unpack(archive, scratch / "src")
    venv = scratch / "venv"
    env = {**os.environ, "PIP_CACHE_DIR": str(pip_cache), "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("CODEKILN_HOME", None)
    base = Path(sys.base_prefix) / "bin" / "python3"
    res = run([str(base), "-m", "venv", str(venv)], timeout=120, env=env)
    if res.exit_code:
        return {"status": "venv failed", "log": tail(res.stderr, 5)}
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q"]
    res = run([*pip, "--upgrade", "pip"], timeout=120, env=env)  # venv's bundled pip lacks --group
    if res.exit_code:
        return {"status": "venv failed", "log": tail(res.stderr, 5)}
    extras, groups, deps, tox_env = plain_targets(root, ".".join(map(str, sys.version_info[:2])))
    target = f".[{','.join(extras)}]" if extras else "."
    editable = builds_extensions(root)
    argv = [
        *pip,
        *(["-e"] if editable else []),
        target,
        "pytest",
        *(w for g in groups for w in ("--group", g)),
    ]
    argv += deps
    start = time.monotonic()
    res = run(argv, timeout=STEP_LIMITS["plain_install"], env=env, cwd=root)
    out: dict[str, object] = {"install": " ".join(argv[3:]), "install_s": round(time.monotonic() - start, 1)}
    if editable:
        out["editable"] = f"compiled extensions ({editable})"
    if tox_env:
        out["install_from"] = tox_env
    if res.timed_out:
        return {**out, "status": "timeout (plain install)"}
    if res.exit_code:
        return {**out, "status": "install failed", "log": tail(res.stdout + res.stderr, 6)}
    command, command_from = plain_pytest_args(root, ".".join(map(str, sys.version_info[:2])))
    if command_from:
        out["command"] = " ".join(["pytest", *command])
        out["command_from"] = command_from
    user = as_non_root()
    out["user"] = "uid 65534 (unshare --user, mapped)" if user else f"uid {os.geteuid()}"
    reports = observe_tests(venv, scratch)
    start = time.monotonic()
    res = run(
        [*user, str(venv / "bin" / "python"), "-m", "pytest", *plain_options(reports), *command],
        timeout=STEP_LIMITS["plain_test"], env=plain_test_env(venv, scratch), cwd=root, max_output=64 << 20,
    )  # fmt: skip
    out["test_s"] = round(time.monotonic() - start, 1)
    (scratch / "pytest.log").write_text(res.stdout + "\n" + res.stderr)  # kept with --keep
    if res.timed_out:
        return {**out, "status": "timeout (plain test)"}
    counts, collect_errors = plain_counts(res.stdout)
    if not counts["summary_found"]:
        lines = (res.stdout + "\n" + res.stderr).splitlines()
        out["log"] = "\n".join([ln for ln in lines if ln.strip() and not ln.startswith("WARNING:")][-6:])
    out["per_test"] = reports.is_file()
    return {**out, "status": "ran", "exit_code": res.exit_code, **counts, "collect_errors": collect_errors}


def plain_tests(scratch: Path) -> Side | None:
    """The plain run's per-test outcomes (`envreport`'s file), None where pytest wrote none (it stopped
    at its configuration, or before its session ended)."""
    reports = scratch / "tmp" / "envreport.json"
    return plain_side(json.loads(reports.read_text())) if reports.is_file() else None


def plain_options(reports: Path) -> list[str]:
    """What the bench adds to the plain `python -m pytest`: the per-test short summary (`PLAIN_REPORT`),
    going on past a module that fails to collect as codekiln's baseline does (pytest's default stops
    the whole suite there, and the run compares nothing), and the observer that keeps every report."""
    return [
        PLAIN_REPORT,
        "--continue-on-collection-errors",
        "-p",
        "envreport",
        "--envreport-out",
        str(reports),
    ]


def observe_tests(venv: Path, scratch: Path) -> Path:
    """Put the observer plugin (`envreport`) into the plain venv; the path its report will be written to."""
    site = next((venv / "lib").glob("python*/site-packages"))
    shutil.copy2(Path(__file__).with_name("envreport.py"), site / "envreport.py")
    reports = scratch / "tmp" / "envreport.json"
    reports.unlink(missing_ok=True)
    return reports


def run_codekiln(spec: str, archive: Path, home: Path, pip_cache: Path) -> dict[str, object]:
    """`build_env(spec)` in a fresh CODEKILN_HOME that holds the same sdist archive; its per-test
    baseline is written to HOME/baseline-tests.json (`codekiln_tests`)."""
    (home / "sdists").mkdir(parents=True, exist_ok=True)
    shutil.copy2(archive, home / "sdists" / archive.name)
    env = {**os.environ, "CODEKILN_HOME": str(home), "CODEKILN_PIP_CACHE": str(pip_cache)}
    start = time.monotonic()
    tests = home / "baseline-tests.json"
    res = run([sys.executable, "-c", BUILD_CHILD, spec, str(tests)], timeout=STEP_LIMITS["build"], env=env)
    took = round(time.monotonic() - start, 1)
    if res.timed_out:
        return {"ok": False, "status": "timeout (build)", "build_s": took}
    line = next((ln for ln in reversed(res.stdout.splitlines()) if ln.startswith("ROW ")), None)
    if line is None:
        return {"ok": False, "status": "build crashed", "build_s": took, "log": tail(res.stderr, 6)}
    row = json.loads(line[4:])
    return {**row, "build_s": took, "status": "built" if row["ok"] else "build failed"}


def codekiln_tests(home: Path) -> Side | None:
    path = home / "baseline-tests.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    return codekiln_side(
        data["baseline"], data["collection_errors"], data["collection_skips"], data["messages"]
    )


def run_synth(
    spec: str,
    home: Path,
    pip_cache: Path,
    out: Path,
    plain: Mapping[str, object] | None = None,
    codekiln: Mapping[str, object] | None = None,
) -> dict[str, object]:
    """A short `codekiln synth` on the built environment: how many valid tasks come out in the limit
    (`synth_limit` of the row's `plain` run and of `codekiln`, the build the synthesis runs on:
    `limit_s`, and `limit_rule` saying how), and why none did (`synth_outcome`)."""
    limit, rule = synth_limit(plain, codekiln)
    env = {**os.environ, "CODEKILN_HOME": str(home), "CODEKILN_PIP_CACHE": str(pip_cache)}
    argv = [sys.executable, "-m", "codekiln.cli.synth", spec, "--out", str(out), "--max-tasks", "3"]
    argv += ["--batch-size", "8", "--workers", "1"]
    start = time.monotonic()
    res = run(argv, timeout=limit, env=env)
    row: dict[str, object] = {
        "synth_s": round(time.monotonic() - start, 1),
        "limit_s": limit,
        "limit_rule": rule,
    }
    return {**row, **synth_outcome(out, res.timed_out, res.exit_code, res.stdout + res.stderr)}


def synth_outcome(out: Path, timed_out: bool, exit_code: int, log: str) -> dict[str, object]:
    """What a synthesis run left in `out`: its tasks, its status, the candidates it rejected per reason
    (rejected.jsonl, read also after a timeout) and, when it made none, why (funnel.json's `no_tasks`,
    which `codekiln synth` writes before it exits 1: such a run is "done", its reason the library's).
    "failed" is a run that ended with an error and no such reason (a crash, a refused input)."""
    tasks = out / "tasks.jsonl"
    count = sum(1 for _ in iter_jsonl(tasks)) if tasks.is_file() else 0
    rejected = (
        Counter(str(r.get("reason")) for r in iter_jsonl(out / "rejected.jsonl"))
        if (out / "rejected.jsonl").is_file()
        else Counter()
    )
    funnel = out / "funnel.json"
    why = str(json.loads(funnel.read_text()).get("no_tasks") or "") if funnel.is_file() else ""
    row: dict[str, object] = {"tasks": count}
    if rejected:
        row["rejected"] = dict(rejected.most_common())
    if why and not count:
        row["why"] = why
    if timed_out:
        row["synth_status"] = "timeout"
        if funnel.is_file():
            row["synth_log"] = funnel.read_text()[:400]
        elif not count and not rejected:
            row["synth_log"] = "no batch finished"
    elif exit_code and not row.get("why"):
        row["synth_status"] = "failed"
        row["synth_log"] = tail(log, 4)
    else:
        row["synth_status"] = "done"
    return row
