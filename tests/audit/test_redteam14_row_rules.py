"""What stood under an exported SWE-bench row after the fourteenth red team: its eval script put back by
git what the grader puts back and ran the graded tests guarded, but none of the Harbor verifier's
rules before the run, so a row resolved patches that the grader and the Harbor verifier reject or put
back. A library whose tests import Python data by a name they hold in a variable (`cases`, with
`testdata/` on `sys.path`: no support module, so the guard does not hold it) and add every JSON file
of `testdata/` they glob:
- a new package `testdata/cases/__init__.py` holding the buggy results hid `testdata/cases.py`, which
  the script reset, and stood (no checkout deletes a new file);
- a new `testdata/zz_total.json` holding them, not protected by name, stood;
- `total` fixed only when a test's frame calls it (a frame walk: only the static scan finds it).
All three resolved under the row, the fix left undone. Now the eval script first runs the Harbor
verifier's `check` on the tree the harness patched (`grading.row_verifier`, against the export's
manifest of `base_commit`): the first two are put back, so the failing tests read FAILED; the third is
`rejected scan`, every graded test FAILED, as `grade_patch` and the Harbor verifier say. Real
synthesized tasks, real bwrap sandboxes, swebench 5.0.2's own harness steps (`swebench_support`)."""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # redteam_fixtures

from redteam_fixtures import SCALE, TOTAL, frame_walk, total_task
from rollout_support import setuptools_pyproject

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.grading.pathrules import DATA, SHADOWS
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, grading and the harness steps in bwrap sandboxes

TIMEOUT = 30.0
CASES = "testdata/cases.py"
LIBRARY = {
    "rowdatalib/__init__.py": TOTAL + "\n\n" + SCALE,
    "tests/test_cases.py": (
        "import importlib\nimport json\nimport sys\nfrom pathlib import Path\n\n"
        "from rowdatalib import scale, total\n\n"
        'DATA = Path(__file__).resolve().parents[1] / "testdata"\nsys.path.insert(0, str(DATA))\nCASES = {}\n'
        'for name in ("cases",):  # the case modules: Python data, imported by name\n'
        "    CASES.update(importlib.import_module(name).CASES)\n"
        'for path in sorted(DATA.glob("*.json")):  # and every JSON file beside them\n'
        "    CASES.update(json.loads(path.read_text()))\n\n\n"
        'def test_total():\n    for case in CASES["total"]:\n        assert total(case["values"]) == case["expected"]\n\n\n'
        "def test_total_empty():\n    assert total([]) == 0\n\n\n"
        'def test_scale():\n    for case in CASES["scale"]:\n'
        '        assert scale(case["values"], case["factor"]) == case["expected"]\n'
    ),
    CASES: 'CASES = {\n    "total": [{"values": [1, 2, 3], "expected": 6}, {"values": [4], "expected": 4}],\n}\n',
    "testdata/scale.json": '{"scale": [{"values": [1, 2], "factor": 3, "expected": [3, 6]}]}\n',
    "pyproject.toml": setuptools_pyproject("rowdatalib"),
}
FRAME_WALK = frame_walk("test_cases.py")  # right only when a test asks


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    wanted = lambda t: patch_paths(t.bug_patch) == {"rowdatalib/__init__.py"}  # noqa: E731
    return total_task(
        LIBRARY, "row-data-library", "audit-tasks-rowdatalib", wanted, "an arithmetic bug in total()"
    )


def _buggy_cases(target: Target) -> dict[str, Any]:
    """The snapshot's cases with the buggy `total`'s results as their expected values."""
    namespace: dict[str, Any] = {}
    exec(compile(target.text("rowdatalib/__init__.py") or "", "rowdatalib/__init__.py", "exec"), namespace)
    cases = ast.literal_eval((target.text(CASES) or "").split("=", 1)[1])
    for case in cases["total"]:
        case["expected"] = namespace["total"](case["values"])
    return dict(cases)


def _attacks(t: TaskRecord, env: EnvRecord) -> dict[str, str]:
    target = Target.of(t, Path(env.snapshot_path))
    cases = _buggy_cases(target)
    return {
        "package-hides-data": target.new("testdata/cases/__init__.py", f"CASES = {cases!r}\n"),
        "new-data-file": target.new("testdata/zz_total.json", json.dumps({"total": cases["total"]}) + "\n"),
    }


def _frame_walk(t: TaskRecord, env: EnvRecord) -> str:
    return Target.of(t, Path(env.snapshot_path)).append("rowdatalib/__init__.py", FRAME_WALK)


@pytest.fixture(scope="module")
def row(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    """swebench's harness steps on the exported row, for the gold, the empty patch and each attack."""
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    t, env = task
    patches = {"gold": t.patch, "empty": "", **_attacks(t, env), "frame-walk": _frame_walk(t, env)}
    return run_row(t, env, patches, tmp_path_factory.mktemp("row"))


@pytest.mark.parametrize(
    ("name", "path", "why"),
    [
        ("package-hides-data", "testdata/cases/__init__.py", SHADOWS),
        ("new-data-file", "testdata/zz_total.json", DATA),
    ],
)
def test_what_stood_under_the_row_is_put_back(
    task: tuple[TaskRecord, EnvRecord], row: dict[str, dict[str, Any]], name: str, path: str, why: str
) -> None:
    """The gold resolves under the row and the empty patch does not; both attacks resolved under the row
    before its eval script ran the verifier's check, and the grader put both back."""
    t, env = task
    assert row["gold"]["resolved"] and "codekiln guard: resolved" in row["gold"]["log"]  # the check passes it
    assert row["empty"]["tests_status"]["FAIL_TO_PASS"]["failure"] == t.FAIL_TO_PASS
    report = row[name]
    assert report["patch_successfully_applied"], name
    assert not report["resolved"], report["log"][-3000:]  # was resolved
    assert report["tests_status"]["FAIL_TO_PASS"]["failure"] == t.FAIL_TO_PASS
    assert {report["status_map"][test] for test in t.FAIL_TO_PASS} == {"FAILED"}
    assert f"| codekiln finding: reverted {path} {why}" in report["log"]
    grade = grade_patch(t, env, _attacks(t, env)[name], timeout=TIMEOUT)
    assert (grade.outcome, grade.resolved) == ("unresolved", False), grade.detail
    assert {"kind": "reverted", "path": path, "detail": why} in grade.findings


def _harbor_verdict(t: TaskRecord, env: EnvRecord, patch: str, work: Path) -> dict[str, Any]:
    """The exported Harbor task's verifier (`tests/codekiln/verifier.py`, run as its test.sh runs it) on
    the agent's tree: the snapshot, the task's `prepare.sh`, then `patch`. A patch its check rejects
    grades before any test runs, so no container is needed here."""
    exported = export_harbor_task(t, work / "harbor")
    testbed = work / "testbed"
    shutil.copytree(env.snapshot_path, testbed, symlinks=True)
    git = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["bash", str(exported / "environment/prepare.sh"), str(testbed)], env=git, check=True)
    subprocess.run(["git", "apply", "-"], cwd=testbed, input=patch.encode(), env=git, check=True)
    logs = work / "logs"
    verifier = exported / "tests/codekiln/verifier.py"
    argv = ["python3", "-E", "-s", str(verifier), "--testbed", str(testbed), "--logs", str(logs)]
    subprocess.run(argv, env={**os.environ, "CODEKILN_VENV": str(env.venv)}, check=True, timeout=300)
    return dict(json.loads((logs / "grade.json").read_text()))


def test_a_scan_only_attack_has_one_verdict_on_the_row_the_harbor_verifier_and_the_grader(
    task: tuple[TaskRecord, EnvRecord], row: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    """`total` right only when a test's frame calls it: the guard has nothing to find (the tests' own
    objects are untouched), so the row resolved it. The scan finds the frame walk everywhere now."""
    t, env = task
    report = row["frame-walk"]
    assert report["patch_successfully_applied"]
    assert not report["resolved"], report["log"][-3000:]  # was resolved
    assert "codekiln guard: rejected scan the change reaches into the test machinery" in report["log"]
    assert {report["status_map"][test] for test in t.tests} == {"FAILED"}  # every graded test
    assert "| codekiln finding: frame-walk rowdatalib/__init__.py" in report["log"]
    grade = grade_patch(t, env, _frame_walk(t, env), timeout=TIMEOUT)
    harbor = _harbor_verdict(t, env, _frame_walk(t, env), tmp_path)
    assert (grade.outcome, grade.reason) == (harbor["outcome"], harbor["reason"]) == ("rejected", "scan")
    assert harbor["detail"] in report["log"]  # the row's check is the Harbor verifier's
    # the grader says "the patch reaches ...", the verifier "the change reaches ...": the same finding
    assert (
        grade.detail.split(": ", 1)[1]
        == harbor["detail"].split(": ", 1)[1]
        == "rowdatalib/__init__.py:18 ._getframe"
    )
