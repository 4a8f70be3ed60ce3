"""What holding the tests' literal tables (`grading.guard_plugin_tables`) costs per test, on a large
data-driven suite.

    .venv/bin/python bench/guard_tables.py                       # 4000 tests over a 4000-entry table, 5 rounds
    .venv/bin/python bench/guard_tables.py --tests 2000 --rounds 3
    .venv/bin/python bench/guard_tables.py --tests 500 --calls 1000   # each call of `double` makes 1000 more

One generated suite: a test module holding `EXPECTED = {0: 0, 1: 2, ...}` written out (40 KB marshalled
at 4000 entries), each test `assert double(k) == EXPECTED[k]` for one key, parametrized by
`sorted(EXPECTED)`: the table every test reads, compared after each test's call within the per-test
budget (`PER_TEST`), and at the end, and where control comes back to the test from library code (the
profile function set for each test's call phase: `--calls` makes `double` call a helper that many times,
to show what the profile function costs library code). Each round runs pytest on it twice, each in a process of its own:
(a) with the guard's table check registered as a plugin, as the guard registers it (the two shipped
files loaded alone, as the guard loads them; their `ast` reading of the file included), and (b) without it; interleaved, so machine load hits both alike. Prints the median
CPU time (user + system, of the pytest process) of each and the difference per test, in milliseconds:
CPU time, because wall time on a shared machine moves more than the difference measured.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from codekiln.grading.shipped import FOLDER

TEST = (
    "import pytest\n\nfrom demo import double\n\nEXPECTED = {table}\n\n\n"
    "@pytest.mark.parametrize('k', sorted(EXPECTED))\ndef test_double(k):\n    assert double(k) == EXPECTED[k]\n"
)
RUN = """
import sys
import pytest
plugins = []
if sys.argv[1] == "held":
    sys.path.insert(0, sys.argv[3])
    import sysconfig
    paths = sysconfig.get_paths()  # read-only code, as `guard_plugin_machinery.READONLY` names it
    readonly = tuple(paths[k].rstrip("/") + "/" for k in ("stdlib", "platstdlib", "purelib", "platlib"))
    from bench_guard_tables import Tables  # the shipped files alone, as the guard loads them
    path = sys.argv[2] + "/tests/test_held.py"
    with open(path, "rb") as fh:
        tables = Tables({path: fh.read()}, {}, readonly)
    assert tables.held, "the table is not held"
    plugins.append(tables)
code = pytest.main(["-q", "-p", "no:cacheprovider", sys.argv[2] + "/tests"], plugins=plugins)
assert not plugins or not plugins[0].forged, plugins[0].forged
sys.exit(code)
"""


def write_suite(root: Path, n: int, calls: int = 0) -> None:
    table = "{" + ", ".join(f"{i}: {2 * i}" for i in range(n)) + "}"
    (root / "demo").mkdir()
    (root / "tests").mkdir()
    (root / "demo" / "__init__.py").write_text(
        f"def _one(i):\n    return i\n\n\ndef double(x):\n    for i in range({calls}):\n        _one(i)\n    return 2 * x\n"
    )
    (root / "tests" / "test_held.py").write_text(TEST.format(table=table))
    (root / "plugin").mkdir()  # this checkout's shipped files, under names of their own (`grading.shipped`)
    for part in ("tables", "literals"):
        shutil.copyfile(FOLDER / f"guard_plugin_{part}.py", root / "plugin" / f"bench_guard_{part}.py")


def cpu_seconds(form: str, root: Path) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    res = subprocess.run(
        [sys.executable, "-c", RUN, form, str(root), str(root / "plugin")],
        capture_output=True,
        text=True,
        cwd=root,
        check=False,
    )
    if res.returncode != 0:
        raise SystemExit(f"{form}: pytest exited {res.returncode}\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--tests", type=int, default=4000, help="tests, and entries of the table")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=0, help="Python calls each call of double makes")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="tables-bench-"))
    write_suite(root, args.tests, args.calls)
    times: dict[str, list[float]] = {"held": [], "plain": []}
    for _ in range(args.rounds):
        for form in times:
            times[form].append(cpu_seconds(form, root))
    held, plain = (statistics.median(times[f]) for f in ("held", "plain"))
    print(
        f"{args.tests} tests over a {args.tests}-entry table, {args.calls} calls each, {args.rounds} rounds"
        " (median CPU s of pytest)"
    )
    print(f"  (a) with the table check:  {held:.2f} s")
    print(f"  (b) without it:            {plain:.2f} s")
    print(f"  its cost per test:         {1000 * (held - plain) / args.tests:.3f} ms ({held / plain:.3f}x)")


if __name__ == "__main__":
    main()
