"""Error types, one per stage, all carrying a message that says how to fix the problem.

Every codekiln error has `.hint` (what to do next) and `.infra`: True when the failure belongs to the
machinery (a sandbox that would not start, a build that broke, a server that is down) rather than to the
code or model being judged. Infrastructure failures are recorded and masked, never scored as a 0.
"""

from __future__ import annotations

from typing import Any


class CodekilnError(Exception):
    """Base class. `str(err)` is the message followed by the hint, if any."""

    infra: bool = False

    def __init__(self, message: str, *, hint: str | None = None, **data: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.data = data

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message

    def to_record(self) -> dict[str, Any]:
        """A JSON-ready description, stored on the task or rollout the error happened to."""
        return {
            "type": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "infra": self.infra,
            **{k: v for k, v in self.data.items() if isinstance(v, str | int | float | bool | None)},
        }


class ConfigError(CodekilnError):
    """A bad option, preset or value given by the user."""


class RepoError(CodekilnError):
    """A repository spec could not be resolved into a snapshot."""


class SandboxError(CodekilnError):
    """A sandbox could not be created, used or cleaned up."""

    infra = True


class SandboxClosed(SandboxError):
    """The sandbox was closed (by its owner, on the host) while a caller still used it: what it reads
    back says nothing about the code that ran in it."""


class NotFollowed(FileNotFoundError):
    """A read asked not to follow links (`Sandbox.read_file(follow=False)`) met a symlink on its way."""


class EnvBuildError(CodekilnError):
    """An environment build step failed; `data['step']` and `data['log_tail']` say which and why."""

    infra = True


class GradingError(CodekilnError):
    """Tests could not be run or their report could not be read (collection error, crash, timeout)."""

    infra = True


class TaskError(CodekilnError):
    """A task could not be synthesized, validated or loaded."""


class FormatError(CodekilnError):
    """Model output does not follow the chat format. The message is written for the model to act on."""


class ModelError(CodekilnError):
    """A model backend failed: server down, model missing, context too long, bad response."""

    infra = True


class ContextTooLongError(ModelError):
    """The prompt does not fit the model's context window. Not an infrastructure fault."""

    infra = False


class AgentError(CodekilnError):
    """An agent episode could not continue."""
