"""Run exported Harbor tasks the way Harbor 0.25 does, with podman, on a machine that cannot pull images.

- The public base image named by the export's Dockerfile (`FROM python:3.11.7`) is stood in for by
  codekiln's locally built skeleton image tagged with that name; builds and containers bind the host's
  /usr and /etc read-only (Debian bookworm with Python 3.11 and git: what the official python image
  is), so the exported Dockerfile itself is built unchanged. Builds get the host network for pip.
- A trial: an agent container from the task image runs the agent's commands in /testbed; its /testbed
  is copied (as Harbor's `artifacts` entry is) into a fresh verifier container from the same image,
  tests/ is uploaded to /tests, `bash /tests/test.sh` runs, and /logs/verifier comes back.
- `harbor_lint` runs the real `harbor lint` (harbor==0.25.0 needs Python >= 3.12) in a Debian trixie
  container built once with debootstrap and pip.
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from codekiln.core import proc
from codekiln.sandbox.image import ensure_base_image
from codekiln.sandbox.podman import problem
from codekiln.tasks.export.harbor import export_harbor_task
from codekiln.tasks.records import TaskRecord

PODMAN = ["podman"]
RUN_FLAGS = ["--runtime", "runc", "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]
HOST_BINDS = ["-v", "/usr:/usr:ro", "-v", "/etc:/etc:ro"]
HARBOR_IMAGE = "localhost/codekiln-harbor:0.25.0"


def podman_problem() -> str | None:
    """Why these tests cannot run podman here, or None."""
    reason = problem("podman")
    if reason:
        return reason
    res = proc.run(["podman", "info", "--format", "{{.Host.OCIRuntime.Name}}"], timeout=60)
    return None if res.exit_code == 0 else f"podman info failed: {proc.tail(res.stderr)}"


def podman(*args: str, timeout: float = 600) -> proc.ProcResult:
    res = proc.run([*PODMAN, *args], timeout=timeout)
    assert res.exit_code == 0, f"podman {' '.join(args[:3])} failed: {res.stdout[-2000:]}{res.stderr[-2000:]}"
    return res


def build_task_image(task_dir: Path) -> str:
    """Build the task's environment/ with its Dockerfile as exported; returns the image tag."""
    base = re.search(r"^FROM (\S+)", (task_dir / "environment/Dockerfile").read_text(), re.M)
    assert base, "the exported Dockerfile names no base image"
    name = base[1] if "/" in base[1] else f"docker.io/library/{base[1]}"
    podman("tag", ensure_base_image("podman"), name)
    tag = f"localhost/codekiln-harbor-task:{secrets.token_hex(4)}"
    podman("build", *RUN_FLAGS, "--network", "host", *HOST_BINDS, "-t", tag, str(task_dir / "environment"))
    return tag


def _container(image: str) -> str:
    name = f"codekiln-harbor-{secrets.token_hex(4)}"
    podman("run", "--detach", "--rm", "--init", "--name", name, *RUN_FLAGS, "--network", "none",
           *HOST_BINDS, image, "sleep", "infinity")  # fmt: skip
    return name


def run_trial(image: str, task_dir: Path, agent_commands: str, out: Path) -> tuple[str, dict]:
    """One trial with a separate verifier; returns (reward.txt's text, grade.json)."""
    agent, verifier = _container(image), _container(image)
    try:
        podman("cp", str(task_dir / "solution"), f"{agent}:/solution")
        podman("exec", "--workdir", "/testbed", agent, "bash", "-c", agent_commands)
        # Harbor's artifacts: the verifier's /testbed is emptied, then filled with the agent's.
        tree = subprocess.run([*PODMAN, "exec", agent, "tar", "-C", "/testbed", "-cf", "-", "."],
                              capture_output=True, check=True, timeout=300).stdout  # fmt: skip
        podman("exec", verifier, "bash", "-c", "rm -rf /testbed && mkdir /testbed")
        subprocess.run([*PODMAN, "exec", "-i", verifier, "tar", "-C", "/testbed", "-xf", "-"],
                       input=tree, capture_output=True, check=True, timeout=300)  # fmt: skip
        podman("cp", str(task_dir / "tests"), f"{verifier}:/tests")
        ran = proc.run([*PODMAN, "exec", verifier, "bash", "/tests/test.sh"], timeout=900)
        podman("cp", f"{verifier}:/logs/verifier", str(out))
    finally:
        subprocess.run([*PODMAN, "rm", "--force", "--time", "0", agent, verifier], capture_output=True)
    grade = json.loads((out / "grade.json").read_text()) if (out / "grade.json").is_file() else {}
    assert grade, f"the verifier wrote no grade.json: {ran.stdout[-3000:]}{ran.stderr[-3000:]}"
    return (out / "reward.txt").read_text().strip(), grade


def remove_image(tag: str) -> None:
    subprocess.run([*PODMAN, "rmi", "--force", tag], capture_output=True)


def applying(patch: str) -> str:
    """An agent's commands that apply `patch` in /testbed with git."""
    return f"git apply - <<'CODEKILN_EOF'\n{patch}CODEKILN_EOF\n"


class Trials:
    """Harbor trials of exported tasks: each task is exported and its image built once, its oracle trial
    (`bash /solution/solve.sh`) run once, however many trials use it; every trial gets fresh containers
    from the image, so trials share nothing else. `trials()` removes the images at the end."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.images: dict[str, tuple[Path, str]] = {}
        self.oracles: dict[str, tuple[str, dict]] = {}

    def exported(self, task: TaskRecord) -> tuple[Path, str]:
        """(the exported task's folder, its image), made on first use."""
        if task.instance_id not in self.images:
            folder = export_harbor_task(task, self.work / task.instance_id / "export")
            self.images[task.instance_id] = (folder, build_task_image(folder))
        return self.images[task.instance_id]

    def run(self, task: TaskRecord, agent_commands: str) -> tuple[str, dict]:
        """A trial of `task` whose agent runs `agent_commands`: (reward.txt's text, grade.json)."""
        folder, image = self.exported(task)
        out = self.work / task.instance_id / f"trial-{secrets.token_hex(4)}"
        return run_trial(image, folder, agent_commands, out)

    def oracle(self, task: TaskRecord) -> tuple[str, dict]:
        """`task`'s oracle trial (`bash /solution/solve.sh`), run once: (reward.txt's text, grade.json)."""
        if task.instance_id not in self.oracles:
            self.oracles[task.instance_id] = self.run(task, "bash /solution/solve.sh")
        return self.oracles[task.instance_id]


@contextmanager
def trials(work: Path) -> Iterator[Trials]:
    """Harbor trials under `work` (see `Trials`); their images are removed on exit."""
    made = Trials(work)
    try:
        yield made
    finally:
        for _, image in made.images.values():
            remove_image(image)


HARBOR_DOCKERFILE = """FROM localhost/codekiln-trixie:python3
RUN python3 -m venv /opt/harbor && PIP_CERT=/host-ca.crt /opt/harbor/bin/pip install --no-cache-dir harbor==0.25.0
"""


def ensure_harbor_image(scratch: Path) -> str:
    """An image with harbor==0.25.0 (Debian trixie's Python 3.13: harbor needs >= 3.12, this host has
    3.11). Built once (debootstrap ~40 s, pip ~70 s) and kept; the host's CA bundle is bound for pip."""
    if proc.run([*PODMAN, "image", "exists", HARBOR_IMAGE], timeout=60).exit_code == 0:
        return HARBOR_IMAGE
    rootfs = scratch / "rootfs"
    res = proc.run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
                    "trixie", str(rootfs), "http://deb.debian.org/debian"], timeout=900)  # fmt: skip
    assert res.exit_code == 0, f"debootstrap failed (apt-get install debootstrap): {res.stderr[-2000:]}"
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        [*PODMAN, "import", "-", "localhost/codekiln-trixie:python3"], stdin=tar.stdout, check=True
    )
    tar.wait()
    (scratch / "Dockerfile").write_text(HARBOR_DOCKERFILE)
    podman("build", *RUN_FLAGS, "--network", "host", "-v", "/etc/ssl/certs/ca-certificates.crt:/host-ca.crt:ro",
           "-t", HARBOR_IMAGE, str(scratch), timeout=1200)  # fmt: skip
    return HARBOR_IMAGE


def harbor(tasks_dir: Path, script: str) -> proc.ProcResult:
    """Run a shell script in the harbor image with `tasks_dir` at /tasks (read-only), no network."""
    return proc.run([*PODMAN, "run", "--rm", *RUN_FLAGS, "--network", "none", "-v", f"{tasks_dir}:/tasks:ro",
                     HARBOR_IMAGE, "sh", "-c", script], timeout=300)  # fmt: skip
