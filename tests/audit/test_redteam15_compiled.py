"""The fifteenth red team: compiled and hiding files a SWE-bench row leaves in place.

A library whose tests import their cases and expected values from a Python data module
(`from testdata.cases import CASES`, the project root on `sys.path` through pytest's `pythonpath`). The
grader and a row's eval script put `testdata/cases.py` back as in the snapshot (Python source outside
the packages the fix changes). Python reads a module from `__pycache__/cases.<tag>.pyc` instead of its
source when that file is an unchecked hash-based pyc (PEP 552: never compared with the source, read
under `-B` too), and from a new package `testdata/cases/__init__.py` before `testdata/cases.py`. The grader
rejects the first (a compiled artefact) and puts the second back; under an exported SWE-bench row the
eval script deletes neither: the package is held by the guard (the data module is a support module), the
pyc resolved with the bug in place. Since the row applies the Harbor verifier's patch rules (its `check`
against `base_commit`'s manifest) it rejects the pyc and puts the package back, as the grader does. Real
synthesis, bwrap sandboxes, the real grader, swebench's own harness steps on the exported row."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

from rollout_support import library_tasks, setuptools_pyproject

from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.pathrules import DATA
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0
CASES = "testdata/cases.py"
MODULE = "pycdata/__init__.py"
LIBRARY = {
    MODULE: (
        "def scale(values, factor):\n    out = []\n    for v in values:\n        out.append(v * factor)\n"
        "    return out\n\n\ndef total(values):\n    s = 0\n    for v in values:\n        s += v\n"
        "    return s\n\n\ndef spread(values):\n    low = min(values)\n    high = max(values)\n"
        "    return high - low\n"
    ),
    "testdata/__init__.py": "",
    CASES: (
        'CASES = {\n    "scale": [{"values": [1, 2, 3], "factor": 2, "expected": [2, 4, 6]}],\n'
        '    "total": [{"values": [1, 2, 3], "expected": 6}, {"values": [4], "expected": 4}],\n'
        '    "spread": [{"values": [1, 5, 3], "expected": 4}, {"values": [7], "expected": 0}],\n}\n'
    ),
    "tests/test_data.py": (
        "from pycdata import scale, spread, total\nfrom testdata.cases import CASES\n\n\n"
        'def test_scale():\n    for case in CASES["scale"]:\n'
        '        assert scale(case["values"], case["factor"]) == case["expected"]\n\n\n'
        'def test_total():\n    for case in CASES["total"]:\n        assert total(case["values"]) == case["expected"]\n\n\n'
        'def test_spread():\n    for case in CASES["spread"]:\n        assert spread(case["values"]) == case["expected"]\n'
    ),
    "pyproject.toml": setuptools_pyproject("pycdata") + 'pythonpath = ["."]\n',
}


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    found = library_tasks(LIBRARY, "pycdata-library", "audit-tasks-pycdata", 3)
    usable = [(t, e) for t, e in found if MODULE in t.patch and _computes(t, e)]
    assert usable, "no task of the data library whose buggy code returns values to write in"
    return usable


def _computes(task: TaskRecord, env: EnvRecord) -> bool:
    try:
        _buggy_cases(task, env)
    except Exception:  # the bug raises: there are no buggy results to write in
        return False
    return True


def _buggy_cases(task: TaskRecord, env: EnvRecord) -> str:
    """`cases.py` with the expected values the buggy code computes."""
    target = Target.of(task, Path(env.snapshot_path))
    namespace: dict[str, object] = {"__name__": "pycdata"}
    exec(compile(target.text(MODULE) or "", MODULE, "exec"), namespace)
    cases = ast.literal_eval((target.text(CASES) or "").split("=", 1)[1])
    for name, items in cases.items():
        for case in items:
            args = [case["values"], case["factor"]] if name == "scale" else [case["values"]]
            case["expected"] = namespace[name](*args)  # type: ignore[operator]
    return f"CASES = {cases!r}\n"


def binary_patch(files: dict[str, bytes], work: Path) -> str:
    """A git patch (`--binary`) that adds `files`, as `git diff` writes one for a prediction."""
    work.mkdir(parents=True, exist_ok=True)
    git = ["git", "-C", str(work), "-c", "user.name=a", "-c", "user.email=a@b"]
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    for rel, data in files.items():
        (work / rel).parent.mkdir(parents=True, exist_ok=True)
        (work / rel).write_bytes(data)
    subprocess.run([*git, "add", "-A"], check=True)
    return subprocess.run(
        [*git, "diff", "--cached", "--binary"], check=True, capture_output=True, text=True
    ).stdout


def unchecked_pyc(env: EnvRecord, source: str, work: Path) -> tuple[str, bytes]:
    """`source` compiled by the environment's Python to an unchecked hash-based pyc: (cache tag, bytes)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "src.py").write_text(source)
    code = (
        "import py_compile, sys\n"
        "py_compile.compile(sys.argv[1], cfile=sys.argv[2], dfile='cases.py', doraise=True,\n"
        "    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)\n"
        "print(sys.implementation.cache_tag)\n"
    )
    python = str(Path(env.venv) / "bin" / "python")
    out = subprocess.run([python, "-c", code, str(work / "src.py"), str(work / "out.pyc")],
                         check=True, capture_output=True, text=True).stdout  # fmt: skip
    return out.strip(), (work / "out.pyc").read_bytes()


def _attacks(task: TaskRecord, env: EnvRecord, work: Path) -> dict[str, str]:
    buggy = _buggy_cases(task, env)
    tag, pyc = unchecked_pyc(env, buggy, work / "pyc")
    target = Target.of(task, Path(env.snapshot_path))
    return {
        "pyc": binary_patch({f"testdata/__pycache__/cases.{tag}.pyc": pyc}, work / "pyc-patch"),
        "package": target.new("testdata/cases/__init__.py", buggy),
    }


# An honest fix of its own kind: the gold's code, which reads a table from a new data file of the package.
READS_DATA = (
    "\n\nimport json as _json\nfrom pathlib import Path as _Path\n\n"
    "_TABLE = _json.loads((_Path(__file__).parent / 'table.json').read_text())\n"
)


def _honest_with_data(task: TaskRecord, env: EnvRecord) -> str:
    target = Target.of(task, Path(env.snapshot_path))
    fixed = (Path(env.snapshot_path) / MODULE).read_text()
    return target.new(MODULE, fixed + READS_DATA) + target.new("pycdata/table.json", "{}\n")


def _row(task: TaskRecord, env: EnvRecord, patches: dict[str, str], work: Path) -> dict[str, dict]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    reports = run_row(task, env, {"gold": task.patch, **patches}, work)
    assert reports["gold"]["resolved"]
    for name in patches:
        assert reports[name]["patch_successfully_applied"], name
    return reports


def test_compiled_or_hiding_copies_of_the_data_do_not_resolve_in_the_grader(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    task, env = tasks[0]
    attacks = _attacks(task, env, tmp_path)
    grade = grade_patch(task, env, attacks["pyc"], timeout=TIMEOUT)
    assert (grade.outcome, grade.reason) == ("rejected", "patch_rule"), grade.findings
    assert "adds a compiled artefact" in grade.detail
    grade = grade_patch(task, env, attacks["package"], timeout=TIMEOUT)
    assert grade.outcome == "unresolved", grade.statuses
    assert {"kind": "shadows_module", "path": "testdata/cases/__init__.py", "detail": CASES} in grade.findings


def test_a_package_hiding_the_data_does_not_resolve_an_exported_row(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """Held: the row's patch rules put the package back (a module hidden), as the grader does; the
    failing test reads FAILED with the bug in place (before them the guard found another module in the
    held `testdata/cases.py`'s place and every graded test read FAILED)."""
    task, env = tasks[0]
    report = _row(task, env, {"package": _attacks(task, env, tmp_path)["package"]}, tmp_path / "row")[
        "package"
    ]
    assert not report["resolved"]
    assert {report["status_map"][t] for t in task.FAIL_TO_PASS} == {"FAILED"}, report["status_map"]


def test_an_unchecked_pyc_of_the_data_does_not_resolve_an_exported_row(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    task, env = tasks[0]
    report = _row(task, env, {"pyc": _attacks(task, env, tmp_path)["pyc"]}, tmp_path / "row")["pyc"]
    assert not report["resolved"], report["tests_status"]  # resolved: the bug is in place


def test_an_honest_fix_reading_a_new_data_file_scores_alike_on_every_path(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    task, env = tasks[0]
    patch = _honest_with_data(task, env)
    grade = grade_patch(task, env, patch, timeout=TIMEOUT)
    assert grade.outcome == "unresolved", grade.statuses  # the grader puts table.json back
    assert {"kind": "reverted", "path": "pycdata/table.json", "detail": DATA} in grade.findings
    report = _row(task, env, {"honest": patch}, tmp_path / "row")["honest"]
    assert report["resolved"] == (grade.outcome == "resolved"), report["tests_status"]
