"""What it costs to open a task's sandbox in the agent's starting state (`grading.open_task_sandbox`),
the first time (no cached task tree) and again (cached), on the recorded toolz tasks and on markupsafe.

    CODEKILN_HOME=$PWD/.codekiln/test-home PYTHONPATH=src .venv/bin/python bench/tasktree.py -n 5
    ... bench/tasktree.py -n 5 --json out.json
    ... bench/tasktree.py -n 3 --libraries= --repo pypi:jinja2==3.1.6 --repo /usr/lib/python3.11

`--repo` (any `codekiln repo add` source) times the tree alone (`sandbox.tasktree.task_tree`, no
sandbox) on a bigger snapshot: its first .py file rewritten, its last test file absent.

Each run opens the sandbox of one task with hidden tests (bwrap), then closes it; "first" runs after the
task-tree cache (`$CODEKILN_HOME/tasktrees`) was emptied, "again" right after it. A version of codekiln
without the cache (before the task trees) has no such folder: both columns then measure the same path
(the setup written into the overlay's upper layer from inside the sandbox). The tasks come from the
test suite's helpers (tests/rollouts, tests/audit): the same cached environments the tests use.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests" / "rollouts"), str(ROOT / "tests" / "audit")]

from codekiln.core.config import home  # noqa: E402
from codekiln.envs import load_env  # noqa: E402
from codekiln.grading import open_task_sandbox  # noqa: E402
from codekiln.sandbox import SANDBOX_UID  # noqa: E402
from codekiln.tasks.export.datasets import read_tasks  # noqa: E402

if TYPE_CHECKING:
    from codekiln.sandbox import StartTree


def task_dir(library: str) -> Path:
    if library == "toolz":
        from rollout_support import toolz_tasks

        return toolz_tasks()
    from audit_support import synth_markupsafe

    return synth_markupsafe()


def timed_open(task: object, env: object) -> float:
    start = time.perf_counter()
    with open_task_sandbox(task, env):  # type: ignore[arg-type]
        elapsed = time.perf_counter() - start
    return elapsed * 1000


def timed_tree(snapshot: Path, start: StartTree) -> float:
    from codekiln.sandbox.tasktree import task_tree

    begin = time.perf_counter()
    task_tree(snapshot, start, (SANDBOX_UID, SANDBOX_UID))
    return (time.perf_counter() - begin) * 1000


def bench_repo(source: str, n: int) -> dict[str, list[float]]:
    from codekiln.repos import add_repo
    from codekiln.sandbox import StartTree

    snapshot = Path(add_repo(source).path)
    files = sorted(str(p.relative_to(snapshot)) for p in snapshot.rglob("*.py") if ".git" not in p.parts)
    tests = [rel for rel in files if Path(rel).name.startswith("test_")] or files
    start = StartTree({files[0]: (snapshot / files[0]).read_bytes() + b"\n# changed\n", tests[-1]: None})
    runs: dict[str, list[float]] = {"first": [], "again": []}
    for _ in range(n):
        shutil.rmtree(home() / "tasktrees", ignore_errors=True)
        runs["first"].append(timed_tree(snapshot, start))
        runs["again"].append(timed_tree(snapshot, start))
    paths = sum(1 for p in snapshot.rglob("*") if ".git" not in p.parts)
    first, again = (statistics.median(runs[k]) for k in ("first", "again"))
    print(
        f"{source:<22} {paths:>5} paths  tree first {first:7.1f} ms   again {again:7.1f} ms  (median of {n})"
    )
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=5, help="runs per library (medians are printed)")
    ap.add_argument("--libraries", default="toolz,markupsafe")
    ap.add_argument("--repo", action="append", default=[], help="also time the tree alone on this snapshot")
    ap.add_argument("--json", type=Path, help="write the raw timings here")
    args = ap.parse_args()
    out: dict[str, dict[str, list[float]]] = {}
    for library in filter(None, args.libraries.split(",")):
        task = next(t for t in read_tasks(task_dir(library) / "tasks.jsonl") if t.hidden_tests)
        env = load_env(task.environment_id or "")
        files = sum(1 for p in Path(env.snapshot_path).rglob("*") if ".git" not in p.parts)
        timed_open(task, env)  # warm the process: imports, the manifests' read of the snapshot
        runs: dict[str, list[float]] = {"first": [], "again": []}
        for _ in range(args.n):
            shutil.rmtree(home() / "tasktrees", ignore_errors=True)
            runs["first"].append(timed_open(task, env))
            runs["again"].append(timed_open(task, env))
        out[library] = runs
        first, again = (statistics.median(runs[k]) for k in ("first", "again"))
        print(
            f"{library:<11} {files:>5} paths  first {first:7.1f} ms   again {again:7.1f} ms  (median of {args.n})"
        )
    for source in args.repo:
        out[source] = bench_repo(source, args.n)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
