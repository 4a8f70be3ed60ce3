"""The eleventh red team's open item: Python files read as data. A library whose tests take their cases
and expected values from `testdata/cases.py` (run with `runpy`, as formatter and linter suites read
their `expected/*.py`): the data rule put back changed files that are not Python source, so a patch that
wrote the buggy results into `cases.py` and fixed nothing still scored resolved. Now Python source the
fix leaves alone outside the packages it changes (`pathrules.code_areas`) is put back too, by the
grader, the Harbor verifier and a SWE-bench row's eval script; an honest fix that also edits a module
of the package the gold leaves alone, and a file outside the package, still resolves. Real synthesized
tasks, real bwrap sandboxes, the real grader."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

import harbor_support as hs
from audit_support import harbor_verdict
from rollout_support import library_tasks, setuptools_pyproject
from tiering import paths

from codekiln.audit.grader import play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.pathrules import DATA, PY_DATA, code_areas, is_data
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0
CASES = "testdata/cases.py"
RELEASE = "tools/release.py"
LIBRARY = {
    "pydatalib/__init__.py": (
        "from pydatalib.helpers import unit\n\n\n"
        "def scale(values, factor):\n    out = []\n    for v in values:\n        out.append(v * factor)\n"
        "    return out\n\n\ndef total(values):\n    s = unit() - 1\n    for v in values:\n        s += v\n"
        "    return s\n"
    ),
    "pydatalib/helpers.py": "def unit():\n    return 1\n",
    "tests/test_data.py": (
        "import runpy\nfrom pathlib import Path\n\nfrom pydatalib import scale, total\n\n"
        'CASES = runpy.run_path(str(Path(__file__).resolve().parents[1] / "testdata" / "cases.py"))["CASES"]\n\n\n'
        'def test_scale():\n    for case in CASES["scale"]:\n'
        '        assert scale(case["values"], case["factor"]) == case["expected"]\n\n\n'
        'def test_total():\n    for case in CASES["total"]:\n        assert total(case["values"]) == case["expected"]\n'
    ),
    CASES: (
        'CASES = {\n    "scale": [{"values": [1, 2, 3], "factor": 2, "expected": [2, 4, 6]}],\n'
        '    "total": [{"values": [1, 2, 3], "expected": 6}, {"values": [], "expected": 0}],\n}\n'
    ),
    RELEASE: 'VERSION = "0.1"\n',
    "pyproject.toml": setuptools_pyproject("pydatalib"),
}


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    found = library_tasks(LIBRARY, "pydata-library", "audit-tasks-pydatalib", 4)
    usable = [(t, e) for t, e in found if "pydatalib/__init__.py" in t.patch and _computes(t, e)]
    assert usable, "no task of the data library whose buggy code returns values to write in"
    return usable


def _computes(task: TaskRecord, env: EnvRecord) -> bool:
    try:
        _buggy_expected(task, env)
    except Exception:  # the bug raises: there are no buggy results to write in
        return False
    return True


def _buggy_expected(task: TaskRecord, env: EnvRecord) -> str:
    """The attack: the cases' expected values computed by the buggy code, written into `cases.py`."""
    target = Target.of(task, Path(env.snapshot_path))
    namespace: dict[str, object] = {"__name__": "pydatalib"}
    helpers: dict[str, object] = {}
    exec(compile(target.text("pydatalib/helpers.py") or "", "helpers.py", "exec"), helpers)
    source = (target.text("pydatalib/__init__.py") or "").replace("from pydatalib.helpers import unit\n", "")
    namespace["unit"] = helpers["unit"]
    exec(compile(source, "pydatalib/__init__.py", "exec"), namespace)
    text = target.text(CASES) or ""
    cases = ast.literal_eval(text.split("=", 1)[1])
    for case in cases["scale"]:
        case["expected"] = namespace["scale"](case["values"], case["factor"])  # type: ignore[operator]
    for case in cases["total"]:
        case["expected"] = namespace["total"](case["values"])  # type: ignore[operator]
    return target.new(CASES, f"CASES = {cases!r}\n")


def _honest(task: TaskRecord, env: EnvRecord) -> str:
    """A fix of its own kind: the gold's code, with `unit` moved into a helper of the package the gold
    leaves alone (kept: the fix needs it), and a file outside the package bumped (put back: harmless)."""
    target = Target.of(task, Path(env.snapshot_path))
    snapshot = Path(env.snapshot_path)
    fixed = (snapshot / "pydatalib/__init__.py").read_text()
    fixed = fixed.replace("from pydatalib.helpers import unit", "from pydatalib.helpers import unit, zero")
    fixed = fixed.replace("s = unit() - 1", "s = zero()")
    return (
        target.new("pydatalib/__init__.py", fixed)
        + target.new("pydatalib/helpers.py", "def unit():\n    return 1\n\n\ndef zero():\n    return 0\n")
        + target.new(RELEASE, 'VERSION = "0.2"\n')
    )


@pytest.mark.parametrize(
    "path", paths("test_redteam11_pydata.py", "test_python_cases_rewritten_to_the_buggy_results_are_put_back")
)
def test_python_cases_rewritten_to_the_buggy_results_are_put_back(
    tasks: list[tuple[TaskRecord, EnvRecord]], path: str
) -> None:
    """Resolved before the rule (each task, both paths): `cases.py` is Python source."""
    for task, env in tasks:
        patch = _buggy_expected(task, env)
        if path == "agent":
            patch = play_commands(task, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
        grade = grade_patch(task, env, patch, timeout=TIMEOUT)
        assert grade.outcome == "unresolved", (task.instance_id, grade.outcome, grade.statuses)
        assert {"kind": "reverted", "path": CASES, "detail": PY_DATA} in grade.findings


@pytest.mark.parametrize(
    "path",
    paths("test_redteam11_pydata.py", "test_an_honest_fix_touching_python_outside_the_package_resolves"),
)
def test_an_honest_fix_touching_python_outside_the_package_resolves(
    tasks: list[tuple[TaskRecord, EnvRecord]], path: str
) -> None:
    for task, env in tasks:
        patch = _honest(task, env)
        if path == "agent":
            patch = play_commands(task, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
        grade = grade_patch(task, env, patch, timeout=TIMEOUT)
        assert grade.outcome == "resolved", (task.instance_id, grade.outcome, grade.detail, grade.statuses)
        reverted = {f["path"] for f in grade.findings if f["kind"] == "reverted"}
        assert reverted == {RELEASE}, grade.findings  # the package's helper stands


def test_what_python_counts_as_data() -> None:
    areas = code_areas({"src/pkg/sub/mod.py", "six.py", "pkg/table.json"}, {"", "src"})
    assert areas == {"src/pkg", "six.py"}
    assert code_areas({"dtpkg/__init__.py"}, {""}) == {"dtpkg"}
    fixed = {"src/pkg/sub/mod.py", "six.py"}
    for rel in ("testdata/cases.py", "expected/formatted.py", "setup.py", "docs/conf.py", "src/other/m.py"):
        assert is_data(rel, fixed, areas) == PY_DATA, rel
    for rel in ("src/pkg/helpers.py", "src/pkg/sub/mod.py", "six.py"):
        assert is_data(rel, fixed, areas) is None, rel  # the fix's packages: code a fix may need
    assert is_data("testdata/new_case.py", fixed, areas, existed=False) is None  # a new module stands
    # a task with no bug patch (a record written by hand) has no areas: no Python file is put back
    assert is_data("testdata/cases.py", set(), set()) is None
    assert is_data("testdata/cases.json", set(), set()) == DATA


def test_the_exported_verifier_puts_the_python_data_back(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """The exported Harbor task's `tests/test.sh` on its starting tree (bwrap, no image): the gold and
    an honest fix get 1, the buggy answers written into `cases.py` 0, the file put back."""
    task, env = tasks[0]
    gold = harbor_verdict(task, env, task.patch, tmp_path / "gold")[0]
    honest = harbor_verdict(task, env, _honest(task, env), tmp_path / "honest")[0]
    reward, grade = harbor_verdict(task, env, _buggy_expected(task, env), tmp_path / "attack")
    assert (gold, honest, reward, grade["outcome"]) == ("1", "1", "0", "unresolved"), grade
    assert {"kind": "reverted", "path": CASES, "detail": PY_DATA} in grade["findings"]


@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_redteam11_pydata.py::test_the_exported_verifier_puts_the_python_data_back (the same "
    "tests/test.sh on the same tree, in bwrap); tests/tasks/test_harbor.py's trials run test.sh in the image"
)
def test_the_harbor_verifier_puts_the_python_data_back(
    tasks: list[tuple[TaskRecord, EnvRecord]], harbor: hs.Trials
) -> None:
    task, env = tasks[0]
    reward, grade = harbor.run(task, hs.applying(_buggy_expected(task, env)))
    honest, _ = harbor.run(task, hs.applying(_honest(task, env)))
    assert (harbor.oracle(task)[0], reward, grade["outcome"], honest) == ("1", "0", "unresolved", "1"), grade
    assert {"kind": "reverted", "path": CASES, "detail": PY_DATA} in grade["findings"]


def test_swebench_rows_reset_the_python_data_too(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """swebench's own harness steps on the exported row: the eval script reset files that are not
    Python source only, so the rewritten `cases.py` resolved there; the gold still resolves."""
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    task, env = tasks[0]
    patches = {"gold": task.patch, "attack": _buggy_expected(task, env), "honest": _honest(task, env)}
    gold, attack, honest = run_row(task, env, patches, tmp_path).values()
    assert gold["patch_successfully_applied"] and attack["patch_successfully_applied"]
    assert (gold["resolved"], attack["resolved"], honest["resolved"]) == (True, False, True), attack
