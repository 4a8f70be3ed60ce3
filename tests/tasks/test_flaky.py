"""Flakiness judged like a real rerun, on a small library built here and run in real bwrap sandboxes.

The library's suite is stable (doctests included) except for one planted test whose result depends on
the process: it compares a set's iteration order with the order recorded by the first run in its
sandbox, as a golden file written by another process would, so it passes only under that run's hash
seed. Reruns in one forked child share that seed and never see it fail; reruns in fresh processes
(`testexec.Job.fresh`, each with its own PYTHONHASHSEED and order) do. Doctests rerun in one child
used to fail with NameError (doctest clears a test's globals when it ends), which made every
candidate they select `flaky`.
"""

from __future__ import annotations

import hashlib
import marshal
import textwrap
from pathlib import Path

import pytest

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.envs import EnvRecord, build_env, env_sandbox
from codekiln.grading.guard_rewrites import REWRITES, rewrite_key
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.synth import SynthConfig, plan_candidates
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.tasks.validation.testexec import Job, WarmExecutor, fresh_run_plan
from codekiln.tasks.validation.validate import ValidateConfig, validate_candidates

MODULE = '''
def double(x):
    """Twice x.

    >>> double(2)
    4
    >>> [double(n) for n in range(3)]
    [0, 2, 4]
    """
    return x * 2


def colours():
    """The colours this library knows.

    >>> sorted(colours())[:2]
    ['black', 'blue']
    """
    return {"red", "green", "blue", "cyan", "magenta", "yellow", "black", "white", "grey", "pink"}
'''
TESTS = '''
import os
import tempfile

from flakylib import colours, double

GOLDEN = os.path.join(tempfile.gettempdir(), "codekiln-planted-golden-order")


def test_double():
    assert double(3) == 6


def test_colours_in_the_recorded_order():
    """Planted: passes only under the hash seed of the first process that ran it in this sandbox."""
    order = " ".join({"north", "south", "east", "west", "up", "down", "left", "right", "in", "out"})
    if not os.path.exists(GOLDEN):
        with open(GOLDEN, "w") as fh:
            fh.write(order)
    with open(GOLDEN) as fh:
        assert fh.read() == order, "a set's order differs from the recorded one"
    assert "red" in colours()
'''
PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "flakylib"
version = "0.1"
[tool.setuptools]
packages = ["flakylib"]
[tool.pytest.ini_options]
addopts = "--doctest-modules"
testpaths = ["flakylib", "tests"]
"""
MOD = "flakylib/__init__.py"
PLANTED = "tests/test_flaky.py::test_colours_in_the_recorded_order"
DOCTESTS = [f"{MOD}::flakylib.double", f"{MOD}::flakylib.colours"]


@pytest.fixture(scope="module")
def lib(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("flakylib") / "flakylib-src"
    for rel, text in {MOD: MODULE, "tests/test_flaky.py": TESTS, "pyproject.toml": PYPROJECT}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text))
    return root


@pytest.fixture(scope="module")
def env(lib: Path) -> EnvRecord:
    env = build_env(str(lib))
    assert all(env.baseline.get(t) == "passed" for t in [PLANTED, *DOCTESTS]), env.baseline
    return env


def _candidate(env: EnvRecord, entity: str, old: str, new: str) -> Candidate:
    text = (Path(env.snapshot_path) / MOD).read_text()
    assert old in text
    patch = make_diff(MOD, text, text.replace(old, new, 1))
    return Candidate(id=diff_hash(patch)[:16], patch=patch, mutators=["hand_made"], entities=[entity],
                     files=[MOD], seed=0)  # fmt: skip


def test_a_fresh_run_plan_gives_each_rerun_its_own_seed_and_order() -> None:
    tests = [f"t.py::test_{i}" for i in range(8)]
    plans = [fresh_run_plan(tests, n) for n in range(4)]
    seeds = [env["PYTHONHASHSEED"] for env, _ in plans]
    assert len(set(seeds)) == 4 and "0" not in seeds  # 0 would turn hash randomization off
    orders = [tuple(order) for _, order in plans]
    assert all(sorted(order) == sorted(tests) for order in orders)
    assert tuple(tests) not in orders and len(set(orders)) == 4
    assert fresh_run_plan(tests, 1) == plans[1]  # fixed: decisions are reproducible


@pytest.mark.root  # environments and validation in bwrap sandboxes
def test_doctests_and_the_planted_test_rerun_in_a_child_and_in_fresh_processes(env: EnvRecord) -> None:
    """In one child every doctest passes every rerun and the planted test never fails (one hash
    seed); fresh processes pass the doctests and fail the planted test. The fresh runs are given the
    test code the warm session rewrote at start-up (`grading.guard_rewrites`)."""
    tests = sorted(env.baseline)
    with env_sandbox(env) as sb:
        results = WarmExecutor(sb, env.test).run(
            [Job("child", tests, repeat=3), Job("fresh", tests, repeat=2, timeout=60, fresh=True)]
        )
        kept = marshal.loads(REWRITES.get(rewrite_key(str(sb.spec.venv), sb.workdir)) or b"")
    source = (Path(env.snapshot_path) / "tests/test_flaky.py").read_bytes()
    assert kept[f"{sb.workdir}/tests/test_flaky.py"][0] == hashlib.sha256(source).hexdigest()
    child, fresh = results["child"], results["fresh"]
    assert [r.statuses for r in child.runs] == [dict.fromkeys(tests, "passed")] * 3
    for run in fresh.runs:
        assert run.statuses == {**dict.fromkeys(tests, "passed"), PLANTED: "failed"}, run.statuses


@pytest.mark.root  # environments and validation in bwrap sandboxes
def test_stable_doctests_make_a_task_and_the_planted_test_is_caught(lib: Path, env: EnvRecord) -> None:
    entities, _, _ = plan_candidates(env, SynthConfig(spec=str(lib), out=Path("unused")))
    on_doctests = _candidate(env, f"{MOD}::double", "return x * 2", "return x + 2")
    on_planted = _candidate(env, f"{MOD}::colours", '{"red", ', '{"rouge", ')
    decisions = validate_candidates(
        env, coverage_map(env), entities, [on_doctests, on_planted], ValidateConfig(gate="fast")
    )
    task, planted = decisions
    assert isinstance(task, TaskRecord), task
    assert set(task.FAIL_TO_PASS) == {"tests/test_flaky.py::test_double", DOCTESTS[0]}
    assert isinstance(planted, RejectedCandidate) and planted.reason == RejectReason.flaky, planted
    assert planted.validation is not None and planted.validation.flaky == [PLANTED]
