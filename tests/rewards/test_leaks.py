"""Nothing of the answer is readable in an agent's sandbox: the whole filesystem an agent sees (all but
the system's /usr, /proc, /sys and /dev) is searched, in the real task sandbox on real toolz tasks, for
the gold patch's added lines, the hidden tests' ids and their distinctive lines."""

from __future__ import annotations

from pathlib import Path

from codekiln.envs import EnvRecord
from codekiln.tasks.diffs import parse_diff
from codekiln.tasks.grade import open_task_sandbox
from codekiln.tasks.records import TaskRecord

SCAN = (
    "cat > /tmp/.needles && find / \\( -path /proc -o -path /sys -o -path /dev -o -path /usr \\) -prune "
    "-o -type f -print0 2>/dev/null | xargs -0 grep -lFf /tmp/.needles -- 2>/dev/null "
    "| grep -v '^/tmp/.needles$' || true"
)


def _added_lines(patch: str) -> list[str]:
    return [
        line.text.strip()
        for fp in parse_diff(patch)
        for hunk in fp.hunks
        for line in hunk.lines
        if line.tag == "+" and len(line.text.strip()) > 12
    ]


def _needles(task: TaskRecord, env: EnvRecord, visible: str) -> list[str]:
    snapshot = Path(env.snapshot_path)
    needles = [line for line in _added_lines(task.patch) if line not in visible]
    needles += [t for t in task.tests if t.split("::", 1)[0] in task.hidden_tests]
    for rel in task.hidden_tests:
        for line in (snapshot / rel).read_text(encoding="utf-8").splitlines():
            if len(line.strip()) >= 30 and line.strip() not in visible:
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
            found = sb.exec(["bash", "-c", SCAN], input="\n".join(needles).encode(), timeout=600)
            assert found.ok, found.output
            assert found.stdout.strip() == "", f"{task.instance_id}: the answer is readable in {found.stdout}"
            # The probe itself works: a file holding one needle is found.
            sb.write_file("/tmp/probe.txt", needles[0] + "\n")
            found = sb.exec(["bash", "-c", SCAN], input="\n".join(needles).encode(), timeout=600)
            assert "/tmp/probe.txt" in found.stdout
