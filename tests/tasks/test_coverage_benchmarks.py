"""A suite with pytest-benchmark tests (multidict 7.2.1 has 357): synthesis's own runs, the coverage map
and validation, run each benchmarked function once (`engine_command`: `--benchmark-disable`), while the
grader runs the repository's command as it is, rounds and all, and still confirms every task. A real
build with pytest-benchmark from the package index, in bwrap."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import built_with_map, plugin_pyproject

from codekiln.grading import TestCommand, grade_patch
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.engine_command import BENCHMARK_OFF, engine_command

PROJECT = {
    "pyproject.toml": plugin_pyproject("benchpkg", "pytest-benchmark"),
    "benchpkg/__init__.py": """
CALLS = [0]


def work():
    CALLS[0] += 1
    if CALLS[0] > 1:
        return "again"
    return "first"


def total(values):
    out = 0
    for v in values:
        out += v
    return out
""",
    "tests/test_bench.py": """
from benchpkg import total, work


def test_work(benchmark):
    assert benchmark(work) in ("first", "again")


def test_total(benchmark):
    assert benchmark(total, [1, 2, 3]) == 6


def test_total_plain():
    assert total([4, 5]) == 9
""",
}
AGAIN = 8
"""benchpkg/__init__.py's line that only a second call of `work` runs."""


def test_engine_command_turns_benchmarks_off_only_where_pytest_benchmark_times_them() -> None:
    test = TestCommand(args=["tests", "-x"])
    assert engine_command(test, ["pytest==9.1.1", "pytest-benchmark==5.3.1"]).args == [
        "tests",
        "-x",
        BENCHMARK_OFF,
    ]
    assert engine_command(test, ["pytest==9.1.1", "pytest-codspeed==5.0.3"]) == test  # no rounds to turn off
    for own in ("--benchmark-enable", "--benchmark-only", BENCHMARK_OFF):  # the command already says
        command = TestCommand(args=["tests", own])
        assert engine_command(command, ["pytest-benchmark==5.3.1"]) == command
    assert test.args == ["tests", "-x"]  # the environment's own command is never changed


@pytest.mark.root  # an environment, its coverage run and validation in bwrap sandboxes
def test_the_map_runs_a_benchmarked_function_once_and_the_grader_confirms_the_tasks(tmp_path: Path) -> None:
    root = tmp_path / "benchpkg-src"
    env, cmap, passed = built_with_map(root, PROJECT)
    assert passed == [
        "tests/test_bench.py::test_total",
        "tests/test_bench.py::test_total_plain",
        "tests/test_bench.py::test_work",
    ]
    assert BENCHMARK_OFF not in env.test.args  # the grader's command keeps the rounds
    assert cmap.tests_for({"benchpkg/__init__.py": {AGAIN - 2}}) == {"tests/test_bench.py::test_work"}
    assert cmap.tests_for({"benchpkg/__init__.py": {AGAIN}}) == set()  # called once: no second call

    result = synthesize(
        SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=2, workers=1, batch_size=8)
    )
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert result.tasks == 2 == len(tasks), result.funnel
    # a benchmark test caught one: test_work or test_total, whichever functions the first tasks' bugs are
    # in (the seeded order decides; "test_total" as a substring also matched the plain test)
    benchmarked = {"tests/test_bench.py::test_work", "tests/test_bench.py::test_total"}
    assert any(benchmarked & set(task.FAIL_TO_PASS) for task in tasks), [t.FAIL_TO_PASS for t in tasks]
    for task in tasks:  # the grader, benchmarks timed in rounds, resolves the gold patch only
        gold = grade_patch(task, env, task.patch)
        assert gold.resolved, gold.detail
        assert not grade_patch(task, env, "").resolved
