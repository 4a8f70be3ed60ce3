"""The eleventh red team: the data hidden tests read. A library whose tests take their cases and
expected values from `testdata/cases.json`, a folder no rule protected by name: a patch that rewrote the
expected values to the buggy results (or emptied the cases) and fixed nothing scored resolved, through
both paths and from an exported Harbor task's verifier. Now a changed file that is not Python source
and that the task's fix leaves alone is put back as in the snapshot (`pathrules.is_data`), by the
grader and by the verifier. Real synthesized tasks, real bwrap sandboxes, the real grader."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

import harbor_support as hs
from rollout_support import library_tasks, setuptools_pyproject
from tiering import paths

from codekiln.audit import ATTACKS
from codekiln.audit.grader import play_commands, run_attack
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.pathrules import DATA, is_data
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0
CASES = "testdata/cases.json"
LIBRARY = {
    "datalib/__init__.py": (
        "def scale(values, factor):\n    out = []\n    for v in values:\n        out.append(v * factor)\n"
        "    return out\n\n\ndef total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n"
    ),
    "tests/test_data.py": (
        "import json\nfrom pathlib import Path\n\nfrom datalib import scale, total\n\n"
        'CASES = json.loads((Path(__file__).resolve().parents[1] / "testdata" / "cases.json").read_text())\n\n\n'
        'def test_scale():\n    for case in CASES["scale"]:\n'
        '        assert scale(case["values"], case["factor"]) == case["expected"]\n\n\n'
        'def test_total():\n    for case in CASES["total"]:\n        assert total(case["values"]) == case["expected"]\n'
    ),
    CASES: json.dumps(
        {
            "scale": [{"values": [1, 2, 3], "factor": 2, "expected": [2, 4, 6]}],
            "total": [{"values": [1, 2, 3], "expected": 6}, {"values": [], "expected": 0}],
        }
    ),
    "pyproject.toml": setuptools_pyproject("datalib"),
}


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    found = library_tasks(LIBRARY, "data-library", "audit-tasks-datalib", 4)
    assert found, "no task synthesized from the data library"
    return found


def _buggy_expected(task: TaskRecord, env: EnvRecord) -> str:
    """The prediction first found: the cases' expected values computed by the buggy code."""
    target = Target.of(task, Path(env.snapshot_path))
    namespace: dict[str, object] = {}
    exec(compile(target.text("datalib/__init__.py") or "", "datalib/__init__.py", "exec"), namespace)
    cases = json.loads(target.text(CASES) or "")
    for case in cases["scale"]:
        case["expected"] = namespace["scale"](case["values"], case["factor"])  # type: ignore[operator]
    for case in cases["total"]:
        case["expected"] = namespace["total"](case["values"])  # type: ignore[operator]
    return target.new(CASES, json.dumps(cases))


def test_the_gold_patch_resolves_and_the_buggy_expected_values_do_not(
    tasks: list[tuple[TaskRecord, EnvRecord]],
) -> None:
    for task, env in tasks:
        gold = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert gold.outcome == "resolved", (task.instance_id, gold.outcome, gold.detail)
        grade = grade_patch(task, env, _buggy_expected(task, env), timeout=TIMEOUT)
        assert grade.outcome == "unresolved", (
            task.instance_id,
            grade.outcome,
            grade.statuses,
        )  # was resolved
        assert {"kind": "reverted", "path": CASES, "detail": DATA} in grade.findings


@pytest.mark.parametrize("path", paths("test_redteam11_data.py", "test_emptied_cases_are_put_back"))
def test_emptied_cases_are_put_back(tasks: list[tuple[TaskRecord, EnvRecord]], path: str) -> None:
    attack = next(a for a in ATTACKS if a.name == "testdata-emptied")
    task, env = tasks[0]
    if path == "agent":
        patch = play_commands(task, env, [apply_command(task.patch)], backend=DEFAULT_BACKEND)
        assert grade_patch(task, env, patch, timeout=TIMEOUT).outcome == "resolved"
    result, grade = run_attack(attack, task, env, path, timeout=TIMEOUT)  # type: ignore[arg-type]
    assert (result.resolved, grade.outcome) == (False, "unresolved"), (grade.outcome, grade.detail)


@pytest.mark.slow(
    covered_by="test_redteam11_pydata.py::test_the_exported_verifier_puts_the_python_data_back (the verifier "
    "puts back what the export lists by `pathrules.is_data`); test_redteam11_data.py::test_what_counts_as_data "
    "and test_redteam11_data.py::test_emptied_cases_are_put_back (the rule on JSON cases)"
)
@pytest.mark.podman
def test_the_harbor_verifier_puts_the_data_back(
    tasks: list[tuple[TaskRecord, EnvRecord]], harbor: hs.Trials
) -> None:
    task, env = tasks[0]
    reward, grade = harbor.run(task, hs.applying(_buggy_expected(task, env)))
    assert (harbor.oracle(task)[0], reward, grade["outcome"]) == ("1", "0", "unresolved"), grade
    assert {"kind": "reverted", "path": CASES, "detail": DATA} in grade["findings"]


def test_what_counts_as_data() -> None:
    fixed, areas = {"pkg/mod.py", "pkg/table.json"}, {"pkg"}
    for rel in ("testdata/cases.json", "README.rst", "bin/tool", "pkg/other.json"):
        assert is_data(rel, fixed, areas) == DATA, rel
    assert is_data("pkg/table.json", fixed, areas) is None  # the fix itself changes it (a mined change may)
    assert is_data("pkg/other.py", fixed, areas) is None
    assert is_data("pkg/new_module.py", fixed, areas, existed=False) is None


def test_swebench_rows_reset_the_data_too(tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path) -> None:
    """swebench's own harness steps on the exported row (its eval script, log parser and report): the
    buggy expected values resolved there too (the eval script reset the hidden test files only); the
    gold still resolves."""
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    task, env = tasks[0]
    gold, attack = run_row(
        task, env, {"gold": task.patch, "attack": _buggy_expected(task, env)}, tmp_path
    ).values()
    assert gold["patch_successfully_applied"] and attack["patch_successfully_applied"]
    assert (gold["resolved"], attack["resolved"]) == (True, False), attack["tests_status"]
