"""The baselines `bench/synth.py` measures codekiln's synthesis against: a naive fresh copy and full suite
per candidate, and mutmut given the files codekiln's candidates change."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from synth import Clock

WORK = Path(tempfile.gettempdir()) / "codekiln-bench-synth"
MUTMUT = "mutmut==3.8.1"


def mutated_files(candidates) -> list[str]:  # type: ignore[no-untyped-def]
    """The files the candidates change, from their patches' headers."""
    files = set()
    for cand in candidates:
        for line in cand.patch.splitlines():
            if line.startswith("+++ b/"):
                files.add(line[6:].strip())
    return sorted(files)


def run_naive(env, candidates, timeout: float) -> list[dict[str, object]]:  # type: ignore[no-untyped-def]
    """Fresh copy + full suite per candidate, outside any sandbox."""
    from codekiln.grading import parse_junit

    python = str(Path(env.venv) / "bin" / "python")
    passing = {t for t, s in env.baseline.items() if s == "passed"}
    rows = []
    for cand in candidates:
        with tempfile.TemporaryDirectory(prefix="naive-", dir=WORK) as tmp:
            copy = Path(tmp) / "repo"
            subprocess.run(["cp", "-a", env.snapshot_path, str(copy)], check=True)
            applied = subprocess.run(
                ["git", "apply", "-"], input=cand.patch, text=True, cwd=copy, capture_output=True
            )
            junit = Path(tmp) / "junit.xml"
            argv = [
                python,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-q",
                "-o",
                "junit_family=xunit1",
                "--junitxml",
                str(junit),
                *env.test.args,
            ]
            try:
                subprocess.run(
                    argv,
                    cwd=copy,
                    capture_output=True,
                    timeout=timeout,
                    env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
                )
                statuses = parse_junit(junit.read_bytes()).statuses if junit.is_file() else {}
                kept = applied.returncode == 0 and any(statuses.get(t) != "passed" for t in passing)
                rows.append({"id": cand.id, "kept": kept, "timeout": False})
            except subprocess.TimeoutExpired:
                rows.append({"id": cand.id, "kept": False, "timeout": True})
    return rows


def run_mutmut(env, workers: int, clock: Clock, files: list[str]) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """Set mutmut up on a copy of the snapshot (not timed), then time `mutmut run`, mutating exactly
    `files` (the ones codekiln's candidates change)."""
    venv = WORK / "mutmut-venv"
    if not (venv / "bin" / "mutmut").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", MUTMUT, "pytest"], check=True)
    repo = WORK / "toolz-mutmut"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(env.snapshot_path, repo, ignore=shutil.ignore_patterns(".git"))
    pyproject = repo / "pyproject.toml"
    others = sorted(
        str(p.relative_to(repo))
        for p in (repo / "toolz").rglob("*.py")
        if str(p.relative_to(repo)) not in files
    )
    pyproject.write_text(
        pyproject.read_text()
        + '\n[tool.mutmut]\nsource_paths = ["toolz/"]\n'
        + f"do_not_mutate = {json.dumps([*others, 'toolz/tests/*'])}\n"
        # mutmut's trampolines add names (MutantDict, ...) to the modules it mutates; toolz's
        # test_curried_namespace lists toolz's names and fails on them before any mutant runs
        + 'pytest_add_cli_args_test_selection = ["toolz/tests", "--deselect", '
        + '"toolz/tests/test_curried.py::test_curried_namespace"]\n'
    )
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "-e", str(repo)], check=True)
    argv = [str(venv / "bin" / "mutmut"), "run", "--max-children", str(workers)]
    res, cpu, wall = clock.measure(subprocess.run, argv, cwd=repo, capture_output=True, text=True)
    results = subprocess.run(
        [str(venv / "bin" / "mutmut"), "results", "--all", "true"], cwd=repo, capture_output=True, text=True
    )
    statuses = Counter(line.rsplit(":", 1)[-1].strip() for line in results.stdout.splitlines() if ":" in line)
    if set(statuses) <= {"not checked"}:
        raise SystemExit(
            f"mutmut checked no mutant (exit {res.returncode}): {res.stdout[-2000:]}{res.stderr[-2000:]}"
        )
    return {
        "exit_code": res.returncode,
        "cpu_s": cpu,
        "wall_s": wall,
        "mutants": sum(statuses.values()),
        "statuses": dict(statuses),
    }
