"""Parametrized cases whose ids hold an object's memory address (`<Thing object at 0x7f..>`): the id
the baseline recorded names no test in the next process, and one such id made pytest refuse the whole
run (annotated-types 0.8.0: 53 of 62 candidates came back `infra_error`). The runner asks for their
function and reads each case back by its blanked id. A real environment, built and run in bwrap."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from codekiln.envs import EnvRecord, build_env, env_sandbox
from codekiln.grading import run_tests
from codekiln.grading.unstable_ids import as_recorded, blank, function_id, is_unstable, read_back
from codekiln.testing.git import write_files

PYPROJECT = """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "things"
version = "0.1"
[project.optional-dependencies]
test = ["pytest"]
[tool.setuptools]
packages = ["things"]
"""
TESTS = """import pytest

from things import Thing, check


@pytest.mark.parametrize("thing, ok", [(Thing(1), True), (Thing(-1), False), (3, True)], ids=repr)
def test_check(thing, ok):
    assert check(thing) == ok


def test_plain():
    assert check(5)
"""


def _things(tmp_path: Path) -> tuple[Path, EnvRecord]:
    """The fixture library, built: two of its cases are named by an address."""
    root = write_files(
        tmp_path / "things-src",
        {
            "pyproject.toml": PYPROJECT,
            "things/__init__.py": "class Thing:\n    def __init__(self, n):\n        self.n = n\n\n\n"
            "def check(x):\n    return getattr(x, 'n', x) > 0\n",
            "tests/test_things.py": TESTS,
        },
    )
    return root, build_env(str(root))


def test_the_pure_rules() -> None:
    case = "tests/test_a.py::T::test_x[<a.Thing object at 0x7f07f969cf50>-1]"
    assert is_unstable(case) and not is_unstable("tests/test_a.py::test_x[0xdeadbeef]")
    assert function_id(case) == "tests/test_a.py::T::test_x" and function_id("t.py::test_y") == "t.py::test_y"
    assert blank(case) == "tests/test_a.py::T::test_x[<a.Thing object at 0x?>-1]"
    other = case.replace("0x7f07f969cf50", "0x7f0000000010")
    statuses = {other: "failed", "tests/test_a.py::T::test_x[2]": "passed", "t.py::test_y": "passed"}
    out, messages = read_back(statuses, {other: "boom"}, [case], {"t.py::test_y"})
    assert out == {case: "failed", "t.py::test_y": "passed"} and messages == {case: "boom"}
    assert as_recorded([other, "t.py::test_y", "t.py::new"], [case, "t.py::test_y"]) == {
        other: case,
        "t.py::test_y": "t.py::test_y",
        "t.py::new": "t.py::new",
    }


def test_a_case_the_library_renamed_counts_against_its_functions_requested_cases() -> None:
    """A case of an asked function whose id blanks to no requested id was renamed by the code
    under test (its objects' `repr`): it may be any requested case of that function, so each reads
    its status too. A case that failed on the clean tree too (not graded) stays out."""
    bad = "t.py::test_x[<a.Bad object at 0x7f0000000010>]"
    good = "t.py::test_x[<a.Good object at 0x7f0000000020>]"
    before = {"t.py::test_x[7]": "failed"}
    decoy = {good: "passed", bad.replace("Bad", "Good").replace("10>", "30>"): "passed"}
    renamed = {
        **decoy,
        "t.py::test_x[Bad()]": "failed",
        "t.py::test_x[7]": "failed",
        "t.py::test_y": "passed",
    }
    out, _ = read_back(renamed, {}, [bad, good], {"t.py::test_y"}, before)
    assert out == {bad: "failed", good: "failed", "t.py::test_y": "passed"}
    named = {"t.py::test_x[Bad()]": "passed", "t.py::test_x[Good()]": "passed", "t.py::test_x[7]": "failed"}
    out, _ = read_back(named, {}, [bad, good], set(), before)
    assert out == {bad: "passed", good: "passed"}  # an honest rename of every case
    out, _ = read_back({"t.py::test_x[7]": "failed"}, {}, [bad], set(), before)
    assert out == {}  # nothing ran in its place: missing, hence failed


def test_an_id_that_failed_on_the_clean_tree_holds_as_many_failing_cases_as_it_did() -> None:
    """A case that failed on the clean tree (not graded) is no renamed one, once per case it had: a
    failing case renamed into its id, beside it or in place of one that now passes, is one more."""
    bad = "t.py::test_x[<a.Bad object at 0x7f0000000010>]"
    good = "t.py::test_x[<a.Good object at 0x7f0000000020>]"
    odd = "t.py::test_x[<a.Odd object at 0x7f0000000030>]"
    before = {bad: "failed", good: "passed", odd: "failed", "t.py::test_y": "passed"}

    def at(test_id: str, address: str) -> str:  # the same case in another process
        return re.sub("0x[0-9a-f]+", address, test_id)

    honest = {at(good, "0x7f00000000a0"): "passed", at(bad, "0x7f00000000b0"): "passed"}
    out, _ = read_back({**honest, at(odd, "0x7f00000000c0"): "failed"}, {}, [bad, good], set(), before)
    assert out == {bad: "passed", good: "passed"}
    hidden = {at(odd, "0x7f00000000c0"): "failed", at(odd, "0x7f00000000d0"): "failed"}  # Bad named Odd
    out, _ = read_back({**honest, **hidden}, {}, [bad, good], set(), before)
    assert out == {bad: "failed", good: "failed"}  # was passed: the clean tree's failure excused both
    in_place = {at(odd, "0x7f00000000c0"): "passed", at(odd, "0x7f00000000d0"): "failed"}
    out, _ = read_back({**honest, **in_place}, {}, [bad, good], set(), before)
    assert out == {bad: "failed", good: "failed"}  # Odd made to pass, Bad named as it was
    out, _ = read_back({**honest, at(odd, "0x7f00000000c0"): "failed"}, {}, [bad, good], set(), None)
    assert out == {bad: "failed", good: "failed"}  # no baseline (an old export): counted, as before


@pytest.mark.root  # an environment built and run in bwrap sandboxes
def test_cases_named_by_an_address_rerun_by_their_recorded_ids(tmp_path: Path) -> None:
    _, env = _things(tmp_path)
    recorded = sorted(env.baseline)
    unstable = [t for t in recorded if is_unstable(t)]
    assert len(unstable) == 2 and len(recorded) == 4, recorded
    with env_sandbox(env) as sb:
        run = run_tests(sb, env.test, recorded, timeout=300)
        assert run.error is None and not run.missing, run.log_tail
        assert run.statuses == {t: "passed" for t in recorded}
        one = run_tests(sb, env.test, [unstable[1], "tests/test_things.py::test_plain"], timeout=300)
        # in the suite's order (`grading.suite_order`): each case asked for by its function where it stands
        ordered = run_tests(sb, env.test, recorded[::-1], timeout=300, order=list(env.baseline))
    assert ordered.error is None and not ordered.missing and not ordered.evidence, ordered.log_tail
    assert ordered.statuses == {t: "passed" for t in recorded}
    assert one.error is None and not one.missing and not one.evidence, one.log_tail
    assert one.statuses == {unstable[1]: "passed", "tests/test_things.py::test_plain": "passed"}


def test_the_runner_in_the_sandbox_reads_addresses_as_the_grader_does() -> None:
    from codekiln.grading import unstable_ids
    from codekiln.tasks.in_sandbox import codekiln_reports

    assert codekiln_reports.ADDRESS.pattern == unstable_ids.ADDRESS.pattern
    case = "tests/test_a.py::test_x[<a.Thing object at 0x7f07f969cf50>-True]"
    assert codekiln_reports.selectable(case) == unstable_ids.function_id(case) == "tests/test_a.py::test_x"
    assert codekiln_reports.selectable("t.py::test_y[0xdeadbeef]") == "t.py::test_y[0xdeadbeef]"


@pytest.mark.root  # synthesis in bwrap sandboxes
def test_synthesis_validates_bugs_whose_tests_are_named_by_addresses(tmp_path: Path) -> None:
    from codekiln.tasks.synth import SynthConfig, plan_candidates
    from codekiln.tasks.validation.coverage_map import coverage_map
    from codekiln.tasks.validation.validate import validate_candidates

    root, env = _things(tmp_path)
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=str(root), out=tmp_path / "out"))
    decisions = validate_candidates(env, coverage_map(env), entities, candidates)
    reasons = {getattr(d, "reason", "task") for d in decisions}
    assert not reasons & {"infra_error", "flaky"}, [getattr(d, "detail", "") for d in decisions]
    tasks = [d for d in decisions if not hasattr(d, "reason")]
    assert any(is_unstable(t) for task in tasks for t in task.FAIL_TO_PASS), reasons
