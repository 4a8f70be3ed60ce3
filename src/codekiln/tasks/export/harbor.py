"""Export tasks as Harbor task folders (the Terminal-Bench / Harbor format; checked with Harbor 0.25).

    export_harbor(tasks, Path("harbor-tasks"))        # one folder per task, named by instance_id

Each folder holds:

    task.toml               schema_version, [metadata] (+ [metadata.codekiln] provenance), artifacts,
                            [verifier] (a separate container), [agent], [environment]
    instruction.md          the problem statement
    environment/            Dockerfile FROM a public python image, the snapshot (testbed.tar.gz), the
                            pinned packages (requirements.txt), prepare.sh and bug.patch (`harbor_payload`)
    tests/test.sh           runs tests/codekiln/verifier.py: the grader's rules, isolation and checks
    tests/codekiln/         the standalone verifier, its modules, task.json and state.json
    solution/solve.sh       applies the gold patch (what Harbor's oracle agent runs)

The verifier runs in a separate container (`environment_mode = "separate"`): Harbor builds it from the
same environment/, copies the agent's /testbed into it (the `artifacts` entry) and only then uploads
tests/, so nothing of the verifier, the hidden tests or the venv the agent may have touched is in the
agent's reach. It writes /logs/verifier/reward.txt (1 only when resolved) and grade.json (the outcome:
resolved, unresolved, rejected, tampered, timeout or error, with its evidence).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from codekiln.core.errors import TaskError
from codekiln.core.records import atomic_write_bytes
from codekiln.core.sources import text_bytes
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import GradePolicy
from codekiln.grading.collateral import graded_pass_to_pass
from codekiln.grading.limits import verifier_limit
from codekiln.grading.manifests import scrubbed_manifests
from codekiln.sandbox.base import WORKDIR
from codekiln.tasks.export.harbor_payload import environment_files, twin_state, verifier_files
from codekiln.tasks.records import TaskRecord

SCHEMA_VERSION = "1.4"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def to_toml(tables: dict[str, Any]) -> str:
    """A small TOML writer for scalars, lists of scalars and (nested) tables."""
    lines: list[str] = []

    def emit(prefix: str, table: dict[str, Any]) -> None:
        scalars = {k: v for k, v in table.items() if not isinstance(v, dict) and v is not None}
        if prefix:
            lines.append(f"\n[{prefix}]")
        lines.extend(f"{k} = {_toml_value(v)}" for k, v in scalars.items())
        for key, sub in table.items():
            if isinstance(sub, dict):
                emit(f"{prefix}.{key}" if prefix else key, sub)

    emit("", tables)
    return "\n".join(lines).lstrip("\n") + "\n"


def task_toml(task: TaskRecord, *, agent_timeout_s: float, verifier_timeout_s: float) -> str:
    level = task.difficulty.level if task.difficulty else "medium"
    return to_toml(
        {
            "schema_version": SCHEMA_VERSION,
            # The agent's repository is all that reaches the separate verifier container.
            "artifacts": [WORKDIR],
            "metadata": {
                "author_name": "codekiln",
                "difficulty": level,
                "category": "debugging",
                "tags": ["python", "bug-fix", str(task.source), *task.mutators],
                "codekiln": {
                    "instance_id": task.instance_id,
                    "repo": task.repo,
                    "base_commit": task.base_commit,
                    "environment_id": task.environment_id or "",
                    "source": str(task.source),
                    "mutators": task.mutators,
                    "entities": task.entities,
                    "content_hash": task.content_hash,
                    "hidden_tests": task.hidden_tests,
                    "fail_to_pass": len(task.FAIL_TO_PASS),
                    "pass_to_pass": len(task.PASS_TO_PASS),
                    "schema_version": task.schema_version,
                },
            },
            "verifier": {"timeout_sec": float(verifier_timeout_s), "environment_mode": "separate"},
            "agent": {"timeout_sec": float(agent_timeout_s)},
            "environment": {
                "build_timeout_sec": 900.0,
                "cpus": 1,
                "memory_mb": 4096,
                "storage_mb": 10240,
                "network_mode": "no-network",
            },
        }
    )


def _q(paths: Iterable[str]) -> str:
    return " ".join(shlex.quote(p) for p in paths)


SCRUB_PY = (
    "import sys; p, *h = sys.argv[1:]; t = open(p, encoding='utf-8', newline='').read(); "
    "open(p, 'w', encoding='utf-8', newline='').write("
    "''.join(x for x in t.splitlines(keepends=True) if not any(n in x for n in h)))"
)
"""Drops the lines of a build manifest that name a hidden test (python3 is in every task image)."""


def prepare_sh(task: TaskRecord, manifests: Iterable[str] = ()) -> str:
    """The script that makes the agent's starting state in the image; `manifests`: build file lists
    that name the hidden tests (`grading.manifests`), which lose those lines."""
    apply_bug = (
        'git apply --whitespace=nowarn "$here/bug.patch"'
        if task.bug_patch
        else ": no bug patch: the base is the buggy state"
    )
    remove = f"rm -f -- {_q(task.hidden_tests)}" if task.hidden_tests else ": no hidden tests"
    for rel in sorted(manifests):  # exactly as grading.manifests.scrubbed_manifests does
        remove += f"\npython3 -c {shlex.quote(SCRUB_PY)} {_q([rel, *task.hidden_tests])}"
    return f"""#!/usr/bin/env bash
# Turns the clean snapshot into the task's starting state: applies the bug, removes the tests that
# would reveal it, and restarts git history so the change cannot be read back from it.
set -euo pipefail
here="$(cd "$(dirname "${{BASH_SOURCE[0]}}")" && pwd)"
cd "${{1:-/testbed}}"
{apply_bug}
{remove}
find . -name __pycache__ -type d -prune -exec rm -rf {{}} +
rm -rf .git
git init -q
git add -A
git -c user.name=codekiln -c user.email=codekiln@localhost commit -q --no-verify -m "task start"
"""


TEST_SH = """#!/usr/bin/env bash
# Grades the agent's /testbed as `codekiln eval` grades a patch (see codekiln/verifier.py): changed
# paths from the pre-agent manifest, the grader's reject/restore/shadow rules and static scan, the
# hidden tests restored, pytest isolated and guarded with canaries, the report cross-checked.
# Writes $LOGS_DIR/reward.txt (1 only when resolved) and $LOGS_DIR/grade.json.
# `-I -S`: the verifier (root) imports nothing of the venv's site (whose .pth names the tree) or the tree.
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOGS_DIR="${LOGS_DIR:-/logs/verifier}"
mkdir -p "$LOGS_DIR"
echo 0 > "$LOGS_DIR/reward.txt"
"${VERIFIER_PYTHON:-python3}" -I -S "$here/codekiln/verifier.py" --testbed "${TESTBED:-/testbed}" --logs "$LOGS_DIR"
"""


def solve_sh(task: TaskRecord) -> str:
    marker = "CODEKILN_GOLD_PATCH_" + hashlib.sha256(text_bytes(task.patch)).hexdigest()[:12]
    if marker in task.patch:
        raise TaskError(
            "gold patch contains its own heredoc marker", hint="this should never happen; report it"
        )
    body = task.patch if task.patch.endswith("\n") else task.patch + "\n"
    return f"""#!/usr/bin/env bash
# The reference solution (run by Harbor's oracle agent): applies the gold patch.
set -euo pipefail
cd "${{TESTBED:-/testbed}}"
git apply --whitespace=nowarn - <<'{marker}'
{body}{marker}
"""


def export_harbor_task(
    task: TaskRecord,
    out_dir: Path,
    *,
    env: EnvRecord | None = None,
    agent_timeout_s: float = 1800.0,
    verifier_timeout_s: float = 900.0,
    policy: GradePolicy | None = None,
) -> Path:
    """Write one Harbor task folder `out_dir/<instance_id>` and return it (existing files are replaced).
    `env`: the task's environment (default: the built one named by `task.environment_id`)."""
    if not task.problem_statement.strip():
        raise TaskError(f"{task.instance_id} has no problem statement", hint="write one before exporting")
    if not task.tests:
        raise TaskError(f"{task.instance_id} lists no tests", hint="validate the task before exporting")
    if env is None:
        if not task.environment_id:
            raise TaskError(
                f"{task.instance_id} names no environment",
                hint="pass env= or rebuild the task with codekiln synth",
            )
        env = load_env(task.environment_id)
    # The verifier grades what codekiln's grader grades: a synthesized task made before PASS_TO_PASS
    # held the hidden files' other clean-passing tests gets them from the environment's baseline.
    task = task.model_copy(update={"PASS_TO_PASS": graded_pass_to_pass(task, env)})
    root = Path(out_dir) / task.instance_id
    twin = twin_state(task, env, policy or GradePolicy())
    # With a kept twin a tree is run twice, on its tests and on their twin (`grading.verifier_twin`): both fit.
    test_timeout = verifier_limit(env, verifier_timeout_s, 2 if twin else 1)
    files: dict[str, str | bytes] = {
        "task.toml": task_toml(task, agent_timeout_s=agent_timeout_s, verifier_timeout_s=verifier_timeout_s),
        "instruction.md": task.problem_statement.rstrip() + "\n",
        "environment/prepare.sh": prepare_sh(
            task, scrubbed_manifests(Path(env.snapshot_path), task.hidden_tests)
        ),
        "tests/test.sh": TEST_SH,
        "solution/solve.sh": solve_sh(task),
        **environment_files(task, env),
        **verifier_files(task, env, timeout_s=test_timeout, policy=policy, twin=twin),
    }
    if task.bug_patch:
        files["environment/bug.patch"] = task.bug_patch
    for rel, content in files.items():
        if isinstance(content, bytes):
            atomic_write_bytes(root / rel, content)
        else:  # patches hold a latin-1 file's own bytes (`core.sources`): written back as those bytes
            atomic_write_bytes(root / rel, text_bytes(content))
        if rel.endswith(".sh"):
            (root / rel).chmod(0o755)
    return root


def export_harbor(tasks: Iterable[TaskRecord], out_dir: Path, **options: Any) -> list[Path]:
    """Export every task; returns the folders written."""
    return [export_harbor_task(task, out_dir, **options) for task in tasks]
