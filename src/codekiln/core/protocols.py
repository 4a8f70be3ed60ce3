"""The core nouns of codekiln, named once. Implementations are plain classes elsewhere; each protocol
here has real implementers, which mypy checks against it.

- `Sandbox`: an isolated, resettable workspace on a repository snapshot where commands run
  (`codekiln.sandbox`: bwrap, podman, local).
- `Executor`: maps a stage function over many items (`core.executor.LocalExecutor`,
  `core.ray_executor.RayExecutor`).
- `Model`: a chat model (messages + tools -> assistant output); `TokenModel` also works on token ids
  (`codekiln.models`: embedded, openai, transformers, scripted).
- `Agent`: runs one episode on a task in a sandbox with a model (`codekiln.agents.Agent`).

Named elsewhere, next to what implements them: a chat format is the `codekiln.formats.ChatFormat` base
class (every format subclasses it); the grader is a function, `codekiln.grading.grade_patch`, with the
task and environment it reads named by `codekiln.grading.GradedTask` / `GradingEnv`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

T = TypeVar("T")
U = TypeVar("U")


@dataclass
class ExecResult:
    """The outcome of one command in a sandbox.

    `timed_out` means the wall-clock limit killed it; `truncated` that output went over the cap;
    `killed` names the limit that ended it ("timeout", "memory", "cpu", "output", "pids", "file_size") when known.
    """

    stdout: str
    stderr: str
    exit_code: int
    duration_s: float
    timed_out: bool = False
    truncated: bool = False
    killed: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@runtime_checkable
class Sandbox(Protocol):
    """An isolated workspace holding a repository snapshot, mounted at `workdir` inside.

    Paths given to read/write are relative to `workdir` or absolute inside the sandbox.
    """

    workdir: str

    def exec(
        self,
        cmd: str | Sequence[str],
        *,
        timeout: float | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        input: bytes | None = None,
    ) -> ExecResult: ...

    def read_file(self, path: str, *, max_bytes: int | None = None, follow: bool = True) -> bytes:
        """The file's bytes. `max_bytes`: a bigger file raises OSError(EFBIG) unread. `follow=False`: a
        symlink at or on the way to `path` is not followed (FileNotFoundError), as git sees the tree."""
        ...

    def file_digest(self, path: str, *, follow: bool = True) -> str:
        """The file's sha256 (hex), read in chunks: whatever its size, never whole in memory.
        `follow=False`: as in `read_file`."""
        ...

    def write_file(self, path: str, data: bytes | str) -> None: ...

    def diff(self) -> str:
        """Unified (git) diff of the workspace against the snapshot it started from."""
        ...

    def reset(self) -> None:
        """Return the workspace to the snapshot and end all processes."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Sandbox: ...

    def __exit__(self, *exc: object) -> None: ...


@dataclass(frozen=True)
class Resources:
    """What one unit of work needs while it runs: an executor never runs more units on a machine at once
    than its CPUs and memory hold (Ray schedules by them; the local executor's `workers` is the cap)."""

    cpus: float = 1.0
    memory_mb: int | None = None
    """None: no memory is reserved for the unit."""


@dataclass
class Outcome(Generic[T, U]):
    """One item's result from `Executor.map`: either `value` or `error` (a CodekilnError record).
    `node` names where it ran ("local" for the local executor, a Ray node id otherwise)."""

    item: T
    value: U | None = None
    error: dict[str, Any] | None = None
    duration_s: float = 0.0
    node: str = "local"

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class Executor(Protocol):
    """Maps a function over items, yielding each `Outcome` as it finishes (any order).

    One item's failure is captured in its Outcome and never stops the others. `fn` and the items may
    be sent to other processes or machines (pickled): state a unit reuses across items lives in the
    process that runs it (`core.executor.borrowed`), never in objects the driver shares.
    """

    workers: int

    def map(
        self,
        fn: Callable[[T], U],
        items: Iterable[T],
        *,
        desc: str = "",
        resources: Resources | None = None,
    ) -> Iterator[Outcome[T, U]]: ...


@runtime_checkable
class Model(Protocol):
    """A chat model: OpenAI-shaped messages + tool definitions in, one assistant turn out.

    `chat` returns a `codekiln.models.ModelResponse`: the raw `text`, the parsed assistant `message`
    (content + OpenAI-shaped `tool_calls`), `parse_error` when the output does not follow the chat
    format (data for the agent loop, never an exception), token `usage` and `latency_s`. It raises
    `ModelError` (or `ContextTooLongError`) only when the backend itself fails. `format` names the
    codekiln chat format the backend renders prompts with, or is None when the server does it.
    """

    name: str
    format: str | None

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> Any: ...


@runtime_checkable
class TokenModel(Model, Protocol):
    """A `Model` that also works at the token level, as training needs.

    `generate` continues `prompt_ids` and returns a `codekiln.models.GenerateResult`: the completion
    ids and, per completion token, its log-probability under the model (log-softmax of the raw
    logits, i.e. at temperature 1, whatever temperature sampled it).
    """

    def tokenize(self, text: str) -> list[int]: ...

    def detokenize(self, ids: Sequence[int]) -> str: ...

    def generate(
        self,
        prompt_ids: Sequence[int],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> Any: ...


@runtime_checkable
class Agent(Protocol):
    """Plays one episode: a task (a `TaskRecord` or anything with its statement) in a sandbox holding
    the task's workspace, with a model; returns the episode's record (`codekiln.agents.Trajectory`).
    Failures of the model or the sandbox end the episode and are recorded in it, never raised."""

    def run(self, task: Any, sandbox: Sandbox, model: Model) -> Any: ...


@dataclass
class Limits:
    """Resource limits for sandboxed commands. None means no limit of that kind."""

    timeout_s: float | None = 300.0
    cpu_s: int | None = None
    memory_mb: int | None = 4096
    max_procs: int | None = 512
    max_output_bytes: int = 1 << 20
    max_file_mb: int | None = 1024
    disk_mb: int | None = 4096
    extra: dict[str, Any] = field(default_factory=dict)
