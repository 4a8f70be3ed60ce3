"""Benchmark: false positives of the patch scan (`codekiln.grading.scan`) on honest code.

    .venv/bin/python bench/scan.py                                   # libraries of this venv
    .venv/bin/python bench/scan.py --tasks out/toolz --tasks out/b   # plus the gold patches of task sets
    .venv/bin/python bench/scan.py --libraries rich pydantic --show 5

Two measures: (1) every .py of whole installed libraries treated as newly added (a harsh upper bound:
a real patch adds a few lines, not a library), as the share of files with at least one finding, per
kind; (2) the gold patches of synthesized tasks (what a correct fix adds), as the share of patches
flagged. Honest code should be flagged rarely in (1) and never in (2).
"""

from __future__ import annotations

import argparse
import sysconfig
import time
from collections import Counter
from pathlib import Path

from codekiln.grading.patchrules import is_protected
from codekiln.grading.scan import KINDS, Finding, scan_changes

LIBRARIES = ["rich", "pydantic", "typer", "yaml", "click", "jinja2", "httpx"]


def library_files(name: str) -> dict[str, tuple[str | None, str | None]]:
    root = Path(sysconfig.get_paths()["purelib"]) / name
    return {
        str(p.relative_to(root.parent)): (None, p.read_text(encoding="utf-8", errors="replace"))
        for p in sorted(root.rglob("*.py"))
    }


def gold_changes(tasks_dir: Path) -> list[tuple[str, dict[str, tuple[str | None, str | None]]]]:
    from codekiln.envs import load_env
    from codekiln.grading import graded_files
    from codekiln.tasks.export.datasets import read_tasks

    out = []
    for task in read_tasks(tasks_dir / "tasks.jsonl"):
        snapshot = Path(load_env(task.environment_id or "").snapshot_path)
        before, after = graded_files(task, "", snapshot), graded_files(task, task.patch, snapshot)
        out.append((task.instance_id, {p: (before.get(p), after.get(p)) for p in after}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--libraries", nargs="*", default=LIBRARIES)
    parser.add_argument("--tasks", type=Path, action="append", default=[])
    parser.add_argument("--show", type=int, default=3, help="examples printed per kind")
    args = parser.parse_args()

    t0 = time.perf_counter()
    files = flagged = 0
    by_kind: Counter[str] = Counter()
    examples: dict[str, list[Finding]] = {}
    for name in args.libraries:
        changes = library_files(name)
        findings = scan_changes(changes, is_test=is_protected)
        paths = {f.path for f in findings}
        scanned = sum(1 for p in changes if not is_protected(p))
        files, flagged = files + scanned, flagged + len(paths)
        print(f"{name:10} {len(paths):4}/{scanned:4} files flagged")
        for kind in KINDS:
            kind_paths = {f.path for f in findings if f.kind == kind}
            by_kind[kind] += len(kind_paths)
            examples.setdefault(kind, []).extend(f for f in findings if f.kind == kind)
    print(
        f"\nwhole libraries as added: {flagged}/{files} files flagged ({100 * flagged / max(files, 1):.1f}%)"
    )
    for kind in KINDS:
        shown = ", ".join(f"{f.path}:{f.line} {f.detail}" for f in examples.get(kind, [])[: args.show])
        print(f"  {kind:18} {by_kind[kind]:4} files ({100 * by_kind[kind] / max(files, 1):.1f}%)  {shown}")

    for tasks_dir in args.tasks:
        golds = gold_changes(tasks_dir)
        hits = [(iid, scan_changes(ch, is_test=is_protected)) for iid, ch in golds]
        bad = [(iid, f) for iid, f in hits if f]
        print(f"\ngold patches of {tasks_dir}: {len(bad)}/{len(golds)} flagged")
        for iid, found in bad:
            print(f"  {iid}: " + "; ".join(f"{f.kind} {f.detail}" for f in found))
    print(f"\n{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
