"""Which tasks' tests give the twin check (`grading.twins`) something to change, and which tell a twin by
its own literals (the twenty-fifth red team): counted over a task set, no run made.

    .venv/bin/python bench/twin_shapes.py --tasks-file TASKS.jsonl [--snapshot DIR]

Per task: no twin file at all (no literal its FAIL_TO_PASS tests compare with: no twin, any answer read
from the tests goes unchecked); each FAIL_TO_PASS test the twin changes compares with a string of
letters or digits none of which is typed twice in a row (the twin types one twice, so a library reading
that test's answers tells the twin's text from the real one exactly: doubled-letter, twin formats 3-5;
format 6 replaces a letter or digit with no new pair, so these count the tasks that were exposed); some
such tests do;
numbers and bools only. Also the FAIL_TO_PASS tests the twin changes nothing in. The snapshot defaults
to each task's environment's. Whether the gold passes its twin (no kept twin either) needs a graded run
and is not counted here.
"""

from __future__ import annotations

import argparse
import ast
import itertools
from collections import Counter
from pathlib import Path

from codekiln.envs import load_env
from codekiln.grading import twins
from codekiln.grading.graded import read_snapshot
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord


def changed(source: str, test: str) -> list[object]:
    """The values of the literals the twin changes for `test` (a pytest id) in its file's `source`."""
    parts = test.partition("::")[2].split("::")
    path, name = tuple(parts[:-1]), parts[-1].split("[", 1)[0]
    tree = ast.parse(source)
    chosen: list[ast.Constant] = []
    names: set[str] = set()
    for f in (f for p, f in twins._functions(tree.body, ()) if (p, f.name) == (path, name)):
        for dec in f.decorator_list:
            chosen += twins._parametrized(dec)
        for node in (n for stmt in f.body for n in ast.walk(stmt)):
            chosen += twins._expected(node)
            names.add(node.id if isinstance(node, ast.Name) else getattr(node, "attr", ""))
    for value in twins._tables(tree.body, names):
        chosen += twins._table_leaves(value)
    return [c.value for c in chosen]


def undoubled(value: object) -> bool:
    """A string of letters or digits, none typed twice in a row: the twin's retyped one always is."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    return (
        isinstance(text, str)
        and any(c.isalnum() for c in text)
        and not any(a == b and a.isalnum() for a, b in itertools.pairwise(text))
    )


def shape(task: TaskRecord, snapshot: Path) -> tuple[str, int, int]:
    """(the task's shape, its FAIL_TO_PASS tests, those the twin changes nothing in)."""
    if not twins.twin_files(snapshot, list(task.FAIL_TO_PASS), seed=task.instance_id):
        return "no twin file", len(task.FAIL_TO_PASS), len(task.FAIL_TO_PASS)
    per = []
    for test in task.FAIL_TO_PASS:
        source = read_snapshot(snapshot, test.split("::", 1)[0])
        per.append(changed(source, test) if source is not None and "::" in test else [])
    tells = [any(undoubled(v) for v in values) for values in per if values]
    kind = "each changed test tells" if all(tells) else "some tell" if any(tells) else "numbers/bools only"
    return kind, len(per), sum(1 for values in per if not values)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks-file", type=Path, required=True)
    ap.add_argument("--snapshot", type=Path, help="the snapshot of every task (default: its environment's)")
    args = ap.parse_args()
    kinds: Counter[str] = Counter()
    tests = unchanged = 0
    for task in read_tasks(args.tasks_file):
        snapshot = args.snapshot or Path(load_env(task.environment_id or "").snapshot_path)
        kind, n, none = shape(task, snapshot)
        kinds[kind] += 1
        tests, unchanged = tests + n, unchanged + none
    total = sum(kinds.values())
    for kind in ("no twin file", "each changed test tells", "some tell", "numbers/bools only"):
        print(f"{kind:<26} {kinds[kind]:>4} of {total} tasks ({100 * kinds[kind] / max(total, 1):.0f}%)")
    print(f"FAIL_TO_PASS tests the twin changes nothing in: {unchanged} of {tests}")


if __name__ == "__main__":
    main()
