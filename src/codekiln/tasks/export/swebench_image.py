"""The instance image of an exported SWE-bench row (`tasks.export.swebench`): its build context's files.

    image_files(task, env)   # {"Dockerfile": ..., "requirements.txt": ..., "verifier_files.py": ...}

Built with `task.bundle` beside them (`docker build -t <image> images/<instance_id>`): FROM the public
`python:<version>` image, /testbed cloned at `base_commit` from the bundle, the environment's pinned
packages in a venv on PATH, the project installed editable, the tree as the install left it recorded
(`swebench_guard.INSTALLED`), and the git directory moved out of /testbed to `swebench_guard.GIT_HOME`,
named by `GIT_DIR` / `GIT_WORK_TREE` in the image's environment: every command the harness runs there
(its `git apply`, its `git diff`, the eval script) uses it, and no patch it applies can write it (git
refuses paths under `.git`; its last resort, GNU `patch`, writes only under /testbed, where a `.git`
is then an ordinary folder that no git command reads and that the row's check rejects).
"""

from __future__ import annotations

import shlex

from codekiln.envs import EnvRecord
from codekiln.grading import shipped
from codekiln.sandbox.base import VENV_DIR, WORKDIR
from codekiln.tasks.export import swebench_guard as sg
from codekiln.tasks.export.harbor_payload import base_image, requirements, venv_install
from codekiln.tasks.records import TaskRecord

_TREE_STATE = (
    "import json, pathlib, sys; sys.path.insert(0, '/tmp/codekiln-task'); import verifier_files; "
    f"pathlib.Path({sg.INSTALLED!r}).write_text(json.dumps(verifier_files.tree_state(pathlib.Path({WORKDIR!r}))))"
)
"""Records /testbed as the install left it (`verifier_files.tree_state`, the row's check's own reading)."""


def image_dockerfile(task: TaskRecord, env: EnvRecord) -> str:
    """The instance image: a public Python image, /testbed cloned at the task's branch from `task.bundle`
    (so HEAD is `base_commit`), the environment's pinned packages and the project installed editable."""
    return (
        f"# {task.instance_id}: the instance image swebench's harness runs it in (the environment {env.id},\n"
        f"# {env.name} {env.version or ''}, with /testbed at the task's base_commit).\n"
        f"FROM {base_image(env)}\n"
        "COPY requirements.txt task.bundle verifier_files.py /tmp/codekiln-task/\n"
        f"RUN git clone -q --branch {shlex.quote(task.instance_id)} --single-branch /tmp/codekiln-task/task.bundle "
        f"{WORKDIR} \\\n"
        f"    && git -C {WORKDIR} remote remove origin \\\n"
        + "".join(f"    && {line} \\\n" for line in venv_install(env))
        # the install rewrites metadata in the tree (egg-info): back to the commit
        + f"    && git -C {WORKDIR} checkout -q -- . \\\n"
        # what the install left in the tree, then the git directory out of it, where `patch` (the
        # harness's last way to apply) cannot write
        f"    && mkdir -m 0700 -p {sg.GIT_HOME.rsplit('/', 1)[0]} && python3 -I -c {shlex.quote(_TREE_STATE)} \\\n"
        f"    && mv {WORKDIR}/.git {sg.GIT_HOME} \\\n"
        "    && rm -rf /tmp/codekiln-task\n"
        f"ENV VIRTUAL_ENV={VENV_DIR} PATH={VENV_DIR}/bin:$PATH "
        + " ".join(f"{k}={v}" for k, v in sg.IMAGE_ENV.items())
        + "\n"
        f"WORKDIR {WORKDIR}\n"
    )


def image_files(task: TaskRecord, env: EnvRecord) -> dict[str, str]:
    """The build context's files but `task.bundle`: Dockerfile, requirements.txt, verifier_files.py."""
    return {
        "Dockerfile": image_dockerfile(task, env),
        "requirements.txt": requirements(env),
        "verifier_files.py": (shipped.FOLDER / "verifier_files.py").read_text(encoding="utf-8"),
    }
