"""Run an exported SWE-bench row the way swebench 5.0.2's harness does (`harness.run_evaluation
.run_instance`), with a codekiln bwrap sandbox standing in for the instance container (no Docker here).

- The instance image's /testbed is a clone of the row's `git_repo` at `base_commit` (what the image
  holds), with the environment's venv on PATH. Where the row's Dockerfile sets `GIT_DIR` (its git
  directory outside the tree), the sandbox does too: the git directory is a writable bind there,
  `GIT_WORK_TREE` is set and /testbed holds no `.git` (`row_sandbox`).
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
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from swebench.harness.grading import get_eval_report, get_logs_eval
from swebench.harness.utils import make_test_spec

from codekiln.core.protocols import Sandbox
from codekiln.envs import EnvRecord
from codekiln.sandbox import SandboxSpec, open_sandbox
from codekiln.sandbox.base import Bind, Limits
from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows
from codekiln.tasks.records import TaskRecord

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


def new_files_patch(files: dict[str, str]) -> str:
    """A git-style prediction adding `files` (path -> text, each ending in a newline)."""
    out = []
    for path, text in files.items():
        lines = text.splitlines()
        body = "".join(f"+{line}\n" for line in lines)
        out.append(f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n+++ b/{path}\n"
                   f"@@ -0,0 +1,{len(lines)} @@\n{body}")  # fmt: skip
    return "".join(out)


def fake_git_dir(hook: str) -> dict[str, str]:
    """A git directory made of text files at `.git` whose config runs `hook` (sh, from `.git/m.sh`) as
    `core.fsmonitor`, which git runs whenever it refreshes the index: what `patch` can write into a
    /testbed that holds no `.git`, and git finds there when no `GIT_DIR` names another."""
    return {
        ".git/HEAD": "ref: refs/heads/main\n",
        ".git/config": "[core]\n\trepositoryformatversion = 0\n\tfsmonitor = sh .git/m.sh\n",
        ".git/objects/info/note": "x\n",  # git takes a folder with objects/, refs/ and HEAD for one
        ".git/refs/note": "x\n",
        ".git/m.sh": hook,
    }


def image_git_env(row: dict[str, Any], rows_dir: Path) -> dict[str, str]:
    """The `GIT_*` variables the row's Dockerfile sets with `ENV` (none: the git directory is /testbed's)."""
    dockerfile = (rows_dir / row["image_context"] / "Dockerfile").read_text()
    words = [w for line in dockerfile.splitlines() if line.startswith("ENV ") for w in line.split()[1:]]
    return {k: v for k, _, v in (w.partition("=") for w in words) if k.startswith("GIT_")}


@contextmanager
def row_sandbox(row: dict[str, Any], rows_dir: Path, env: EnvRecord, work: Path) -> Iterator[Sandbox]:
    """A sandbox laid out as the row's image: /testbed at `base_commit`, the environment's test
    variables set; where the image keeps its git directory outside the tree (`image_git_env`), so
    does the sandbox (a writable bind at `GIT_DIR`), and /testbed holds no `.git`."""
    testbed = checkout(row, rows_dir, work / "testbed")
    git_env = image_git_env(row, rows_dir)
    binds = []
    if "GIT_DIR" in git_env:
        git_dir = work / "testbed.git"
        shutil.copytree(testbed / ".git", git_dir, symlinks=True)
        for root, dirs, files in os.walk(git_dir):  # git in the sandbox runs as its unprivileged uid
            for name in [*dirs, *files]:
                os.chmod(os.path.join(root, name), 0o777)
        binds.append(Bind(git_dir, git_env["GIT_DIR"], rw=True))
    sandbox_spec = SandboxSpec(
        snapshot=testbed, venv=Path(env.venv), env={**env.test.env, **GIT_SAFE, **git_env}, binds=binds,
        limits=Limits(timeout_s=env.test.timeout_s),
    )  # fmt: skip
    with open_sandbox(sandbox_spec) as sandbox:
        if binds:  # the sandbox's workspace needs a snapshot with `.git`; the image's /testbed has none
            assert sandbox.exec(["rm", "-rf", "--", "/testbed/.git"], timeout=60).ok
        yield sandbox


def run_instance(
    row: dict[str, Any], rows_dir: Path, env: EnvRecord, patch: str, work: Path
) -> dict[str, Any]:
    """Evaluate `patch` on `row` as the harness does; returns swebench's report for the instance, plus
    `status_map` (what its log parser read from the log) and `log` (the test output)."""
    spec = make_test_spec(row)
    with row_sandbox(row, rows_dir, env, work) as sandbox:
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


def run_row(
    task: TaskRecord, env: EnvRecord, patches: dict[str, str], work: Path
) -> dict[str, dict[str, Any]]:
    """`task` exported as a SWE-bench row (under work/swebench) and each of `patches` evaluated on it by
    `run_instance` (under work/NAME): {name: swebench's report}."""
    bundle = export_swebench_bundle([task], work / "swebench").parent
    (row,) = read_rows(bundle / "swebench.jsonl")
    return {name: run_instance(row, bundle, env, patch, work / name) for name, patch in patches.items()}


# --- the real harness (`run_instance`) through podman's Docker-compatible API ----------------------
# podman here needs runc and explicit ulimits (the default crun fails with "setrlimit RLIMIT_NOFILE:
# Operation not permitted", then on hybrid cgroups); a containers.conf given to the API
# service sets them, and binds the host's /usr and /etc into every container as harbor_support does
# for builds (the local stand-in for the public python image is a skeleton).
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]
volumes = ["/usr:/usr:ro", "/etc:/etc:ro"]

[engine]
runtime = "runc"
"""


def docker_api(scratch: Path) -> tuple[Any, subprocess.Popen[bytes]]:
    """A docker SDK client on a podman API service started for the test; (client, the service process)."""
    import time

    import docker

    (scratch / "containers.conf").write_text(CONTAINERS_CONF)
    sock = scratch / "podman.sock"
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{sock}"],
        env={**os.environ, "CONTAINERS_CONF": str(scratch / "containers.conf")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.1)
    client = docker.DockerClient(base_url=f"unix://{sock}", timeout=600)
    client.version()
    return client, service


def build_image(row: dict[str, Any], rows_dir: Path) -> str:
    """`podman build -t <row's image> images/<instance_id>` with the public base image stood in for (see
    harbor_support.build_task_image); returns the image name."""
    import harbor_support as hs

    context = rows_dir / row["image_context"]
    base = (context / "Dockerfile").read_text().split("\nFROM ", 1)[1].split()[0]
    hs.podman("tag", hs.ensure_base_image("podman"), f"docker.io/library/{base}")
    hs.podman("build", *hs.RUN_FLAGS, "--network", "host", *hs.HOST_BINDS, "-t", row["image"], str(context))
    return str(row["image"])


def harness_run(row: dict[str, Any], patch: str, client: Any, run_id: str) -> dict[str, Any]:
    """swebench 5.0.2's own `run_instance` on `row` with `patch` (logs under ./logs/run_evaluation)."""
    from swebench.harness.run_evaluation import run_instance as swebench_run_instance

    prediction = {"instance_id": row["instance_id"], "model_patch": patch, "model_name_or_path": "codekiln"}
    done = swebench_run_instance(make_test_spec(row), prediction, client, run_id, timeout=600)
    assert done is not None, "swebench's run_instance failed; see logs/run_evaluation/*/run_instance.log"
    return done[1][row["instance_id"]]  # type: ignore[no-any-return]
