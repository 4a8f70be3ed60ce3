"""Agent tools: a name, a description, JSON Schema parameters, and `run(sandbox, args) -> Observation`.

    bash = BashTool(max_chars=10_000)
    obs = bash.run(sandbox, {"command": "pytest -q"}, timeout=60)    # "exit code 1\n..." head+tail cut
    bash.schema()                                                    # OpenAI function tool for any format

Tools never raise for the model's mistakes: bad arguments, failing commands and editor errors come back
as an `Observation` with ok=False and a message the model can act on. `Submitted` (raised by `SubmitTool`
and by scaffolds) ends an episode. Sandbox failures (`SandboxError`) propagate: they are infrastructure.
The file editor lives in `codekiln.agents.editor`.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from codekiln.agents.guard import RepoGuard
from codekiln.agents.records import Observation
from codekiln.core.protocols import Sandbox

DEFAULT_MAX_CHARS = 10_000


class Submitted(Exception):
    """The agent declared the task done; `message` is what it submitted (may be empty)."""

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message


def truncate(text: str, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[str, bool]:
    """Keep the first and last `max_chars // 2` characters of long text, marking what was elided."""
    if len(text) <= max_chars:
        return text, False
    head = max_chars // 2
    tail = max_chars - head
    elided = len(text) - head - tail
    return f"{text[:head]}\n[... {elided} chars elided ...]\n{text[len(text) - tail :]}", True


_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}


def _unsendable(value: Any) -> str | None:
    """What in `value` (any string in it, however nested) cannot reach a process: a NUL byte, or a lone
    UTF-16 surrogate (JSON's "\\ud800" escape decodes to one). Either would make the sandbox call raise
    and lose the episode, where it is the model's own mistake (see tests/audit/test_redteam_agent.py)."""
    if isinstance(value, str):
        if "\0" in value:
            return "a NUL byte (\\x00)"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as err:
            return f"an unpaired surrogate ({value[err.start]!r}), which is not text"
        return None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    return next((bad for v in items if (bad := _unsendable(v))), None)


def check_args(schema: dict[str, Any], args: dict[str, Any], where: str) -> str | None:
    """Why `args` do not fit the (flat) JSON Schema `schema`, or None when they do.

    Checks required keys, unknown keys (when additionalProperties is false), top-level types and enums:
    what a model typically gets wrong. Nested values are the tool's own business, except for what no
    argument may hold at any depth (`_unsendable`).
    """
    props: dict[str, Any] = schema.get("properties", {})
    for key, value in args.items():
        bad = _unsendable(value)
        if bad:
            hint = "arguments must be plain text (write such bytes from bash, e.g. printf '\\000')"
            return f"{where}: argument {key!r} contains {bad}; {hint}"
    missing = [k for k in schema.get("required", []) if k not in args]
    if missing:
        return f"{where}: missing required argument(s): {', '.join(missing)}"
    for key, value in args.items():
        spec = props.get(key)
        if spec is None:
            if schema.get("additionalProperties") is False:
                return f"{where}: unknown argument {key!r}; arguments are: {', '.join(props)}"
            continue
        kind = spec.get("type")
        kinds = kind if isinstance(kind, list) else [kind] if kind else []
        if value is None and "null" in kinds:
            continue
        ok_types = tuple(t for k in kinds for t in _TYPES.get(k, ()))
        if ok_types and (
            not isinstance(value, ok_types) or (bool not in ok_types and isinstance(value, bool))
        ):
            return f"{where}: argument {key!r} must be of type {'/'.join(kinds)}, got {type(value).__name__}"
        if "enum" in spec and value not in spec["enum"]:
            choices = ", ".join(map(str, spec["enum"]))
            return f"{where}: argument {key!r} must be one of: {choices} (got {value!r})"
    return None


class Tool(ABC):
    """Base class: subclasses set name/description/parameters and implement `call`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    parameters: ClassVar[dict[str, Any]] = {"type": "object", "properties": {}}

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool definition every chat format renders."""
        fn = {"name": self.name, "description": self.description, "parameters": self.parameters}
        return {"type": "function", "function": fn}

    def run(self, sandbox: Sandbox, args: dict[str, Any], *, timeout: float | None = None) -> Observation:
        """Validate `args`, then run the tool. Raises only `Submitted` and infrastructure errors."""
        start = time.perf_counter()
        problem = check_args(self.parameters, args, self.name)
        obs = Observation(text=problem, ok=False) if problem else self.call(sandbox, args, timeout=timeout)
        obs.tool = self.name
        obs.duration_s = obs.duration_s or time.perf_counter() - start
        return obs

    @abstractmethod
    def call(self, sandbox: Sandbox, args: dict[str, Any], *, timeout: float | None) -> Observation:
        """Run the tool on arguments `run` has already checked against `parameters`."""


def run_command(sandbox: Sandbox, command: str, timeout: float | None, max_chars: int) -> Observation:
    """Run a shell string; the model sees the exit code (or the timeout) and the head+tail of the output."""
    res = sandbox.exec(command, timeout=timeout)
    output, cut = truncate(res.output, max_chars)
    if res.timed_out:
        status = f"timed out after {timeout:g}s and was killed" if timeout else "timed out and was killed"
        head = f"The command {status}; avoid interactive or long-running commands."
    else:
        head = f"exit code {res.exit_code}"
    if res.truncated and not cut:
        output += "\n[output cut at the sandbox's limit]"
    text = f"{head}\n{output}" if output else head
    return Observation(
        text=text,
        ok=res.ok,
        exit_code=None if res.timed_out else res.exit_code,
        timed_out=res.timed_out,
        truncated=cut or res.truncated,
        duration_s=res.duration_s,
    )


class BashTool(Tool):
    """Runs one shell command in a fresh bash at the workspace root."""

    name = "bash"
    description = (
        "Run a bash command in the repository (working directory /testbed) and see its exit code and "
        "output. Each call runs in a new shell: `cd` and variables do not persist between calls. Do not "
        "run interactive commands. Long output is shortened to its beginning and end."
    )
    parameters = {
        "type": "object",
        "properties": {"command": {"type": "string", "description": "The bash command to run."}},
        "required": ["command"],
    }

    def __init__(self, max_chars: int = DEFAULT_MAX_CHARS, guard: RepoGuard | None = None) -> None:
        self.max_chars = max_chars
        self.guard = guard

    def call(self, sandbox: Sandbox, args: dict[str, Any], *, timeout: float | None) -> Observation:
        command = args["command"]
        if not command.strip():
            return Observation(text="bash: the command is empty; give a command to run", ok=False)
        refusal = self.guard.check(command) if self.guard else None
        if refusal:
            return Observation(text=refusal, ok=False)
        return run_command(sandbox, command, timeout, self.max_chars)


class SubmitTool(Tool):
    """Ends the episode; the grader then judges the workspace as it stands."""

    name = "submit"
    description = (
        "Submit your changes and end the task. Call it only when you are done: the repository's current "
        "state is what gets graded."
    )
    parameters = {"type": "object", "properties": {}}

    def call(self, sandbox: Sandbox, args: dict[str, Any], *, timeout: float | None) -> Observation:
        raise Submitted("")
