"""Nothing of the answer is readable in an agent's sandbox: the whole filesystem an agent sees (all but
the system's /usr, /proc, /sys, /dev and the interpreter's standard library) is searched, in the real task sandbox on real toolz tasks, for
the gold patch's added lines, the hidden tests' ids and their distinctive lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.core.diffs import parse_diff
from codekiln.core.protocols import ExecResult, Sandbox
from codekiln.envs import EnvRecord
from codekiln.grading import open_task_sandbox
from codekiln.tasks.records import TaskRecord

pytestmark = pytest.mark.root  # searches the real task sandbox

SCAN = (
    'cat > /tmp/.needles && find / \\( -path /proc -o -path /sys -o -path /dev -o -path /usr -o -path "$STDLIB" \\) -prune '
    "-o -type f -print0 2>/dev/null | xargs -0 grep -lFf /tmp/.needles -- 2>/dev/null "
    "| grep -v '^/tmp/.needles$' || true"
)


def scan(sb: Sandbox, needles: list[str]) -> ExecResult:
    """Files holding any needle, anywhere the sandbox's processes can read (the stdlib aside)."""
    stdlib = sb.exec(
        ["python", "-c", "import sysconfig; print(sysconfig.get_paths()['stdlib'])"]
    ).stdout.strip()
    return sb.exec(
        ["bash", "-c", SCAN], input="\n".join(needles).encode(), timeout=600, env={"STDLIB": stdlib}
    )


def _added_lines(patch: str) -> list[str]:
    return [
        line.text.strip()
        for fp in parse_diff(patch)
        for hunk in fp.hunks
        for line in hunk.lines
        if line.tag == "+" and len(line.text.strip()) > 12
    ]


def _common_lines(env: EnvRecord, package: str) -> set[str]:
    """Lines of the tools the venv holds (pip, setuptools, pytest...), not of the task's own library:
    a fix line that also appears there is no leak of the fix."""
    out: set[str] = set()
    for path in Path(env.venv).glob("lib/python3*/site-packages/**/*.py"):
        if any(part.lower().startswith(package) for part in path.parts[-4:]):
            continue
        out.update(line.strip() for line in path.read_text(encoding="utf-8", errors="replace").splitlines())
    return out


def _needles(task: TaskRecord, env: EnvRecord, visible: str) -> list[str]:
    snapshot = Path(env.snapshot_path)
    common = _common_lines(env, task.repo.lower())
    needles = [line for line in _added_lines(task.patch) if line not in visible and line not in common]
    needles += [t for t in task.tests if t.split("::", 1)[0] in task.hidden_tests]
    for rel in task.hidden_tests:
        for line in (snapshot / rel).read_text(encoding="utf-8").splitlines():
            if len(line.strip()) >= 30 and line.strip() not in visible and line.strip() not in common:
                needles.append(line.strip())
    return sorted(set(needles))


def test_no_answer_is_readable_in_the_agents_sandbox(tasks: list[TaskRecord], env: EnvRecord) -> None:
    for task in tasks:
        assert task.hidden_tests and task.patch.strip()
        with open_task_sandbox(task, env) as sb:
            visible = sb.exec(
                "find . -name .git -prune -o -type f -name '*.py' -print0 | xargs -0 cat", timeout=120
            ).stdout
            needles = _needles(task, env, visible)
            assert needles, "the scan needs something to look for"
            found = scan(sb, needles)
            assert found.ok, found.output
            assert found.stdout.strip() == "", f"{task.instance_id}: the answer is readable in {found.stdout}"
            # The probe itself works: a file holding one needle is found.
            sb.write_file("/tmp/probe.txt", needles[0] + "\n")
            found = scan(sb, needles)
            assert "/tmp/probe.txt" in found.stdout
