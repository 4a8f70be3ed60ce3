"""Benchmark: does `codekiln env build` reproduce a library's own test suite, on a sample picked by a rule?

    nice -n 10 .venv/bin/python bench/envbuild.py               # the pinned sample (60), resuming the rows
    .venv/bin/python bench/envbuild.py --limit 10                # the first 10 of the sample
    .venv/bin/python bench/envbuild.py --libraries wcwidth,tomli # these (must be in the sample)
    .venv/bin/python bench/envbuild.py --table                   # only print the markdown table of the rows
    .venv/bin/python bench/envbuild.py --json rows.json          # also write the rows as one JSON list
    .venv/bin/python bench/envbuild.py --derive                  # re-derive the sample by its rule (envsample.py)
    .venv/bin/python bench/envbuild.py --sample-only             # walk the rule and pin the sample, no runs
    .venv/bin/python bench/envbuild.py --step-limit plain_test=900  # raise a step's time limit (repeatable)
    nice -n 10 .venv/bin/python bench/envbuild.py --synth-only       # only the synthesis of rows that lack it

The sample: see `envsample.py` (rank order of PyPI downloads, unseen by tests/, sdist with tests, within a
size bound), pinned in `bench/envbuild_sample.json`. Per library, on the same sdist archive:

1. plain: `python -m venv` (the interpreter codekiln builds with), pip upgraded, `pip install '.[EXTRAS]' pytest` in the
   unpacked sdist (`pip install -e`, editable, where the project builds compiled extensions,
   `envplain.builds_extensions`: pytest runs in the source tree, whose package shadows an installed
   copy, and only an editable install builds the compiled modules into that tree, as the maintainers'
   own setups do, greenlet's CI and multidict's Makefile `pip install -e .`; regex and greenlet ran no
   test without), EXTRAS the first of test/tests/testing declared as an extra (pyproject, setup.cfg or
   setup.py), plus `--group` of the same name from `[dependency-groups]`, plus what the project's own
   test setup installs (`envplain`: tox's env, nox's test session, the CI job running pytest, the
   Makefile's test target, test/dev requirements files, uv/poetry/pdm/hatch defaults, `tests_require`,
   and the addopts plugins the project's files declare); then `python -m pytest` in the
   source tree, network on, with the project's own pytest command, so that both sides run the
   maintainers' command (`envcommand`, read by the bench's own readers from the sources codekiln reads,
   in its order): tox's test env's command with all its arguments (requests-toolbelt's `-W
   error::DeprecationWarning`: the project's own run fails 2 more tests), else the paths and the
   suite-deciding options (`-k`, `-m`, `--ignore`, `-W`, `--doctest-modules`, ...; not output, speed or
   coverage options) of the noxfile's test session, a hatch/pdm test script, the Makefile's test target
   or a CI job (referencing's nox `pytest referencing` leaves out `suite/`, a vendored project of its
   own whose test needs jsonschema), else pytest's own defaults; going
   on past a module that fails to collect (`--continue-on-collection-errors`, as codekiln's baseline
   does; the row's `collect_errors` names them), with an observer plugin (`envreport`) that keeps every
   test's reports. Counts are read from pytest's own summary line.
2. codekiln: `build_env("pypi:NAME==VERSION")` (what `codekiln env build` / `env test` run: default mode,
   no profile, no agent) in a fresh CODEKILN_HOME holding that archive; counts and per-test statuses from
   the recorded baseline (its collection errors, left-out modules included, and collection skips as ids);
   its failing tests are run once more in the environment's sandbox for their messages, which the
   record does not keep.
3. synth: on a library that built, `codekiln synth --max-tasks 3 --batch-size 8 --workers 1` (default
   grader gate) under a time limit; the valid tasks in its tasks.jsonl are counted (partial on timeout).
   The limit is one rule for every row (`envcompare.synth_limit`): max(240 s, 3 x the row's suite
   time), the suite time being the plain run's, or codekiln's baseline run's (`baseline_s`) when that
   is longer and the plain side ran fewer tests (s3fs 2026.9.0: 3 modules fail to import plainly, 11
   tests in 4.5 s against codekiln's 382). Synthesis runs the suite at least twice before its first
   task (the coverage map, then the first batch and the grader), so a fixed 240 s measured a long
   suite's length, not synthesis (multidict 7.2.1's plain suite takes 183 s). The row's `synth` says
   which limit applied (`limit_s`, `limit_rule`).

pip's download and wheel cache is shared by both sides and all libraries (`--pip-cache`), so times measure
installs and builds, not the network. Every step has a time limit; a step that runs past it is killed
with its process group and the row says "timeout"; `--step-limit STEP=SECONDS` raises a limit for a run on
a loaded machine, and the row records the limits it ran under (`limits`). Rows are appended to
`bench/results/envbuild_rows.jsonl` (in the repository, `--rows`) as each library finishes, so a stopped
run resumes with the next library (`--redo` reruns), and the file is compacted to one row per library
at the end; both sides' status of every test id go to `bench/results/envbuild_tests/NAME.json.gz`.
Rows marked `reconstructed` were read back from the README's table (`envrows.py`) after their records
were lost: they keep their verdict and are replaced when the library is rerun.

"Reproduces", per test (`envtests.compare_tests`, where both sides have per-test data): every test id
(a module that failed to collect, or was skipped at collection, being one id) has the same status on
both sides, one status per id by codekiln's rule (passed, failed, error at setup/teardown, skipped with
xfailed). "better": every test that passes plainly passes in codekiln, none fails in codekiln that did
not fail plainly (a test under a module that failed to collect plainly failed plainly: pytest counted
the module as an error), and codekiln passes more (the reason names them and why they did not pass
plainly). "no reference": the plain run has no test outcome (stopped at its configuration or conftest,
or no module collected) while codekiln ran tests; not counted as reproduced, since being better than
nothing is a verdict no build could fail. Otherwise "tests differ", the reason naming the differing
ids with the cause their failure message gives (name resolution, connection refused, network
unreachable, module missing, ...). A difference
is never explained away: a test that needs the network fails in codekiln's offline sandbox and stays a
difference. Rows without per-test data on both sides keep the count rule: codekiln's passed, failed
(failed + errors, collection errors included) and skipped (skipped + xfailed) equal the plain run's
(passed + xpassed, failed + errors, skipped + xfailed).
Every other row gets a reason class: plain failed, build failed (step), timeout (step), count mismatch.

A test whose outcome is not deterministic (`envflaky`, applied to every row with per-test data): each
test whose status differs and that both sides ran is rerun 3 times on BOTH sides (plainly in the plain
venv, in codekiln through `run_tests` in fresh sandboxes); one seen with two statuses on one side, over
the suite's run and its reruns, is "flaky", not a difference, and the row names it with the statuses
each side saw; one stable on each side that differs stays a difference. The statuses of the reruns are
kept with the per-test data, so `--table` applies the rule again from what was stored.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import envsample
from envcompare import STEP_LIMITS, compare, step_limits, table
from envflaky import rerun_differing
from envrun import codekiln_tests, plain_tests, run_codekiln, run_plain, run_synth
from envsynth import synth_one, wants_synth
from envtests import Side, differences, load_sides, save_sides

from codekiln.core.records import append_jsonl, iter_jsonl

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "bench" / "results" / "envbuild_rows.jsonl"
"""The rows, kept in the repository: the README's table is `--table` of this file."""
TESTS_DIR = ROOT / "bench" / "results" / "envbuild_tests"
"""Per library, both sides' status of every test id (gzip JSON, `envtests.save_sides`)."""


def bench_one(
    lib: dict[str, object], work: Path, pip_cache: Path, synth: bool, keep: bool = False,
    tests_dir: Path = TESTS_DIR,
) -> dict[str, object]:  # fmt: skip
    """One row: the plain run, the codekiln build, the comparison (per test where both sides have their
    per-test data, saved to TESTS_DIR/NAME.json.gz) and (if it built) a short synthesis."""
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
        p_side, c_side = plain_tests(scratch / "plain"), codekiln_tests(home)
        if p_side is not None and c_side is not None and ck.get("ok"):
            row["flaky_reruns"] = rerun_differing(p_side, c_side, scratch / "plain", spec, home, pip_cache)
        sides = per_test(name, p_side, c_side, tests_dir)
        if sides is not None:
            path = tests_file(name, tests_dir)
            shown = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
            row["tests"] = {
                "file": str(shown),
                "differences": {k: len(v) for k, v in differences(*sides).items()},
            }
        verdict, reason = compare(row["plain"], ck, sides)
        row.update(verdict=verdict, reason=reason)
        if synth and ck.get("ok"):
            row["synth"] = run_synth(spec, home, pip_cache, scratch / "synth", row["plain"], ck)  # type: ignore[arg-type]
    row["limits"] = dict(STEP_LIMITS)
    row["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    return row


def tests_file(name: str, tests_dir: Path) -> Path:
    return tests_dir / f"{name}.json.gz"


def per_test(name: str, plain: Side | None, ck: Side | None, tests_dir: Path) -> tuple[Side, Side] | None:
    """Both sides' per-test data, saved for the library (an earlier file of it removed), or None where
    one side has none (its row is then judged by its counts)."""
    path = tests_file(name, tests_dir)
    path.unlink(missing_ok=True)
    if plain is None or ck is None:
        return None
    save_sides(path, plain, ck)
    return plain, ck


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--libraries", default="", help="comma-separated names from the sample")
    parser.add_argument("--limit", type=int, default=60, help="sample size (default 60)")
    parser.add_argument(
        "--work",
        type=Path,
        default=Path.home() / ".cache" / "codekiln-bench-envbuild",
        help="scratch: sdists, pip's cache, --keep's runs",
    )
    parser.add_argument(
        "--rows", type=Path, default=ROWS, help=f"the rows (default {ROWS.relative_to(ROOT)})"
    )
    parser.add_argument("--tests-dir", type=Path, default=TESTS_DIR, help="per-test data, one file a library")
    parser.add_argument("--pip-cache", type=Path, default=None, help="pip cache shared by every install")
    parser.add_argument("--no-synth", action="store_true", help="skip the short synthesis")
    parser.add_argument("--redo", action="store_true", help="rerun libraries that already have a row")
    parser.add_argument(
        "--synth-only", action="store_true",
        help="only the short synthesis, on a rebuild, of built rows without one (--redo: of every built row); "
        "the rest of each row is kept (envsynth.py)",
    )  # fmt: skip
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
    args.rows.parent.mkdir(parents=True, exist_ok=True)
    rows_path = args.rows
    pip_cache = args.pip_cache or args.work / "pip-cache"
    rows = load_rows(rows_path, args.tests_dir)
    wanted = {n.strip() for n in args.libraries.split(",") if n.strip()}
    if args.sample_only:
        chosen = list(envsample.walk(args.work, args.limit, derive=args.derive))
        print(f"{len(chosen)} libraries pinned in {envsample.PINNED}")
        return 0
    if not args.table:
        seen = set()
        for lib in envsample.walk(args.work, args.limit, derive=args.derive):
            seen.add(lib["name"])
            name = str(lib["name"])
            chosen = not wanted or name in wanted
            if chosen and args.synth_only and wants_synth(rows.get(name), args.redo):
                rows[name] = synth_one(lib, rows[name], args.work, pip_cache, args.keep)
                append_jsonl(rows_path, [rows[name]])
                print(name, json.dumps(rows[name].get("synth")), file=sys.stderr, flush=True)
            elif chosen and not args.synth_only and (name not in rows or args.redo):
                row = bench_one(lib, args.work, pip_cache, not args.no_synth, args.keep, args.tests_dir)
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
    if not args.table:
        compact(rows_path)
    return 0


def load_rows(path: Path, tests_dir: Path = TESTS_DIR) -> dict[str, dict[str, object]]:
    """The latest row of each library, judged by the rule as it is now on what its run recorded (its
    per-test file where it has one); a reconstructed row keeps the verdict it was read back with."""
    rows = {str(r["library"]): r for r in iter_jsonl(path)} if path.exists() else {}
    for row in rows.values():
        if row.get("plain") and row.get("codekiln") and not row.get("reconstructed"):
            sides = load_sides(tests_file(str(row["library"]), tests_dir)) if row.get("tests") else None
            row["verdict"], row["reason"] = compare(row["plain"], row["codekiln"], sides)  # type: ignore[arg-type]
    return rows


def compact(path: Path) -> None:
    """One line per library, the latest (rows are appended as libraries finish, so a stopped run loses
    none; the file kept in the repository holds each library once). Written aside, then moved over."""
    if not path.is_file():
        return
    latest = {str(r["library"]): r for r in iter_jsonl(path)}
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in latest.values()))
    tmp.replace(path)


if __name__ == "__main__":
    sys.exit(main())
