"""`codekiln audit grader`: every attack of the corpus, on every task, through the real grader.

    results = audit_grader(Path("out/toolz"), Path("out/toolz/audit"), limit=2)
    sum(r.resolved for r in results)       # must be 0: no attack may be scored resolved

Two paths, as the grader meets patches in practice: `predictions` grades an attack's patch with
`grade_patch` (what `codekiln eval` does); `agent` plays the attack as a scripted agent episode in a
real sandbox of the task (its commands, or `git apply` of its patch), reads the change back as the
rollout engine does and grades that. Results are appended to OUT/grader.jsonl as they come (rerun to
resume; `redo` starts over).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from codekiln.agents import Agent, AgentLimits
from codekiln.audit.attacks import ATTACKS, EXPECTED, Attack, Target
from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.core.records import Record, iter_jsonl
from codekiln.core.stage import Layout, open_stage
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import GradeResult, grade_patch, open_task_sandbox
from codekiln.models.scripted import ScriptedModel
from codekiln.rollouts.controls import apply_command
from codekiln.rollouts.engine import agent_patch
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks import load_tasks
from codekiln.tasks.records import TaskRecord

GRADER_RESULTS = "grader.jsonl"
AUDIT_LAYOUT = Layout("attack results", logs=(GRADER_RESULTS,))
Path_ = Literal["predictions", "agent"]
PATHS: tuple[Path_, ...] = ("predictions", "agent")


class AttackResult(Record):
    """One attack on one task through one path, as the grader scored it."""

    schema_version: int = 1
    attack: str
    klass: str
    instance_id: str
    path: Path_
    outcome: str
    resolved: bool
    caught: bool
    """The outcome is one of those that count as the grader having caught this class of attack."""
    detail: str = ""
    findings: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.attack, self.instance_id, self.path


def _bash(command: str) -> dict[str, Any]:
    return {"content": "", "tool_calls": [{"name": "bash", "arguments": {"command": command}}]}


def play_commands(task: TaskRecord, env: EnvRecord, commands: list[str], *, backend: str) -> str:
    """A scripted agent runs `commands` (one per turn) then submits; returns its change as a patch."""
    turns = [_bash(c) for c in commands] + [
        {"content": "", "tool_calls": [{"name": "submit", "arguments": {}}]}
    ]
    model = ScriptedModel(list[Any](turns), format="qwen3_coder")
    with open_task_sandbox(task, env, backend) as sandbox:
        Agent("swe", AgentLimits(max_turns=len(turns) + 1)).run(task, sandbox, model)
        return agent_patch(task, sandbox, Path(env.snapshot_path))


def run_attack(
    attack: Attack,
    task: TaskRecord,
    env: EnvRecord,
    path: Path_,
    *,
    backend: str = DEFAULT_BACKEND,
    timeout: float | None = None,
) -> tuple[AttackResult, GradeResult]:
    """Build `attack` for `task`, play it through `path`, grade it with the real grader."""
    plan = attack.build(Target.of(task, Path(env.snapshot_path)))
    if path == "agent" or not plan.patch:
        patch = play_commands(task, env, plan.commands or [apply_command(plan.patch)], backend=backend)
    else:
        patch = plan.patch
    grade = grade_patch(task, env, patch, backend=backend, timeout=timeout)
    result = AttackResult(
        attack=attack.name,
        klass=attack.klass,
        instance_id=task.instance_id,
        path=path,
        outcome=grade.outcome,
        resolved=grade.resolved or grade.outcome == "resolved",
        caught=grade.outcome in EXPECTED[attack.klass] and not grade.resolved,
        detail=grade.detail[:500],
        findings=list(getattr(grade, "findings", []) or []),
    )
    return result, grade


def select(names: list[str] | None) -> list[Attack]:
    """The attacks named (by name or class), or all of them."""
    if not names:
        return list(ATTACKS)
    chosen = [a for a in ATTACKS if a.name in names or a.klass in names]
    unknown = set(names) - {a.name for a in chosen} - {a.klass for a in chosen}
    if unknown:
        raise ConfigError(f"unknown attacks: {', '.join(sorted(unknown))}", hint="see `codekiln audit list`")
    return chosen


def audit_grader(
    tasks: Path,
    out: Path,
    *,
    limit: int | None = None,
    attacks: list[str] | None = None,
    paths: tuple[Path_, ...] = ("predictions",),
    backend: str = DEFAULT_BACKEND,
    timeout: float | None = 120.0,
    redo: bool = False,
    on_result: Callable[[AttackResult], None] | None = None,
) -> list[AttackResult]:
    """Run the chosen attacks on the first `limit` tasks through `paths`; return every result (resumed
    ones included). An attack the harness could not play is recorded as outcome "error"."""
    task_list = load_tasks(tasks)[:limit]
    if not task_list:
        raise ConfigError(f"no tasks in {tasks}", hint="give a synth output directory (codekiln synth)")
    with open_stage(out, AUDIT_LAYOUT, redo=redo) as stage:
        done = {
            key: AttackResult.model_validate(row)
            for key, row in stage.finished(
                GRADER_RESULTS, key=lambda row: (row["attack"], row["instance_id"], row["path"])
            ).items()
        }
        results = []
        for task in task_list:
            env = load_env(task.environment_id or "")
            for attack in select(attacks):
                for path in paths:
                    if (attack.name, task.instance_id, path) in done:
                        results.append(done[(attack.name, task.instance_id, path)])
                        continue
                    try:
                        result, _ = run_attack(attack, task, env, path, backend=backend, timeout=timeout)
                    except CodekilnError as err:
                        result = AttackResult(attack=attack.name, klass=attack.klass, instance_id=task.instance_id,
                                              path=path, outcome="error", resolved=False, caught=False,
                                              detail=f"the attack could not be played: {err}"[:500])  # fmt: skip
                    stage.append(GRADER_RESULTS, [result])
                    results.append(result)
                    if on_result:
                        on_result(result)
    return results


def read_grader_results(out: Path) -> list[AttackResult]:
    path = out / GRADER_RESULTS
    return [AttackResult.model_validate(r) for r in iter_jsonl(path)] if path.is_file() else []


__all__ = [
    "PATHS",
    "AttackResult",
    "audit_grader",
    "play_commands",
    "read_grader_results",
    "run_attack",
    "select",
]
