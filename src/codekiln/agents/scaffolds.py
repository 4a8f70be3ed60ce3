"""Scaffolds: the prompts, tools and rules one kind of agent plays by, all run by the same `Agent` loop.

    SCAFFOLDS.names()                 # ['mini', 'swe', 'terminus']
    scaffold = SCAFFOLDS.load("swe")()

- `mini` (after mini-swe-agent): one `bash` tool, exactly one call per turn; the episode ends when a
  command's output starts with the line COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT (the rest is the submission).
- `swe` (after SWE-agent / OpenHands): `bash`, `str_replace_editor` and `submit`; any number of calls a turn.
- `terminus` (after Terminus): one `execute_commands` tool taking a batch `{"commands": [{"keystrokes",
  "duration"}], "task_complete"}`; the chat format writes the batch as JSON or XML. `task_complete: true`
  once asks for confirmation; true again (next turn) submits, false withdraws it.

A scaffold is a plain class: `start()` (fresh tools and state per episode), `system_prompt()`,
`instance_prompt(task)`, `check(calls)` (a rule broken -> the error fed back as a format error),
`execute(call, sandbox, timeout)` -> Observation (raises `Submitted` to finish) and `format_error_prompt`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from codekiln.agents.editor import EditorTool
from codekiln.agents.guard import RepoGuard
from codekiln.agents.records import Observation
from codekiln.agents.tools import (
    DEFAULT_MAX_CHARS,
    BashTool,
    Submitted,
    SubmitTool,
    Tool,
    check_args,
    run_command,
)
from codekiln.core.protocols import Sandbox
from codekiln.core.registry import Registry

SCAFFOLDS = Registry(
    "scaffold",
    {
        "mini": "codekiln.agents.scaffolds:MiniScaffold",
        "swe": "codekiln.agents.scaffolds:SweScaffold",
        "terminus": "codekiln.agents.scaffolds:TerminusScaffold",
    },
)

INSTANCE = (
    "<task>\n{task}\n</task>\n\nThe repository is checked out at /testbed (your working directory). Make "
    "the changes the task asks for in the source files; do not modify the tests unless told to."
)


class Scaffold(ABC):
    """Base class: a name, prompts, a tool set (`make_tools`, which a subclass implements), and how calls
    are checked and run."""

    name: ClassVar[str] = ""
    system_template: ClassVar[str] = ""
    rule: ClassVar[str] = "call a tool"

    def __init__(self, max_output_chars: int = DEFAULT_MAX_CHARS) -> None:
        self.max_output_chars = max_output_chars
        self.guard: RepoGuard | None = None
        self.tools: list[Tool] = self.make_tools()

    @abstractmethod
    def make_tools(self) -> list[Tool]:
        """A fresh set of this scaffold's tools (called once per episode, so tools may keep state)."""

    def start(self, task: Any = None) -> None:
        """Begin an episode on `task`: fresh tools (editor undo history included) and state, and shell
        tools that refuse to fetch the task's project from the network (`agents.guard`)."""
        self.guard = RepoGuard.for_task(task)
        self.tools = self.make_tools()

    def system_prompt(self) -> str:
        return self.system_template

    def instance_prompt(self, task: str) -> str:
        return INSTANCE.format(task=task)

    def format_error_prompt(self, error: str) -> str:
        return f"Your last reply could not be used:\n{error}\nReply again; {self.rule}."

    def check(self, calls: list[dict[str, Any]]) -> str | None:
        """Why these calls break the scaffold's rules, or None. Default: at least one call."""
        if not calls:
            return "Your reply contains no tool call."
        return None

    def execute(self, call: dict[str, Any], sandbox: Sandbox, timeout: float) -> Observation:
        tool = next((t for t in self.tools if t.name == call["name"]), None)
        if tool is None:
            names = ", ".join(t.name for t in self.tools)
            return Observation(
                text=f"There is no tool named {call['name']!r}; the tools are: {names}", ok=False
            )
        return tool.run(sandbox, call["arguments"], timeout=timeout)


SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"


class MiniScaffold(Scaffold):
    name = "mini"
    rule = "call the bash tool exactly once"
    system_template = (
        "You are a careful software engineer solving a task in a code repository. You act through the bash "
        "tool: make exactly ONE bash call in every reply and wait for its output. Each call runs in a new "
        "shell at /testbed, so `cd` does not persist: write `cd dir && command`. Explore, reproduce the "
        "problem, edit files (e.g. with sed or a heredoc), and check your fix.\n"
        f"When you are done, run exactly `echo {SENTINEL}` as its own command. You cannot continue "
        "after that."
    )

    def make_tools(self) -> list[Tool]:
        return [BashTool(self.max_output_chars, self.guard)]

    def check(self, calls: list[dict[str, Any]]) -> str | None:
        if len(calls) != 1:
            return f"Your reply contains {len(calls)} tool calls; make exactly one bash call per reply."
        return None

    def execute(self, call: dict[str, Any], sandbox: Sandbox, timeout: float) -> Observation:
        obs = super().execute(call, sandbox, timeout)
        if obs.ok and obs.exit_code == 0:
            output = obs.text.partition("\n")[2].lstrip()
            first, _, rest = output.partition("\n")
            if first.strip() == SENTINEL:
                raise Submitted(rest)
        return obs


class SweScaffold(Scaffold):
    name = "swe"
    rule = "call one or more tools (bash, str_replace_editor, submit)"
    system_template = (
        "You are a careful software engineer solving a task in a code repository at /testbed. Use the "
        "tools: `bash` to explore and run commands (each call is a new shell at /testbed), "
        "`str_replace_editor` to view and edit files, and `submit` once the change is complete and "
        "checked. Work step by step: find the relevant code, reproduce the problem, fix it, verify."
    )

    def make_tools(self) -> list[Tool]:
        return [BashTool(self.max_output_chars, self.guard), EditorTool(self.max_output_chars), SubmitTool()]


CONFIRM = (
    "You marked the task as complete. Are you sure? Your solution will be graded as it stands and you "
    "cannot change it afterwards. If so, call execute_commands again with task_complete true; otherwise "
    "keep working (task_complete false)."
)


class CommandsTool(Tool):
    """Terminus's batch of shell commands; the scaffold handles `task_complete`."""

    name = "execute_commands"
    description = (
        "Run a batch of shell commands in order, each in a new shell at /testbed, and see their output. "
        "Set task_complete to true when the task is done (you will be asked to confirm)."
    )
    parameters = {
        "type": "object",
        "properties": {
            "analysis": {"type": "string", "description": "What you learned from the last output."},
            "plan": {"type": "string", "description": "What the commands are meant to do."},
            "commands": {
                "type": "array",
                "description": "Commands to run, in order.",
                "items": {
                    "type": "object",
                    "properties": {
                        "keystrokes": {"type": "string", "description": "The shell command."},
                        "duration": {"type": "number", "description": "Seconds it may take (default 10)."},
                    },
                    "required": ["keystrokes"],
                },
            },
            "task_complete": {"type": "boolean", "description": "True when the task is done."},
        },
        "required": ["commands"],
    }
    item_schema: ClassVar[dict[str, Any]] = parameters["properties"]["commands"]["items"]  # type: ignore[index]

    def __init__(
        self,
        max_chars: int = DEFAULT_MAX_CHARS,
        default_duration: float = 10.0,
        guard: RepoGuard | None = None,
    ) -> None:
        self.max_chars = max_chars
        self.default_duration = default_duration
        self.guard = guard

    def call(self, sandbox: Sandbox, args: dict[str, Any], *, timeout: float | None) -> Observation:
        commands = args["commands"]
        for i, item in enumerate(commands):
            problem = check_args(self.item_schema, item, f"commands[{i}]") if isinstance(item, dict) else None
            if not isinstance(item, dict) or problem:
                return Observation(
                    text=problem or f"commands[{i}] must be an object with `keystrokes`", ok=False
                )
        for i, item in enumerate(commands):  # the batch is one tool call: refused whole, before any runs
            refusal = self.guard.check(item["keystrokes"]) if self.guard else None
            if refusal:
                return Observation(
                    text=f"commands[{i}]: {refusal} No command of this batch was run.", ok=False
                )
        parts, ok, cut = [], True, False
        share = self.max_chars // max(1, len(commands))
        for item in commands:
            command = item["keystrokes"].rstrip("\n")
            limit = float(item.get("duration") or self.default_duration)
            limit = min(limit, timeout) if timeout is not None else limit
            obs = run_command(sandbox, command, limit, share)
            parts.append(f"$ {command}\n{obs.text}")
            ok, cut = ok and obs.ok, cut or obs.truncated
        text = "\n\n".join(parts) if parts else "No commands were run."
        return Observation(text=text, ok=ok, truncated=cut)


class TerminusScaffold(Scaffold):
    name = "terminus"
    rule = "call execute_commands exactly once"
    system_template = (
        "You are an AI assistant solving a command-line task in a code repository at /testbed. Each reply "
        "makes exactly one execute_commands call: your analysis of the last output, your plan, a batch of "
        "shell commands ({keystrokes, duration in seconds}) to run in order, and task_complete. Every "
        "command runs in a new shell at /testbed (`cd` does not persist). Set task_complete to true only "
        "when the task is fully done; you will be asked to confirm."
    )

    def __init__(self, max_output_chars: int = DEFAULT_MAX_CHARS, default_duration: float = 10.0) -> None:
        self.default_duration = default_duration
        super().__init__(max_output_chars)
        self.pending = False

    def make_tools(self) -> list[Tool]:
        return [CommandsTool(self.max_output_chars, self.default_duration, self.guard)]

    def start(self, task: Any = None) -> None:
        super().start(task)
        self.pending = False

    def check(self, calls: list[dict[str, Any]]) -> str | None:
        if len(calls) != 1 or calls[0]["name"] != CommandsTool.name:
            names = ", ".join(c["name"] for c in calls) or "none"
            return f"Your reply must contain exactly one execute_commands call (it had: {names})."
        return None

    def execute(self, call: dict[str, Any], sandbox: Sandbox, timeout: float) -> Observation:
        obs = super().execute(call, sandbox, timeout)
        complete = call["arguments"].get("task_complete") is True
        if complete and self.pending:
            raise Submitted(obs.text)
        self.pending = complete and not obs.text.startswith("execute_commands:")
        if self.pending:
            obs.text = f"{obs.text}\n\n{CONFIRM}"
        return obs
