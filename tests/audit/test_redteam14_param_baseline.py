"""The fourteenth red team's parametrized ids, where a case of the graded function fails on the clean tree.

`test_total` is parametrized over the library's `SAMPLES` with `ids=repr` (`test_total[<shapes.Circle
object at 0x7f..>]`), and its Circle sample fails on the clean tree too (its expected value is wrong):
no graded test, read back as in the environment's baseline (`grading.unstable_ids.read_back`). The
bug (`+` made `-`) fails the Triangle case only.

Two holes the first reading left:
- An exported task's verifier had no baseline, so there the Circle case counted against the requested
  cases as a renamed one: the gold scored 0 in the Harbor task and the SWE-bench row while
  `grade_patch` resolved it. The export now keeps the baseline's statuses of the graded functions'
  cases (`state.json`'s `baseline_cases`) and the verifier reads them as the grader does.
- In the grader, a failing case named as the Circle was (`<shapes.Circle object at 0x..>`) hid under
  it, beside a passing sample named as the Triangle was: a patch that fixes nothing scored resolved.
  An id that failed on the clean tree now holds at most as many cases, and as many not passing, as it
  did there; past that the worst of them read as renamed.

Real synthesis, bwrap sandboxes, the real grader (`codekiln eval`'s path and the agent's), and the
exported verifier files run as shipped in a sandbox of the environment (the Harbor verifier on the
agent's tree, the SWE-bench row's test step on the tree its eval script leaves)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

import harbor_support as hs
from rollout_support import library_tasks, setuptools_pyproject, the_task

from codekiln.audit.grader import PATHS, play_commands
from codekiln.audit.target import Target
from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch, row_verifier
from codekiln.grading.graded import GradedWorkspace
from codekiln.grading.unstable_ids import blank, is_unstable
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.export.swebench_guard import row_files
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0
MODULE = "shapes/__init__.py"
SHAPES = (
    "class Shape:\n    def __init__(self, a, b):\n        self.a = a\n        self.b = b\n\n\n"
    "class Square(Shape):\n    pass\n\n\nclass Triangle(Shape):\n    pass\n\n\nclass Circle(Shape):\n    pass\n\n\n"
    "def total(shape):\n    return shape.a + shape.b\n\n\n"
    "SAMPLES = [Square(3, 0), Triangle(3, 5), Circle(2, 2)]\n"
)
LIBRARY = {
    MODULE: SHAPES,
    "tests/test_shapes.py": (
        "import pytest\n\nfrom shapes import SAMPLES, Square, total\n\n"
        "EXPECTED = {'Square': 3, 'Triangle': 8, 'Circle': 99}\n\n\n"  # Circle's fails on the clean tree
        "@pytest.mark.parametrize('shape', SAMPLES, ids=repr)\n"
        "def test_total(shape):\n    assert total(shape) == EXPECTED[type(shape).__name__]\n\n\n"
        "def test_flat():\n    assert total(Square(1, 0)) == 1\n"
    ),
    "pyproject.toml": setuptools_pyproject("shapes"),
}
BUGGY = "    return shape.a - shape.b\n"
FIXED = "    return shape.a + shape.b\n"
# The failing Triangle named as the Circle was, and a passing sample named as the Triangle was (its
# class named `Square` for the test's table): beside the Circle, or in place of a Circle made to pass.
DECOY = (
    "\n\nclass _Decoy(Square):\n    def __repr__(self):\n        return '<shapes.Triangle object at 0x7f0000000010>'\n\n\n"
    "_Decoy.__name__ = 'Square'\nSAMPLES.append(_Decoy(3, 0))\n"
    "Triangle.__repr__ = lambda self: '<shapes.Circle object at 0x7f0000000030>'\n"
)
BESIDE = DECOY
IN_PLACE = DECOY + (
    "\n\n_total = total\n\n\ndef total(shape):\n"
    "    return 99 if type(shape).__name__ == 'Circle' else _total(shape)\n"
)
VERIFIER_DIR = "/tmp/codekiln-verifier"


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY,
        "param-baseline-library",
        "audit-tasks-shapes-baseline",
        1,
        functions=["total"],
        mutators=["change_arith_op"],
    )
    t, env = the_task(
        found,
        lambda t: BUGGY.strip() in t.bug_patch and any(is_unstable(i) for i in t.FAIL_TO_PASS),
        "total's `+` made `-`, failing a case named by an address",
    )
    circle = [i for i, status in env.baseline.items() if "Circle" in i]
    assert [env.baseline[i] for i in circle] == ["failed"], env.baseline  # neither graded nor the bug's
    return t, env


def _patch(t: TaskRecord, env: EnvRecord, fixed: bool, extra: str) -> str:
    target = Target.of(t, Path(env.snapshot_path))
    buggy = target.text(MODULE) or ""
    assert BUGGY in buggy, buggy
    return target.new(MODULE, (buggy.replace(BUGGY, FIXED) if fixed else buggy) + extra)


def _exported(t: TaskRecord, out: Path) -> dict[str, bytes]:
    """The exported Harbor task's tests/codekiln/ folder: the verifier, its modules, its JSON files."""
    folder = export_harbor_task(t, out) / "tests" / "codekiln"
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


def _verify(t: TaskRecord, env: EnvRecord, patch: str, files: dict[str, bytes], script: str) -> str:
    """`script` of `files` run as shipped (standard library only, from its own folder) in a sandbox of
    the environment whose /testbed is the agent's tree: bug in, hidden tests out (put back for the
    row's step, as its eval script does), `patch` applied. The test process runs as the sandbox's user
    (`CODEKILN_TEST_UID` empty): no other user here."""
    with env.open_sandbox(DEFAULT_BACKEND) as sb:
        g = GradedWorkspace(sb, t, env)
        assert g.prepare(patch) is None
        if script == "row_verifier.py":  # the row's eval script has put the hidden tests back
            g.restore(list(t.hidden_tests))
        for name, data in files.items():
            sb.write_file(f"{VERIFIER_DIR}/{name}", data)
        argv = ["/usr/bin/python3", "-E", "-s", f"{VERIFIER_DIR}/{script}", "--testbed", sb.workdir]
        if script == "verifier.py":
            argv += ["--logs", f"{VERIFIER_DIR}/logs"]
        res = sb.exec(argv, timeout=300, env={"CODEKILN_TEST_UID": ""})
        if script == "verifier.py":
            assert res.exit_code == 0, res.stdout + res.stderr
            return sb.read_file(f"{VERIFIER_DIR}/logs/grade.json").decode()
        return res.stdout


def _harbor(t: TaskRecord, env: EnvRecord, patch: str, out: Path) -> dict[str, object]:
    grade: dict[str, object] = json.loads(_verify(t, env, patch, _exported(t, out), "verifier.py"))
    return grade


def _row_lines(t: TaskRecord, env: EnvRecord, patch: str) -> dict[str, str]:
    """The SWE-bench row's test step on the tree its eval script leaves (nothing to put back here):
    its status lines, {blanked id: status}."""
    files = row_files(t, env, "0" * 40, {})  # task.json and state.json; the patch rules' check is
    files[row_verifier.CHECKED] = b"{}"  # not run here: its verdict read as passed, the test step runs
    printed = _verify(t, env, patch, files, "row_verifier.py")
    lines = [line.split(" ", 1) for line in printed.splitlines() if line.startswith(("PASSED ", "FAILED "))]
    return {test.split(" - ", 1)[0]: status for status, test in lines}


def test_the_gold_resolves_through_the_exported_verifiers(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path
) -> None:
    """The Circle case fails beside the gold as on the clean tree: not the fix's doing."""
    t, env = task
    gold = _patch(t, env, True, "")
    assert grade_patch(t, env, gold, timeout=TIMEOUT).outcome == "resolved"
    grade = _harbor(t, env, gold, tmp_path)
    assert grade["outcome"] == "resolved", grade  # was unresolved: the Circle case read as renamed
    graded = {blank(i) for i in t.tests}
    assert _row_lines(t, env, gold) == dict.fromkeys(graded, "PASSED")  # was FAILED for test_total's


def test_an_export_without_the_baseline_reads_as_before(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path
) -> None:
    """An export made before `baseline_cases` was kept: every other case of the function counts."""
    t, env = task
    files = _exported(t, tmp_path)
    state = json.loads(files["state.json"])
    assert state.pop("baseline_cases") == {i: s for i, s in env.baseline.items() if "test_total[" in i}
    files["state.json"] = json.dumps(state).encode()
    grade = json.loads(_verify(t, env, _patch(t, env, True, ""), files, "verifier.py"))
    assert grade["outcome"] == "unresolved", grade


@pytest.mark.parametrize("extra", [BESIDE, IN_PLACE], ids=["beside", "in-place"])
@pytest.mark.parametrize("path", [*PATHS, "harbor"])
def test_a_failing_case_named_as_a_clean_failure_is_not_passed(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, path: str, extra: str
) -> None:
    t, env = task
    patch = _patch(t, env, False, extra)
    if path == "harbor":
        grade = _harbor(t, env, patch, tmp_path)
        assert grade["outcome"] == "unresolved", grade
        return
    if path == "agent":
        patch = play_commands(t, env, [apply_command(patch)], backend=DEFAULT_BACKEND)
    result = grade_patch(t, env, patch, timeout=TIMEOUT)
    assert result.outcome == "unresolved", result.statuses  # was resolved
    assert "failed" in result.statuses.values()


@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_redteam14_param_baseline.py::test_the_gold_resolves_through_the_exported_verifiers and "
    "test_redteam14_param_baseline.py::test_a_failing_case_named_as_a_clean_failure_is_not_passed (its "
    "harbor case: the exported verifier.py on the same trees); tests/tasks/test_harbor.py's trials run it "
    "in the image"
)
def test_a_harbor_trial_reads_the_clean_failure_as_the_grader_does(
    task: tuple[TaskRecord, EnvRecord], harbor: hs.Trials
) -> None:
    """The same in Harbor's layout: the exported image, the oracle's trial and the attack's."""
    t, env = task
    reward, grade = harbor.run(t, hs.applying(_patch(t, env, False, BESIDE)))
    assert (harbor.oracle(t)[0], reward, grade["outcome"]) == ("1", "0", "unresolved"), grade
