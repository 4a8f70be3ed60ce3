"""Real tasks of a src-layout library for the red-team suite: markupsafe 3.0.4, whose editable install
adds `/testbed/src` to `sys.path` through a `.pth` file, synthesized by the real pipeline into the test
CODEKILN_HOME (test-cache/audit-tasks-markupsafe) so later sessions resume them in seconds; and the
exported Harbor verifier run on a task's starting tree with a patch (`harbor_verifier`, and
`harbor_verdict` for what it writes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import synth_cached

from codekiln.envs import EnvRecord
from codekiln.grading.patchrules import GradePolicy
from codekiln.sandbox import SandboxSpec, open_sandbox
from codekiln.sandbox.base import Limits
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

MARKUPSAFE = "pypi:markupsafe==3.0.4"
N_TASKS = 3


def synth_markupsafe() -> Path:
    out = synth_cached(MARKUPSAFE, "audit-tasks-markupsafe", N_TASKS)
    assert read_tasks(out / "tasks.jsonl"), f"no markupsafe tasks synthesized in {out}"
    return out


def harbor_testbed(t: TaskRecord, work: Path, policy: GradePolicy | None = None) -> tuple[Path, Path]:
    """The exported Harbor task's folder (under `work/harbor`) and its starting tree (`work/testbed`),
    unpacked and prepared as the task's image is."""
    folder = export_harbor_task(t, work / "harbor", policy=policy)
    testbed = work / "testbed"
    testbed.mkdir()
    with tarfile.open(folder / "environment" / "testbed.tar.gz") as tar:
        tar.extractall(testbed, filter="tar")
    subprocess.run(
        ["bash", str(folder / "environment" / "prepare.sh"), str(testbed)], check=True, capture_output=True
    )
    return folder, testbed


def harbor_tests_run(
    folder: Path, testbed: Path, env: EnvRecord, argv: list[str], extra: dict[str, str] | None = None
) -> str:
    """`argv` run in /testbed of a bwrap sandbox of the environment on `testbed`, the exported task's
    `tests/` (its verifier) at /tmp/verifier, with `LOGS_DIR` and `extra` in its environment: its stdout."""
    spec = SandboxSpec(snapshot=testbed, venv=Path(env.venv), limits=Limits(timeout_s=env.test.timeout_s))
    with open_sandbox(spec) as sandbox:
        for path in sorted((folder / "tests").rglob("*")):
            if path.is_file():
                sandbox.write_file(f"/tmp/verifier/{path.relative_to(folder / 'tests')}", path.read_bytes())
        ran = sandbox.exec(argv, timeout=600, cwd="/testbed", env={"LOGS_DIR": "/tmp/logs", **(extra or {})})
    return ran.stdout


def harbor_verifier(
    t: TaskRecord, env: EnvRecord, patch: str, work: Path, policy: GradePolicy | None = None
) -> str:
    """The exported Harbor task's verifier (`tests/test.sh`'s command) on its starting tree with `patch`
    applied, in a bwrap sandbox of the environment: the last line of its output (the verdict). `policy`:
    the exported task's (default: the grader's)."""
    folder, testbed = harbor_testbed(t, work, policy)
    subprocess.run(["git", "-C", str(testbed), "apply", "-"], input=patch, text=True, check=True)
    return harbor_tests_run(folder, testbed, env, ["bash", "/tmp/verifier/test.sh"]).strip().splitlines()[-1]


def harbor_verdict(
    t: TaskRecord, env: EnvRecord, patch: str, work: Path, oracle: bool = False
) -> tuple[str, dict[str, Any]]:
    """What the exported task's `tests/test.sh` writes when run as `harbor_verifier` runs it (a bwrap
    sandbox of the environment, the starting tree with `patch` applied): (reward.txt's text, grade.json),
    as a Harbor trial's container leaves them (`harbor_support.run_trial`), without building its image.
    An empty `patch` leaves the starting tree as it is; `oracle` runs the export's `solution/solve.sh` on
    it instead, as Harbor's oracle agent does."""
    folder, testbed = harbor_testbed(t, work)
    if oracle:
        solve = ["bash", str(folder / "solution" / "solve.sh")]
        subprocess.run(solve, env={**os.environ, "TESTBED": str(testbed)}, check=True, capture_output=True)
    elif patch:
        subprocess.run(["git", "-C", str(testbed), "apply", "-"], input=patch, text=True, check=True)
    show = "bash /tmp/verifier/test.sh >&2; cat /tmp/logs/reward.txt; echo; cat /tmp/logs/grade.json"
    reward, _, grade = harbor_tests_run(folder, testbed, env, ["bash", "-c", show]).partition("\n")
    assert grade.strip(), f"the verifier wrote no grade.json (reward {reward!r})"
    return reward.strip(), json.loads(grade)
