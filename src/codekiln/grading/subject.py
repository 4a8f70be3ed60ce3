"""What the grader reads of a task and of its environment, named as protocols.

Everyone passes a `codekiln.tasks.TaskRecord` and a `codekiln.envs.EnvRecord`; grading sits below
both in the stage layers (building an environment runs its tests through `grading.run_tests`), so it
names the few members it reads instead of importing those records. mypy checks at every call site that
the records still provide them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from codekiln.core.protocols import Sandbox
from codekiln.sandbox import StartTree

if TYPE_CHECKING:
    from codekiln.grading.runner import TestCommand


class GradedTask(Protocol):
    """A task as the grader sees it (`TaskRecord` provides it)."""

    @property
    def instance_id(self) -> str: ...

    @property
    def bug_patch(self) -> str:
        """The snapshot -> the buggy state."""
        ...

    @property
    def hidden_tests(self) -> list[str]:
        """Test files deleted from the agent's workspace and put back before grading."""
        ...

    @property
    def source(self) -> str:
        """How the task was made (`TaskSource`: an injected bug, a mined change, an imported row)."""
        ...

    @property
    def FAIL_TO_PASS(self) -> list[str]: ...

    @property
    def PASS_TO_PASS(self) -> list[str]: ...

    @property
    def tests(self) -> list[str]:
        """FAIL_TO_PASS then PASS_TO_PASS: every graded test."""
        ...


class GradingEnv(Protocol):
    """An environment as the grader sees it (`EnvRecord` provides it)."""

    @property
    def snapshot_path(self) -> str: ...

    @property
    def venv(self) -> str: ...

    @property
    def baseline(self) -> dict[str, str]:
        """Test id -> status on the clean snapshot (the grader adds the hidden files' passing tests)."""
        ...

    @property
    def steps_s(self) -> dict[str, float]:
        """Seconds each build step took; "baseline" the clean suite's run (`grading.limits`)."""
        ...

    @property
    def test(self) -> TestCommand:
        """How the environment runs its tests."""
        ...

    def open_sandbox(self, backend: str, start: StartTree | None = None) -> Sandbox:
        """A fresh sandbox on the snapshot (or on `start`, a tree made from it) with the environment's venv."""
        ...
