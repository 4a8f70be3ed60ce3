"""Suites whose tests depend on the order the suite runs them in, graded in that order
(`grading.suite_order`): semver 3.2.0's `docs/**/*.rst` doctests pass only after a test under tests/ has
filled the session's `doctest_namespace`, and pass in its own run; the grader asked for a task's
FAIL_TO_PASS then its PASS_TO_PASS, and the gate's shared run for every id sorted, so they failed there.

The fixture library has two such shapes:
- `tests/test_scale.py`: `test_m_uses` passes only after either of the file's two other tests, which
  fill module state, ran (as semver's doctests pass after any test under tests/): so it passes in the
  validation engine's runs, sorted, reversed or shuffled. A bug in `scale` fails it (FAIL_TO_PASS) and
  leaves the other two passing (PASS_TO_PASS): asked for FAIL_TO_PASS first, the gold patch failed,
  and the gate's audit lost every task ("gold_failed").
- `tests/test_total.py`: `test_a_checks` passes only after `test_z_collects`, the first in the file,
  ran: asked for sorted, as the gate's shared run asks, the clean tree failed.
Both run in the suite's order now, by the grader and by the exported Harbor verifier."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from codekiln.envs import EnvRecord, build_env, load_env
from codekiln.grading import grade_patch
from codekiln.tasks.export.swebench_guard import row_files
from codekiln.tasks.records import RejectedCandidate, TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.gate import CleanTree

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

FILES = {
    "ordlib/__init__.py": '''
        def scale(values, factor):
            """Each value times `factor`."""
            out = []
            for value in values:
                out.append(value * factor)
            return out


        def total(values):
            result = 0
            for value in values:
                result += value
            return result
        ''',
    "tests/test_scale.py": """
        import ordlib

        SEEN = {}


        def prepare():
            try:
                SEEN["scaled"] = ordlib.scale([1, 2], 3)
            except Exception:
                SEEN["scaled"] = None


        def test_a_prepare():
            prepare()


        def test_m_uses():
            assert "scaled" in SEEN, "runs after a test that prepares"
            assert ordlib.scale([1, 2], 3) == [3, 6]
            assert ordlib.scale([4], 0) == [0]


        def test_z_prepare():
            prepare()
        """,
    "tests/test_total.py": """
        import ordlib

        TOTALS = []


        def test_z_collects():
            TOTALS.append(ordlib.total([1, 2, 3]))


        def test_a_checks():
            assert TOTALS == [6], "runs after test_z_collects in the suite"
        """,
    "pyproject.toml": """
        [build-system]
        requires = ["setuptools"]
        build-backend = "setuptools.build_meta"
        [project]
        name = "ordlib"
        version = "0.1"
        [tool.setuptools]
        packages = ["ordlib"]
        """,
}
PREPARE, USES = "tests/test_scale.py::test_a_prepare", "tests/test_scale.py::test_m_uses"
COLLECTS, CHECKS = "tests/test_total.py::test_z_collects", "tests/test_total.py::test_a_checks"


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("suite-order") / "ordlib"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(textwrap.dedent(text).lstrip())
    return root


@pytest.fixture(scope="module")
def synthesized(library: Path) -> tuple[list[TaskRecord], EnvRecord]:
    config = SynthConfig(
        spec=str(library), out=library.parent / "out", max_tasks=2, workers=1, functions=["scale"]
    )
    result = synthesize(config)
    decisions = list(read_decisions(result.out))
    tasks = [d for d in decisions if isinstance(d, TaskRecord)]
    assert tasks, [(d.reason, d.detail) for d in decisions if isinstance(d, RejectedCandidate)]
    return tasks, load_env(tasks[0].environment_id or "")


def test_the_baseline_ran_each_pair_in_the_files_order(library: Path) -> None:
    env = build_env(str(library))
    order = list(env.baseline)
    assert order.index(PREPARE) < order.index(USES) and order.index(COLLECTS) < order.index(CHECKS)
    assert {env.baseline[t] for t in (PREPARE, USES, COLLECTS, CHECKS)} == {"passed"}


def test_the_gold_patch_of_a_task_graded_fail_to_pass_first_resolves(
    synthesized: tuple[list[TaskRecord], EnvRecord],
) -> None:
    tasks, env = synthesized
    for task in tasks:
        assert USES in task.FAIL_TO_PASS and PREPARE in task.PASS_TO_PASS, task.tests
        gold = grade_patch(task, env, task.patch)
        assert gold.outcome == "resolved", (gold.detail, gold.statuses)
        empty = grade_patch(task, env, "")
        assert (empty.outcome, empty.statuses[USES]) == ("unresolved", "failed")


def test_the_clean_tree_graded_with_its_ids_sorted_resolves(library: Path) -> None:
    """As the gate's shared run asks for a batch's tests (sorted)."""
    env = build_env(str(library))  # built once: later builds of the same tree load it
    passing = sorted(t for t, status in env.baseline.items() if status == "passed")
    result = grade_patch(CleanTree("ordlib.clean", passing), env, "")
    assert (result.outcome, result.statuses[CHECKS]) == ("resolved", "passed"), result.detail


def test_exports_carry_the_suites_order(synthesized: tuple[list[TaskRecord], EnvRecord]) -> None:
    """The Harbor verifier's and the SWE-bench row's `task.json` (one settings function): the graded
    ids in the order the verifier asks for them."""
    tasks, env = synthesized
    settings = json.loads(row_files(tasks[0], env, "0" * 40, {})["task.json"])  # no manifest: task.json only
    assert settings["order"].index(PREPARE) < settings["order"].index(USES)
    assert sorted(settings["order"]) == sorted(settings["tests"])


def test_the_exported_verifier_resolves_the_gold_patch(
    synthesized: tuple[list[TaskRecord], EnvRecord], tmp_path: Path
) -> None:
    """The exported Harbor task's `tests/test.sh` on its starting tree, in a bwrap sandbox of the
    environment (no image): the gold gets 1, the starting tree 0, the test that needs the other's
    preparation failing by the bug, not by the order."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "audit"))
    from audit_support import harbor_verdict

    tasks, env = synthesized
    got, grade = harbor_verdict(tasks[0], env, tasks[0].patch, tmp_path / "gold")
    assert got == "1", grade
    got, grade = harbor_verdict(tasks[0], env, "", tmp_path / "empty")
    assert (got, grade["statuses"].get(USES)) == ("0", "failed"), grade


@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_suite_order_tasks.py::test_the_exported_verifier_resolves_the_gold_patch (the same "
    "tests/test.sh on the same tree, in bwrap); test_harbor.py's trials run test.sh in the image"
)
def test_the_harbor_verifier_resolves_the_gold_patch(
    synthesized: tuple[list[TaskRecord], EnvRecord], tmp_path: Path
) -> None:
    import harbor_support as hs

    if (problem := hs.podman_problem()) is not None:
        pytest.skip(f"podman cannot run: {problem}")
    task = synthesized[0][0]
    with hs.trials(tmp_path) as harbor:
        got, grade = harbor.oracle(task)
        assert got == "1", grade
        got, grade = harbor.run(task, "true")
        assert (got, grade["statuses"].get(USES)) == ("0", "failed"), grade
