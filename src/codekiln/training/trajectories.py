"""Multi-step training trajectories built from task data, played for real and replayed through the grader.

    plan = plan_turns(task, files, scaffold="swe")        # the assistant turns, from the task alone
    built = build_trajectory(task, env, scaffold="mini", format="hermes")
    built.trajectory.steps, built.resolved, built.kept, built.drop
    rows = build_trajectories(tasks, env, scaffolds=["swe", "mini"], formats=["hermes", "glm46"])

The oracle's trajectories are two steps long (apply the gold patch, submit): nothing to learn about tool
use. These show the work an engineer does, derived from the task record: search the code for the
function the bug is in (`entities`, else the patch's files), open the file around the change, reproduce
the failure (the statement's snippet when it has one, else the checkout's tests), edit (one
`str_replace` per gold hunk with the swe scaffold; a small Python replacement through bash with mini,
inside a command batch with terminus), run the check again, and submit in the scaffold's own way.

The turns are played by a `ScriptedModel` through the real `Agent` loop in a sandbox of the task's
workspace, so every observation is what the tools really printed and every turn goes through the chat
format (written out, parsed back). The agent's patch is then graded in a FRESH sandbox by the real
grader (`grade_patch`), and the episode goes through the SFT filters (`sft.drop_reason`: submitted,
resolved, only well-formed calls). Each row is shaped like a rollout line (`trajectory`, `resolved`,
`masked`), so `export_sft` and the curriculum read a file of them as they read rollouts.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.agents import SENTINEL, Agent, AgentLimits, Trajectory
from codekiln.core.diffs import FilePatch, parse_diff
from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.envs import EnvRecord
from codekiln.grading import GradeResult, grade_patch, open_task_sandbox
from codekiln.models.scripted import ScriptedModel
from codekiln.rollouts.engine import agent_patch
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.records import TaskRecord
from codekiln.training.sft import drop_reason, malformed_reason
from codekiln.training.source import to_episode

SCAFFOLDS = ("swe", "mini", "terminus")
TEST_TAIL = 15
"""Lines of test output kept in the plan's commands (`| tail -n 15`)."""


def _call(name: str, thought: str, **arguments: Any) -> dict[str, Any]:
    return {"content": thought, "tool_calls": [{"name": name, "arguments": arguments}]}


@dataclass
class Edit:
    """One gold hunk as a text replacement in `path`: `old` (context + removed lines) -> `new`."""

    path: str
    old: str
    new: str
    line: int


def hunk_edits(patch: str) -> list[Edit]:
    """The gold patch as text replacements, one per hunk (a created or deleted file cannot be one)."""
    edits = []
    for fp in parse_diff(patch):
        if fp.old_path is None or fp.new_path is None or fp.old_path != fp.new_path:
            raise ConfigError(
                f"the gold patch creates, deletes or renames {fp.path}: no str_replace can express it",
                hint="build trajectories for tasks whose gold patch only edits existing files",
            )
        for hunk in fp.hunks:
            old = "".join(ln.text + "\n" for ln in hunk.lines if ln.tag in " -")
            new = "".join(ln.text + "\n" for ln in hunk.lines if ln.tag in " +")
            edits.append(Edit(fp.path, old, new, hunk.old_start))
    return edits


def focus(task: TaskRecord, patches: Sequence[FilePatch]) -> tuple[str, str]:
    """(file, name) the work is about: the first entity (`path::name`), else the first patched file."""
    for entity in task.entities:
        path, _, name = entity.partition("::")
        if path and name:
            return path, name.split(".")[-1]
    path = patches[0].path if patches else ""
    return path, Path(path).stem


def snippet(statement: str) -> str | None:
    """The Python snippet a problem statement gives to reproduce the failure, if any."""
    start = statement.find("```python\n")
    if start < 0:
        return None
    body = statement[start + len("```python\n") :]
    end = body.find("```")
    return body[:end].strip() + "\n" if end > 0 else None


def check_command(task: TaskRecord, test_dirs: Sequence[str]) -> str:
    """A command that shows the failure (before the edit) and its fix (after): the statement's snippet
    run by Python, else the checkout's own tests near the changed code. `-B`: no bytecode is written,
    since a .pyc written before the edit matches an edit made in the same second that keeps the file's
    size (Python checks mtime in seconds and size), and the check after the edit would run the old code."""
    code = snippet(task.problem_statement)
    if code is not None:
        return f"python -B - <<'PY'\n{code}PY\necho exit=$?"
    where = " ".join(shlex.quote(d) for d in test_dirs) or "."
    return f"python -B -m pytest -q -x -p no:cacheprovider {where} 2>&1 | tail -n {TEST_TAIL}"


def python_edit(edit: Edit) -> str:
    """A bash command making one replacement with Python (the texts as JSON string literals)."""
    return (
        "python - <<'PY'\nimport pathlib\n"
        f"p = pathlib.Path({json.dumps(edit.path)})\ns = p.read_text()\n"
        f"old = {json.dumps(edit.old)}\nnew = {json.dumps(edit.new)}\n"
        "assert s.count(old) == 1, 'the text to replace is not there exactly once'\n"
        "p.write_text(s.replace(old, new))\nprint('edited', p)\nPY"
    )


def plan_turns(task: TaskRecord, files: dict[str, str], scaffold: str = "swe") -> list[dict[str, Any]]:
    """The assistant turns for `task` in `scaffold`. `files` holds the workspace text of every file the
    gold patch edits; a hunk whose old text is not there exactly once cannot be replayed."""
    if scaffold not in SCAFFOLDS:
        raise ConfigError(f"unknown scaffold {scaffold!r}", hint=f"choose one of: {', '.join(SCAFFOLDS)}")
    patches = parse_diff(task.patch)
    edits = hunk_edits(task.patch)
    for edit in edits:
        if files.get(edit.path, "").count(edit.old) != 1:
            raise ConfigError(
                f"{edit.path}: the text around line {edit.line} is not in the workspace exactly once",
                hint="the workspace must be the task's starting state (bug applied)",
            )
    path, name = focus(task, patches)
    package = path.split("/")[0] if "/" in path else "."
    tests = sorted({str(Path(p).parent) for p in task.hidden_tests} or {package})
    check = check_command(task, tests)
    first = edits[0].line if edits else 1
    lo, hi = max(1, first - 5), first + 20
    search = f"grep -rn {shlex.quote(name)} --include='*.py' {shlex.quote(package)} | head -n 20"
    view = f"nl -ba {shlex.quote(path)} | sed -n '{lo},{hi}p'"
    repro = snippet(task.problem_statement) is not None
    say = {
        "search": f"The task is about {name}. Let me find where it is defined and used.",
        "view": f"Let me read {path} around line {first}.",
        "check": "First I reproduce the failure with the snippet from the task."
        if repro
        else "First I run the tests of the checkout to see where things stand.",
        "edit": "I see the bug; fixing it.",
        "verify": "Now I run the snippet again to check the fix."
        if repro
        else "Now I rerun the tests to check that nothing else broke.",
        "submit": "The fix is in and checked; submitting.",
    }
    if scaffold == "swe":
        return [
            _call("bash", say["search"], command=search),
            _call("str_replace_editor", say["view"], command="view", path=path, view_range=[lo, hi]),
            _call("bash", say["check"], command=check),
            *(
                _call(
                    "str_replace_editor",
                    say["edit"],
                    command="str_replace",
                    path=e.path,
                    old_str=e.old,
                    new_str=e.new,
                )
                for e in edits
            ),
            _call("bash", say["verify"], command=check),
            _call("submit", say["submit"], summary=f"Fixed {name} in {path}."),
        ]
    if scaffold == "mini":
        return [
            _call("bash", say["search"], command=search),
            _call("bash", say["view"], command=view),
            _call("bash", say["check"], command=check),
            *(_call("bash", say["edit"], command=python_edit(e)) for e in edits),
            _call("bash", say["verify"], command=check),
            _call("bash", say["submit"], command=f"echo {SENTINEL}"),
        ]

    def batch(thought: str, commands: Sequence[str], complete: bool = False) -> dict[str, Any]:
        items = [{"keystrokes": c, "duration": 30} for c in commands]
        return _call(
            "execute_commands", "", analysis=thought, plan=thought, commands=items, task_complete=complete
        )

    return [
        batch(say["search"], [search, view]),
        batch(say["check"], [check]),
        batch(say["edit"], [*(python_edit(e) for e in edits), check]),
        batch(say["submit"], [], complete=True),
        batch(say["submit"], [], complete=True),
    ]


@dataclass
class Built:
    """One trajectory built for a task: played, graded in a fresh sandbox, filtered."""

    task_id: str
    scaffold: str
    format: str
    trajectory: Trajectory | None
    grade: GradeResult | None
    drop: str | None
    """Why the SFT filters drop it (sft.DROP_REASONS, or `error: ...` when it could not be built)."""

    @property
    def resolved(self) -> bool:
        return bool(self.grade and self.grade.resolved)

    @property
    def kept(self) -> bool:
        return self.drop is None

    def row(self) -> dict[str, Any]:
        """A rollouts-shaped line (`load_episodes` reads it) with the grade beside the trajectory."""
        return {
            "id": f"{self.task_id}:{self.scaffold}:{self.format}",
            "task_id": self.task_id,
            "trajectory": self.trajectory.model_dump(mode="json") if self.trajectory else None,
            "resolved": self.resolved if self.grade else None,
            "masked": self.trajectory is None or self.trajectory.infra_failure,
            "drop": self.drop,
        }


def build_trajectory(
    task: TaskRecord,
    env: EnvRecord,
    *,
    scaffold: str = "swe",
    format: str = "hermes",
    backend: str = DEFAULT_BACKEND,
    limits: AgentLimits | None = None,
) -> Built:
    """Plan `task`'s turns from its workspace, play them in `scaffold` / `format`, grade, filter."""
    try:
        with open_task_sandbox(task, env, backend) as sandbox:
            paths = {e.path for e in hunk_edits(task.patch)}
            files = {p: sandbox.read_file(p).decode("utf-8") for p in paths}
            turns = plan_turns(task, files, scaffold)
            model = ScriptedModel(turns, format=format)  # type: ignore[arg-type]
            agent = Agent(scaffold, limits or AgentLimits(max_turns=len(turns) + 1))
            traj = agent.run(task, sandbox, model)
            patch = "" if traj.infra_failure else agent_patch(task, sandbox, Path(env.snapshot_path))
        grade = None if traj.infra_failure else grade_patch(task, env, patch, backend=backend)
    except CodekilnError as err:
        return Built(task.instance_id, scaffold, format, None, None, f"error: {err.message}"[:300])
    built = Built(task.instance_id, scaffold, format, traj, grade, None)
    episode = to_episode(built.row())
    built.drop = drop_reason(episode)
    if built.drop == "malformed_calls":
        built.drop = f"malformed_calls: {malformed_reason(episode)}"
    return built


def build_trajectories(
    tasks: Sequence[TaskRecord],
    env: EnvRecord,
    *,
    scaffolds: Sequence[str] = SCAFFOLDS,
    formats: Sequence[str] = ("hermes",),
    backend: str = DEFAULT_BACKEND,
    on_built: Callable[[Built], None] | None = None,
) -> list[Built]:
    """Every task in every scaffold, the formats taken in turn (task i, scaffold j: format (i + j) % n)."""
    out = []
    for i, task in enumerate(tasks):
        for j, scaffold in enumerate(scaffolds):
            fmt = formats[(i + j) % len(formats)]
            built = build_trajectory(task, env, scaffold=scaffold, format=fmt, backend=backend)
            out.append(built)
            if on_built:
                on_built(built)
    return out


def replay_report(built: Sequence[Built]) -> dict[str, Any]:
    """How many were built, resolved when replayed through the grader, and kept by the SFT filters."""
    n = len(built)
    drops: dict[str, int] = {}
    for b in built:
        if b.drop:
            key = b.drop.split(":")[0]
            drops[key] = drops.get(key, 0) + 1
    steps = [len(b.trajectory.steps) for b in built if b.trajectory]
    return {
        "built": n,
        "resolved": sum(b.resolved for b in built),
        "resolved_rate": sum(b.resolved for b in built) / n if n else 0.0,
        "kept": sum(b.kept for b in built),
        "dropped": drops,
        "mean_steps": sum(steps) / len(steps) if steps else 0.0,
    }


__all__ = [
    "SCAFFOLDS",
    "Built",
    "Edit",
    "build_trajectories",
    "build_trajectory",
    "hunk_edits",
    "plan_turns",
    "replay_report",
]
