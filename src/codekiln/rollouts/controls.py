"""Control policies: `oracle` applies the task's gold patch and submits, `noop` submits at once.

    model = control_model("oracle", task, scaffold="swe", format="qwen3_coder")
    traj = Agent("swe").run(task, sandbox, model)             # resolves every valid task

They check the whole pipeline end to end: the oracle must resolve 100% of valid tasks and the noop 0%
(`codekiln rollout --model oracle` / `--model noop`). Both are `ScriptedModel`s, so their turns go
through the chat format exactly like a real model's (written out in the format, then parsed back), and
they speak each scaffold's own tool vocabulary:

- swe: `bash` applies the patch, then `submit`.
- mini: `bash` applies the patch, then `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`.
- terminus: `execute_commands` with the apply command and task_complete, then task_complete again.

The patch travels base64-encoded inside the command (`base64 -d | git apply`), so no quoting, heredoc
delimiter or chat-format escaping can alter it. An oracle needs its task, so it is built per episode.
"""

from __future__ import annotations

import base64
from typing import Any

from codekiln.agents.scaffolds import SENTINEL
from codekiln.core.errors import ConfigError
from codekiln.models.base import DEFAULT_FORMAT
from codekiln.models.scripted import ScriptedModel
from codekiln.tasks.records import TaskRecord

CONTROLS = ("oracle", "noop")


def apply_command(patch: str) -> str:
    """A shell command that applies `patch` in the workspace (through a pipe: no copy of it is left on
    disk) and shows what changed."""
    blob = base64.b64encode(patch.encode("utf-8", "surrogateescape")).decode()  # a latin-1 file's own bytes
    return (
        f"printf '%s' '{blob}' | base64 -d | git -c safe.directory='*' apply --whitespace=nowarn - && "
        "git -c safe.directory='*' diff --stat"
    )


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"content": "", "tool_calls": [{"name": name, "arguments": arguments}]}


def control_script(policy: str, scaffold: str, patch: str = "") -> list[dict[str, Any]]:
    """The assistant turns of `policy` ("oracle" applies `patch`, "noop" does nothing) in `scaffold`."""
    if policy not in CONTROLS:
        raise ConfigError(f"unknown control policy {policy!r}", hint=f"choose one of: {', '.join(CONTROLS)}")
    work = [apply_command(patch)] if policy == "oracle" and patch.strip() else []
    if scaffold == "swe":
        return [*(_call("bash", command=c) for c in work), _call("submit")]
    if scaffold == "mini":
        return [*(_call("bash", command=c) for c in work), _call("bash", command=f"echo {SENTINEL}")]
    if scaffold == "terminus":
        commands = [{"keystrokes": c, "duration": 60} for c in work]
        turn = _call("execute_commands", analysis="", plan="", commands=commands, task_complete=True)
        done = _call("execute_commands", analysis="", plan="", commands=[], task_complete=True)
        return [turn, done]
    raise ConfigError(
        f"the control policies do not know the scaffold {scaffold!r}", hint="use swe, mini or terminus"
    )


class ControlModel(ScriptedModel):
    """A scripted control policy for one task; `name` is the policy's name."""

    def __init__(
        self, policy: str, task: TaskRecord, *, scaffold: str = "swe", format: str = DEFAULT_FORMAT
    ) -> None:
        patch = task.patch if policy == "oracle" else ""
        super().__init__(control_script(policy, scaffold, patch), format=format)  # type: ignore[arg-type]
        self.name = policy


def is_control(spec: str) -> bool:
    """True when a model spec names a control policy."""
    return spec.strip() in CONTROLS


def control_model(
    policy: str, task: TaskRecord, *, scaffold: str = "swe", format: str | None = None
) -> ControlModel:
    """The control policy `policy` for one task."""
    return ControlModel(policy, task, scaffold=scaffold, format=format or DEFAULT_FORMAT)
