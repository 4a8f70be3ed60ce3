"""Which of codekiln's data-mutator bugs in a library's module-level tables its own checks catch: its
pytest suite, and another check command of its own (#15: trove-classifiers checks its tables only with
`python -m tests.lib`, the step after `pytest` in its Makefile's `test` target).

    nice -n 10 .venv/bin/python bench/table_checks.py SRC VENV_PYTHON --seeds 30 -- python -m tests.lib

SRC: the library's unpacked sdist, installed editable in VENV (`VENV/bin/pip install -e SRC pytest`),
a git repository (`git init && git add -A && git commit`), since each bug is applied with `git apply`
and taken back. Candidates: every distinct one the data mutators (`Mutator.kinds` holding "data") make
for the data entities of SRC's package (`frontend.data`), one per entity and mutator for each seed
0..SEEDS-1. Per candidate: `python -m pytest -q -x` in SRC, whether the package still imports, and the
command after `--` (its `python` replaced by VENV_PYTHON), each judged by its exit status; the counts
per mutator and outcome are printed.
"""

from __future__ import annotations

import argparse
import subprocess
from collections import Counter
from pathlib import Path

from codekiln.tasks.frontend.candidates import generate_candidates
from codekiln.tasks.frontend.data import find_data_entities
from codekiln.tasks.frontend.mutators import load_mutators


def run(argv: list[str], cwd: Path, stdin: str | None = None) -> int:
    return subprocess.run(argv, cwd=cwd, input=stdin, text=True, capture_output=True).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path)
    parser.add_argument("python")
    parser.add_argument("--seeds", type=int, default=30)
    parser.add_argument(
        "--package", default="", help="the package's import name (default: its entities' top folder)"
    )
    parser.add_argument("check", nargs="+", help="the other check command, after --")
    args = parser.parse_args()
    check = [args.python if w == "python" else w for w in args.check]
    entities = [e for e in find_data_entities(args.src) if "test" not in e.file]
    package = args.package or Path(entities[0].file).parent.name
    mutators = [m for m in load_mutators() if "data" in m.kinds]
    candidates = {}
    for seed in range(args.seeds):
        for cand in generate_candidates(args.src, entities, mutators, seed=seed).candidates:
            candidates.setdefault(cand.id, cand)
    print(f"{len(candidates)} candidates in {', '.join(e.id for e in entities)}")
    counts: Counter[tuple[str, ...]] = Counter()
    for cand in candidates.values():
        if run(["git", "apply", "-"], args.src, cand.patch):
            counts[(",".join(cand.mutators), "patch failed")] += 1
            continue
        try:
            pytest = run([args.python, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"], args.src)
            imports = run([args.python, "-c", f"import {package}"], args.src)
            other = run(check, args.src)
        finally:
            subprocess.run(["git", "apply", "-R", "-"], cwd=args.src, input=cand.patch, text=True, check=True)
        counts[
            (
                ",".join(cand.mutators),
                "pytest fails" if pytest else "pytest passes",
                "import breaks" if imports else "imports",
                f"{' '.join(args.check)} fails" if other else f"{' '.join(args.check)} passes",
            )
        ] += 1
    for key, n in sorted(counts.items()):
        print(n, *key, sep="\t")


if __name__ == "__main__":
    main()
