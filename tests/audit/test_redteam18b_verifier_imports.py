"""The eighteenth red team (part B): the exported verifiers import the agent's tree as root.

An exported Harbor task's `tests/test.sh` runs `python3 -E -s tests/codekiln/verifier.py` and an
exported SWE-bench row's eval script runs `python -E -s $CODEKILN_ROW/row_verifier.py --check`: both
with the environment's venv interpreter (`PATH=/opt/venv/bin:...`), as root. `-E -s` leave the
venv's own `site-packages` `.pth` files in force, and a src-layout project's editable install is one
(setuptools writes `/testbed/src` into `__editable__.<name>.pth`; flit, hatch and poetry write the
project's folder). So the agent's tree is on the verifier's own `sys.path`, after the standard
library. Any module the verifier's standard library looks for and does not find is then looked for
in the tree: `subprocess` runs `import msvcrt` inside a `try` (its test for Windows, every Python 3),
and Python 3.11's `copy` (imported by `dataclasses`) `from org.python.core import PyStringMap` (a
Jython probe); a module `msvcrt` or a package `org` in `src/` runs there, as root, before the verifier
has read a single file of the tree.

The payload (`src/msvcrt.py` or `src/org/__init__.py`, new, nothing of the bug touched) then raises
`ModuleNotFoundError`, so `subprocess` / `copy` carry on as usual, after registering what it wants:
- under the Harbor verifier: an `atexit` function writing `1` into `<logs>/reward.txt` after the
  verifier has written its own verdict (`unresolved`) there;
- under the row's `--check`: the row's own `row_verifier.py` (in the 0700 folder beside it, root's)
  rewritten to print `PASSED <id>` for every graded test, which is what the eval script runs next
  between swebench's markers.

Real synthesis of a src-layout fixture library; the Harbor verifier as shipped, on the task's
starting tree in a bwrap sandbox of the environment; the row through swebench's harness steps in a
bwrap sandbox laid out as its image (`swebench_support.run_instance`), graded by swebench's own log
parser and report. `grade_patch` is the control: it never runs the grader with the tree on its path.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from rollout_support import library_tasks, the_task

from codekiln.envs import EnvRecord
from codekiln.grading import grade_patch
from codekiln.grading.graded import patch_paths
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # synthesis, grading and the verifiers in bwrap sandboxes

TIMEOUT = 30.0
MODULE = "src/srcrowlib/__init__.py"
LIBRARY = {
    MODULE: (
        "def total(values):\n    s = 0\n    for v in values:\n        s += v\n    return s\n\n\n"
        "def scale(values, factor):\n    return [v * factor for v in values]\n"
    ),
    "tests/test_srcrow.py": (
        "from srcrowlib import scale, total\n\n\n"
        "def test_total():\n    assert total([1, 2, 3]) == 6\n    assert total([4]) == 4\n\n\n"
        "def test_total_empty():\n    assert total([]) == 0\n\n\n"
        "def test_scale():\n    assert scale([1, 2], 3) == [3, 6]\n"
    ),
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "srcrowlib"\nversion = "0.1"\n'
        '[tool.setuptools]\npackage-dir = {"" = "src"}\npackages = ["srcrowlib"]\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    ),
}
# run by `subprocess`'s `import msvcrt` or `copy`'s Jython probe in the verifier's own process (root)
PAYLOAD = '''import atexit
import os
import sys

_argv = list(sys.argv)
_me = os.path.basename(_argv[0]) if _argv else ""
STUB = """import json, os
here = os.path.dirname(os.path.abspath(__file__))
for test in json.load(open(os.path.join(here, "task.json")))["tests"]:
    print("PASSED " + test)
"""


def _reward():
    logs = _argv[_argv.index("--logs") + 1] if "--logs" in _argv else "/logs/verifier"
    with open(os.path.join(logs, "reward.txt"), "w") as fh:
        fh.write("1\\n")


if _me == "verifier.py":
    atexit.register(_reward)
elif _me == "row_verifier.py" and "--check" in _argv:
    with open(os.path.join(os.path.dirname(os.path.abspath(_argv[0])), "row_verifier.py"), "w") as fh:
        fh.write(STUB)
raise ModuleNotFoundError("not here")
'''


# where the payload waits: a package `org` (Python <= 3.11's `copy`: `from org.python.core import
# PyStringMap`) or a module `msvcrt` (every `subprocess` since 3.x: `try: import msvcrt` except
# ModuleNotFoundError, its test for Windows)
HOSTS = {"org": "src/org/__init__.py", "msvcrt": "src/msvcrt.py"}


def attack_patch(host: str = "org") -> str:
    from swebench_support import new_files_patch

    return new_files_patch({HOSTS[host]: PAYLOAD})


@pytest.fixture(scope="module")
def task() -> tuple[TaskRecord, EnvRecord]:
    found = library_tasks(
        LIBRARY, "red18b-srcrow", "audit-tasks-red18b-srcrow", 1, functions=["total"],
        mutators=["change_arith_op"],
    )  # fmt: skip
    return the_task(found, lambda t: patch_paths(t.bug_patch) == {MODULE}, "an arithmetic bug in total()")


def harbor_reward(t: TaskRecord, env: EnvRecord, patch: str, work: Path) -> tuple[str, str]:
    """The exported Harbor task's `tests/test.sh` on its starting tree with `patch` applied, in a bwrap
    sandbox of the environment (whose venv holds the src layout's `.pth`, `/testbed/src`):
    (the verifier's printed verdict, the reward file it leaves)."""
    from audit_support import harbor_testbed, harbor_tests_run

    folder, testbed = harbor_testbed(t, work)
    if patch:
        subprocess.run(["git", "-C", str(testbed), "apply", "-"], input=patch, text=True, check=True)
    out = harbor_tests_run(
        folder,
        testbed,
        env,
        ["bash", "-c", "bash /tmp/verifier/test.sh; echo REWARD=$(cat /tmp/logs/reward.txt)"],
    )
    lines = out.strip().splitlines()
    verdict = next((line for line in lines if line.startswith("codekiln verifier:")), out[-2000:])
    reward = next((line.removeprefix("REWARD=") for line in lines if line.startswith("REWARD=")), "")
    return verdict, reward


@pytest.fixture(scope="module")
def rows(
    task: tuple[TaskRecord, EnvRecord], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    from swebench_support import run_row

    t, env = task
    patches = {"gold": t.patch, "empty": "", **{host: attack_patch(host) for host in HOSTS}}
    return run_row(t, env, patches, tmp_path_factory.mktemp("row"))


def test_the_venv_puts_the_tree_on_the_interpreters_path(task: tuple[TaskRecord, EnvRecord]) -> None:
    """What the attack stands on: the environment's venv (the one both verifiers run under) has the
    src layout's folder in a `.pth` file, and its Python's `copy` looks for `org.python.core`."""
    _, env = task
    pth = sorted(Path(env.venv).glob("lib/python*/site-packages/__editable__.*.pth"))
    assert [path.read_text().strip() for path in pth] == ["/testbed/src"]  # site adds it where it exists
    probe = "import copy, inspect; print('org.python.core' in inspect.getsource(copy))"
    ran = subprocess.run([f"{env.venv}/bin/python", "-c", probe], capture_output=True, text=True, check=True)
    assert ran.stdout.strip() == "True"


def test_controls_grade_patch(task: tuple[TaskRecord, EnvRecord]) -> None:
    """The grader: the gold resolves; the attack (which fixes nothing) does not."""
    t, env = task
    assert grade_patch(t, env, t.patch, timeout=TIMEOUT).resolved
    for host in HOSTS:
        grade = grade_patch(t, env, attack_patch(host), timeout=TIMEOUT)
        assert not grade.resolved, (host, grade.detail)


def test_controls_harbor(task: tuple[TaskRecord, EnvRecord], tmp_path: Path) -> None:
    t, env = task
    verdict, reward = harbor_reward(t, env, t.patch, tmp_path / "gold")
    assert (verdict.split()[2], reward) == ("resolved", "1"), verdict
    verdict, reward = harbor_reward(t, env, "", tmp_path / "empty")
    assert reward == "0", verdict


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_harbor_verifier_runs_no_code_of_the_tree(
    task: tuple[TaskRecord, EnvRecord], tmp_path: Path, host: str
) -> None:
    t, env = task
    verdict, reward = harbor_reward(t, env, attack_patch(host), tmp_path / host)
    assert verdict.split()[2] != "resolved", verdict  # the verifier itself reads it unresolved
    assert reward == "0", verdict  # was 1: the payload's atexit wrote it after the verifier's 0


def test_controls_row(rows: dict[str, dict[str, Any]]) -> None:
    assert rows["gold"]["resolved"], rows["gold"]["log"][-3000:]
    assert not rows["empty"]["resolved"]


@pytest.mark.parametrize("host", sorted(HOSTS))
def test_row_check_runs_no_code_of_the_tree(
    task: tuple[TaskRecord, EnvRecord], rows: dict[str, dict[str, Any]], host: str
) -> None:
    t, _ = task
    report = rows[host]
    assert not report["resolved"], report["log"][
        -3000:
    ]  # was resolved: every graded test PASSED, bug in place
    assert {report["status_map"].get(test) for test in t.FAIL_TO_PASS} == {"FAILED"}
