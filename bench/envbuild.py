"""Benchmark: does `codekiln env build` reproduce a library's own test suite, on a sample picked by a rule?

    nice -n 10 .venv/bin/python bench/envbuild.py               # the pinned sample (60), resuming rows.jsonl
    .venv/bin/python bench/envbuild.py --limit 10                # the first 10 of the sample
    .venv/bin/python bench/envbuild.py --libraries wcwidth,tomli # these (must be in the sample)
    .venv/bin/python bench/envbuild.py --table                   # only print the markdown table of the rows
    .venv/bin/python bench/envbuild.py --json rows.json          # also write the rows as one JSON list
    .venv/bin/python bench/envbuild.py --derive                  # re-derive the sample by its rule (envsample.py)
    .venv/bin/python bench/envbuild.py --sample-only             # walk the rule and pin the sample, no runs
    .venv/bin/python bench/envbuild.py --step-limit plain_test=900  # raise a step's time limit (repeatable)

The sample: see `envsample.py` (rank order of PyPI downloads, unseen by tests/, sdist with tests, within a
size bound), pinned in `bench/envbuild_sample.json`. Per library, on the same sdist archive:

1. plain: `python -m venv` (the interpreter codekiln builds with), pip upgraded, `pip install '.[EXTRAS]' pytest` in the
   unpacked sdist, EXTRAS the first of test/tests/testing declared as an extra (pyproject, setup.cfg or
   setup.py), plus `--group` of the same name from `[dependency-groups]`, plus what the project's own
   test setup installs (`envplain`: tox's env, nox's test session, the CI job running pytest, the
   Makefile's test target, test/dev requirements files, uv/poetry/pdm/hatch defaults, `tests_require`,
   and the addopts plugins the project's files declare); then `python -m pytest` in the
   source tree, network on, with the arguments of tox's test env's pytest command where it has one
   (requests-toolbelt's `-W error::DeprecationWarning`: the project's own run fails 2 more tests). Counts
   are read from pytest's own summary line.
2. codekiln: `build_env("pypi:NAME==VERSION")` (what `codekiln env build` / `env test` run: default mode,
   no profile, no agent) in a fresh CODEKILN_HOME holding that archive; counts from the recorded baseline.
3. synth: on a library that built, `codekiln synth --max-tasks 3 --batch-size 8 --workers 1` (default
   grader gate) under a time limit; the valid tasks in its tasks.jsonl are counted (partial on timeout).

pip's download and wheel cache is shared by both sides and all libraries (`--pip-cache`), so times measure
installs and builds, not the network. Every step has a time limit; a step that runs past it is killed
with its process group and the row says "timeout"; `--step-limit STEP=SECONDS` raises a limit for a run on
a loaded machine, and the row records the limits it ran under (`limits`). Rows are appended to `rows.jsonl` in the work
directory as each library finishes, so a stopped run resumes with the next library (`--redo` reruns).

"Reproduces": codekiln's passed, failed (failed + errors, collection errors included) and skipped
(skipped + xfailed) equal the plain run's (passed + xpassed, failed + errors, skipped + xfailed), exactly.
One tolerance: where the plain run failed at collection (its "ERROR collecting" lines, or a conftest that
could not be imported; the reason is named in the row) and codekiln had no collection error, with no
fewer passes and no more failures, it counts as reproduced ("better").
Every other row gets a reason class: plain failed, build failed (step), timeout (step), count mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import envsample
from envcompare import PLAIN_REPORT, STEP_LIMITS, compare, plain_counts, step_limits, table
from envplain import plain_targets, tox_pytest_args

from codekiln.core.proc import run, tail
from codekiln.core.records import append_jsonl, iter_jsonl
from codekiln.repos.fetch import unpack
from codekiln.sandbox.common import SYSTEM_PATH

BUILD_CHILD = """
import json, sys
from codekiln.core.errors import CodekilnError
from codekiln.envs import build_env
try:
    env = build_env(sys.argv[1])
except CodekilnError as err:
    print("ROW " + json.dumps({"ok": False, "error": err.message[:300], **err.to_record()}))
    raise SystemExit(0)
c = env.counts
print("ROW " + json.dumps({"ok": True, "passed": c.get("passed", 0), "failed": c.get("failed", 0),
    "error": c.get("error", 0), "skipped": c.get("skipped", 0), "collection_errors": len(env.collection_errors),
    "collection_skips": len(env.collection_skips),
    "test": " ".join(["pytest", *env.recipe.test.args]), "test_source": env.recipe.test_source,
    "skipped_deps": sorted(env.skipped_deps), "exit_code": env.baseline_exit_code}))
"""


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
    argv = [*pip, target, "pytest", *(w for g in groups for w in ("--group", g)), *deps]
    start = time.monotonic()
    res = run(argv, timeout=STEP_LIMITS["plain_install"], env=env, cwd=root)
    out: dict[str, object] = {"install": " ".join(argv[3:]), "install_s": round(time.monotonic() - start, 1)}
    if tox_env:
        out["install_from"] = tox_env
    if res.timed_out:
        return {**out, "status": "timeout (plain install)"}
    if res.exit_code:
        return {**out, "status": "install failed", "log": tail(res.stdout + res.stderr, 6)}
    command = tox_pytest_args(root, ".".join(map(str, sys.version_info[:2])))
    if command:
        out["command"] = " ".join(["pytest", *command])
    user = as_non_root()
    out["user"] = "uid 65534 (unshare --user, mapped)" if user else f"uid {os.geteuid()}"
    start = time.monotonic()
    res = run(
        [*user, str(venv / "bin" / "python"), "-m", "pytest", PLAIN_REPORT, *command],
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
    return {**out, "status": "ran", "exit_code": res.exit_code, **counts, "collect_errors": collect_errors}


def run_codekiln(spec: str, archive: Path, home: Path, pip_cache: Path) -> dict[str, object]:
    """`build_env(spec)` in a fresh CODEKILN_HOME that holds the same sdist archive."""
    (home / "sdists").mkdir(parents=True, exist_ok=True)
    shutil.copy2(archive, home / "sdists" / archive.name)
    env = {**os.environ, "CODEKILN_HOME": str(home), "CODEKILN_PIP_CACHE": str(pip_cache)}
    start = time.monotonic()
    res = run([sys.executable, "-c", BUILD_CHILD, spec], timeout=STEP_LIMITS["build"], env=env)
    took = round(time.monotonic() - start, 1)
    if res.timed_out:
        return {"ok": False, "status": "timeout (build)", "build_s": took}
    line = next((ln for ln in reversed(res.stdout.splitlines()) if ln.startswith("ROW ")), None)
    if line is None:
        return {"ok": False, "status": "build crashed", "build_s": took, "log": tail(res.stderr, 6)}
    row = json.loads(line[4:])
    return {**row, "build_s": took, "status": "built" if row["ok"] else "build failed"}


def run_synth(spec: str, home: Path, pip_cache: Path, out: Path) -> dict[str, object]:
    """A short `codekiln synth` on the built environment: how many valid tasks come out in the limit."""
    env = {**os.environ, "CODEKILN_HOME": str(home), "CODEKILN_PIP_CACHE": str(pip_cache)}
    argv = [sys.executable, "-m", "codekiln.cli.synth", spec, "--out", str(out), "--max-tasks", "3"]
    argv += ["--batch-size", "8", "--workers", "1"]
    start = time.monotonic()
    res = run(argv, timeout=STEP_LIMITS["synth"], env=env)
    tasks = out / "tasks.jsonl"
    count = sum(1 for _ in iter_jsonl(tasks)) if tasks.is_file() else 0
    row: dict[str, object] = {"tasks": count, "synth_s": round(time.monotonic() - start, 1)}
    if res.timed_out:
        row["synth_status"] = "timeout"
        funnel = out / "funnel.json"
        row["synth_log"] = funnel.read_text()[:400] if funnel.is_file() else "no batch finished"
    elif res.exit_code:
        row["synth_status"] = "failed"
        row["synth_log"] = tail(res.stdout + res.stderr, 4)
    else:
        row["synth_status"] = "done"
    return row


def bench_one(
    lib: dict[str, object], work: Path, pip_cache: Path, synth: bool, keep: bool = False
) -> dict[str, object]:
    """One row: the plain run, the codekiln build, the comparison and (if it built) a short synthesis."""
    name, version = str(lib["name"]), str(lib["version"])
    archive, why = envsample.download(name, version, work / "sdists")
    row: dict[str, object] = {"library": name, "version": version, "rank": lib.get("rank")}
    if archive is None:
        return {**row, "verdict": "no sdist", "reason": why}
    spec = f"pypi:{name}=={version}"
    kept = work / "kept" / name
    if keep:  # the unpacked sources, both venvs and codekiln's home with its logs, for reading afterwards
        shutil.rmtree(kept, ignore_errors=True)
        kept.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="envbench-") as tmp:
        scratch = kept if keep else Path(tmp)
        row["plain"] = run_plain(archive, scratch / "plain", pip_cache)
        home = scratch / "home"
        row["codekiln"] = ck = run_codekiln(spec, archive, home, pip_cache)
        verdict, reason = compare(row["plain"], ck)
        row.update(verdict=verdict, reason=reason)
        if synth and ck.get("ok"):
            row["synth"] = run_synth(spec, home, pip_cache, scratch / "synth")
    row["limits"] = dict(STEP_LIMITS)
    row["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", default="", help="comma-separated names from the sample")
    parser.add_argument("--limit", type=int, default=60, help="sample size (default 60)")
    parser.add_argument("--work", type=Path, default=Path.home() / ".cache" / "codekiln-bench-envbuild")
    parser.add_argument("--pip-cache", type=Path, default=None, help="pip cache shared by every install")
    parser.add_argument("--no-synth", action="store_true", help="skip the short synthesis")
    parser.add_argument("--redo", action="store_true", help="rerun libraries that already have a row")
    parser.add_argument("--derive", action="store_true", help="re-derive the sample by its rule")
    parser.add_argument("--table", action="store_true", help="only print the markdown table of the rows")
    parser.add_argument("--sample-only", action="store_true", help="only walk the rule and pin the sample")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here as a JSON list")
    parser.add_argument("--keep", action="store_true", help="keep each library's run under WORK/kept/NAME")
    parser.add_argument(
        "--step-limit", action="append", default=[], metavar="STEP=SECONDS",
        help=f"raise one step's time limit for this run (repeatable; defaults: "
        f"{', '.join(f'{k}={v}' for k, v in STEP_LIMITS.items())}); a loaded machine can run a suite past them",
    )  # fmt: skip
    args = parser.parse_args()
    try:
        STEP_LIMITS.update(step_limits(args.step_limit))
    except ValueError as err:
        parser.error(str(err))
    args.work.mkdir(parents=True, exist_ok=True)
    rows_path = args.work / "rows.jsonl"
    pip_cache = args.pip_cache or args.work / "pip-cache"
    rows = {str(r["library"]): r for r in iter_jsonl(rows_path)} if rows_path.exists() else {}
    for row in rows.values():  # the rule as it is now, on what each run recorded
        if row.get("plain") and row.get("codekiln"):
            row["verdict"], row["reason"] = compare(row["plain"], row["codekiln"])
    wanted = {n.strip() for n in args.libraries.split(",") if n.strip()}
    if args.sample_only:
        chosen = list(envsample.walk(args.work, args.limit, derive=args.derive))
        print(f"{len(chosen)} libraries pinned in {envsample.PINNED}")
        return 0
    if not args.table:
        seen = set()
        for lib in envsample.walk(args.work, args.limit, derive=args.derive):
            seen.add(lib["name"])
            if (not wanted or lib["name"] in wanted) and (lib["name"] not in rows or args.redo):
                row = bench_one(lib, args.work, pip_cache, not args.no_synth, args.keep)
                append_jsonl(rows_path, [row])
                rows[str(row["library"])] = row
                print(json.dumps(row), file=sys.stderr, flush=True)
            if wanted and wanted <= seen:
                break  # the rule is not walked further than the libraries asked for
        if wanted - seen:
            parser.error(f"not in the sample: {sorted(wanted - seen)}; see {envsample.PINNED}")
    order = [str(r["name"]) for r in json.loads(envsample.PINNED.read_text())["chosen"]][: args.limit]
    shown = [rows[n] for n in order if n in rows and (not wanted or n in wanted)]
    print(table(shown, len(order)))
    print(dict(Counter(str(r["verdict"]) for r in shown)), file=sys.stderr)
    if args.json:
        args.json.write_text(json.dumps(shown, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
