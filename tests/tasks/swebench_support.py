"""Run an exported SWE-bench row the way swebench 5.0.2's harness does (`harness.run_evaluation
.run_instance`), with a codekiln bwrap sandbox standing in for the instance container (no Docker here).

- The instance image's /testbed is a clone of the row's `git_repo` at `base_commit` (what the image
  holds), with the environment's venv on PATH.
- The prediction is written to /tmp/patch.diff and applied with the harness's first command
  (`git apply --verbose`); then `make_test_spec(row).eval_script` (the script the harness writes,
  with its exit-code line) runs with bash, stdout and stderr merged as `exec_run` merges them.
- The log is graded by swebench's own `get_eval_report` (its log parser and report functions).

Git runs as the sandbox's unprivileged uid on a tree owned by root, which git refuses ("dubious
ownership") unless told otherwise: `safe.directory` comes through git's environment, as the container
(running as root on its own files) does not need.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from swebench.harness.grading import get_eval_report, get_logs_eval
from swebench.harness.utils import make_test_spec

from codekiln.envs import EnvRecord
from codekiln.sandbox import SandboxSpec, open_sandbox
from codekiln.sandbox.base import Limits

GIT_SAFE = {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "*"}
HARNESS_APPLY = "git apply --verbose /tmp/patch.diff"  # swebench's GIT_APPLY_CMDS[0]


def checkout(row: dict[str, Any], rows_dir: Path, dest: Path) -> Path:
    """What the instance image holds at /testbed: the row's base_commit, cloned from its git_repo."""
    repo = rows_dir / row["git_repo"]
    subprocess.run(["git", "clone", "-q", "--no-tags", "--branch", row["instance_id"], "--single-branch",
                    str(repo), str(dest)], check=True, capture_output=True)  # fmt: skip
    head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], check=True, capture_output=True)
    assert head.stdout.decode().strip() == row["base_commit"]
    for root, dirs, files in os.walk(dest):  # readable by the sandbox's unprivileged uid
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o755)
        for name in files:
            path = os.path.join(root, name)
            os.chmod(path, os.stat(path).st_mode | 0o644)
    os.chmod(dest, 0o755)
    return dest


def run_instance(
    row: dict[str, Any], rows_dir: Path, env: EnvRecord, patch: str, work: Path
) -> dict[str, Any]:
    """Evaluate `patch` on `row` as the harness does; returns swebench's report for the instance, plus
    `status_map` (what its log parser read from the log) and `log` (the test output)."""
    spec = make_test_spec(row)
    testbed = checkout(row, rows_dir, work / "testbed")
    sandbox_spec = SandboxSpec(
        snapshot=testbed, venv=Path(env.venv), env={**env.test.env, **GIT_SAFE},
        limits=Limits(timeout_s=env.test.timeout_s),
    )  # fmt: skip
    with open_sandbox(sandbox_spec) as sandbox:
        sandbox.write_file("/tmp/patch.diff", patch)
        if patch.strip():
            applied = sandbox.exec(["bash", "-c", HARNESS_APPLY], timeout=120, cwd="/testbed")
            assert applied.ok, applied.output
        sandbox.write_file("/tmp/eval.sh", spec.eval_script)
        ran = sandbox.exec(["bash", "-c", "/bin/bash /tmp/eval.sh 2>&1"], timeout=900, cwd="/testbed")
    log = work / "test_output.txt"
    log.write_text(ran.stdout)
    prediction = {"instance_id": row["instance_id"], "model_patch": patch, "model_name_or_path": "codekiln"}
    report = get_eval_report(spec, prediction, str(log), include_tests_status=True)[row["instance_id"]]
    report["status_map"], _ = get_logs_eval(spec, str(log))
    report["log"] = ran.stdout
    json.dumps(report)
    return report
