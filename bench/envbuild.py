"""Benchmark: automatic environment builds for ten popular libraries, from their PyPI sdists.

    .venv/bin/python bench/envbuild.py                 # all ten, fresh state, pip cache reused
    .venv/bin/python bench/envbuild.py toolz six       # a subset
    .venv/bin/python bench/envbuild.py --json out.json

Each library is built from scratch with zero per-repo configuration in a fresh CODEKILN_HOME (a temp
directory, deleted afterwards) while pip's download/wheel cache is reused (--pip-cache, default
$CODEKILN_HOME/pip-cache of the invoking user), so times measure codekiln's work plus pip's installs,
not the network. Per library it prints: build success, build time, the time of a second build (a cache
hit), baseline passed/failed/skipped, and whether the baseline matches the library's own result: its
suite passes on a clean checkout except for known deterministic failures (attrs: 1 test,
python-dateutil: 3, measured on a clean checkout), with no collection errors.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

LIBRARIES = {
    "toolz": "1.2.0",
    "more-itertools": "11.2.1",
    "attrs": "26.1.0",
    "click": "8.5.1",
    "jinja2": "3.1.6",
    "markupsafe": "3.0.4",
    "idna": "3.20",
    "six": "1.17.0",
    "python-dateutil": "4.0.0",
    "pyparsing": "3.3.3",
}
KNOWN_FAILURES = {"attrs": 1, "python-dateutil": 3}


def bench_one(name: str, version: str) -> dict[str, object]:
    from codekiln.envs import build_env

    row: dict[str, object] = {"library": name, "version": version, "ok": False}
    start = time.monotonic()
    try:
        env = build_env(f"pypi:{name}=={version}")
    except Exception as err:  # a failed build is a result, not a crash of the benchmark
        row.update(build_s=time.monotonic() - start, error=str(err).splitlines()[0][:200])
        return row
    row["build_s"] = time.monotonic() - start
    start = time.monotonic()
    again = build_env(f"pypi:{name}=={version}")
    row["cached_s"] = time.monotonic() - start
    failed = env.counts.get("failed", 0) + env.counts.get("error", 0)
    row.update(
        ok=True,
        cache_hit=again.id == env.id,
        steps_s=env.steps_s,
        passed=env.counts.get("passed", 0),
        failed=failed,
        skipped=env.counts.get("skipped", 0),
        collection_errors=len(env.collection_errors),
        skipped_deps=list(env.skipped_deps),
        failing=[t for t, s in env.baseline.items() if s in ("failed", "error")][:10],
        matches=failed <= KNOWN_FAILURES.get(name, 0)
        and not env.collection_errors
        and env.counts.get("passed", 0) > 0,
    )
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("libraries", nargs="*", help="names from the list (default: all ten)")
    parser.add_argument("--pip-cache", type=Path, default=None, help="pip cache to reuse")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows here")
    args = parser.parse_args()
    names = args.libraries or list(LIBRARIES)
    unknown = [n for n in names if n not in LIBRARIES]
    if unknown:
        parser.error(f"unknown libraries {unknown}; choose from {list(LIBRARIES)}")
    invoking_home = Path(os.environ.get("CODEKILN_HOME") or Path.home() / ".cache" / "codekiln")
    os.environ["CODEKILN_PIP_CACHE"] = str(args.pip_cache or invoking_home / "pip-cache")
    fresh = Path(tempfile.mkdtemp(prefix="codekiln-bench-home-"))
    os.environ["CODEKILN_HOME"] = str(fresh)
    rows = []
    total = time.monotonic()
    try:
        for name in names:
            row = bench_one(name, LIBRARIES[name])
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)
    total_s = time.monotonic() - total

    head = f"{'library':<16} {'version':<8} {'built':<5} {'build s':>8} {'again s':>8} {'passed':>7} {'failed':>6} {'skipped':>7}  matches"
    print(head)
    print("-" * len(head))
    for r in rows:
        if not r["ok"]:
            print(f"{r['library']:<16} {r['version']:<8} {'no':<5} {r['build_s']:>8.1f}  error: {r['error']}")
            continue
        known = KNOWN_FAILURES.get(str(r["library"]), 0)
        note = f" (known: {known})" if known else ""
        print(
            f"{r['library']:<16} {r['version']:<8} {'yes':<5} {r['build_s']:>8.1f} {r['cached_s']:>8.3f} "
            f"{r['passed']:>7} {r['failed']:>6} {r['skipped']:>7}  {'yes' if r['matches'] else 'NO'}{note}"
        )
    built = sum(bool(r["ok"]) for r in rows)
    matched = sum(bool(r.get("matches")) for r in rows)
    print(
        f"\nbuilt {built}/{len(rows)}, matching the library's own results {matched}/{len(rows)}, total {total_s:.0f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if matched >= len(rows) - len(rows) // 10 else 1


if __name__ == "__main__":
    sys.exit(main())
