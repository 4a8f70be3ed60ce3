"""What every model backend returns, and the shared path of backends that render prompts themselves.

    response = model.chat(messages, tools)      # ModelResponse
    response.message["tool_calls"]              # OpenAI-shaped calls parsed from response.text
    response.parse_error                        # None, or what the model got wrong about the format

`FormatModel` is the base of every backend except native OpenAI tool calling: it renders the prompt with
one codekiln chat format (`formats.get_format(name).render_prompt`), asks the subclass for raw text
(`_complete`), and parses that text with the same format. A `FormatError` becomes `parse_error` (the agent
loop shows it to the model); it is never raised. `SamplingModel` is the part the backends that sample
token ids themselves (embedded, transformers) share: the context check, the budget and the result of
`generate`, around the subclass's `_sample`.
"""

from __future__ import annotations

import inspect
import json
import time
import typing
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel, Field, PydanticSchemaGenerationError, TypeAdapter, ValidationError

from codekiln.core.errors import ConfigError, ContextTooLongError, FormatError
from codekiln.formats import ChatFormat, get_format

DEFAULT_FORMAT = "qwen3_coder"


class Usage(BaseModel):
    """Token counts of one call, as the backend reports them."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class GenerateResult(BaseModel):
    """One raw completion. Ids and logprobs are None when the backend cannot give them (some servers).

    `logprobs[i]` is the log-probability of `completion_ids[i]` (log-softmax of the raw logits). The
    ids include the token that ended generation (end of turn); `text` leaves it and any stop string out.
    """

    text: str
    finish_reason: str | None = None
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0


class ModelResponse(BaseModel):
    """One assistant turn: the raw output, the message parsed from it, and what it cost."""

    text: str
    """The model's raw output (for native tool calling: the content the server returned)."""
    message: dict[str, Any]
    """The assistant message, OpenAI shape: role, content, tool_calls ([{id, type, function: {name, arguments}}], arguments a JSON string)."""
    parse_error: str | None = None
    """Why the output does not follow the chat format, worded for the model; None when it does."""
    usage: Usage = Field(default_factory=Usage)
    latency_s: float = 0.0
    finish_reason: str | None = None
    """"stop" (end of turn or stop string), "length" (max_tokens hit) or "tool_calls" (native servers)."""
    model: str = ""
    format: str | None = None
    prompt_ids: list[int] | None = None
    completion_ids: list[int] | None = None
    logprobs: list[float] | None = None

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        """The parsed calls as {"id", "name", "arguments": dict}, ready for an agent to run."""
        calls = []
        for call in self.message.get("tool_calls") or []:
            raw = call["function"].get("arguments") or "{}"
            args = json.loads(raw) if isinstance(raw, str) else raw
            calls.append({"id": call.get("id"), "name": call["function"]["name"], "arguments": args})
        return calls


def stop_strings(fmt: ChatFormat) -> list[str]:
    """What ends an assistant turn in `fmt`: generation stops on these (the format's own list, plus any
    it names in a `stop` attribute)."""
    marks = [*fmt.stop_strings(), *getattr(fmt, "stop", ())]
    return [m for m in dict.fromkeys(marks) if m]


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """`text` up to the first occurrence of any stop string."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=len(text))
    return text[:cut]


def parse_message(
    fmt: ChatFormat, text: str, tools: list[dict[str, Any]] | None
) -> tuple[dict[str, Any], str | None]:
    """Parse raw output with `fmt` into an assistant message; a FormatError becomes the second value."""
    try:
        turn = fmt.parse(text, tools)
    except FormatError as err:
        error = f"{err.message}\n{err.hint}" if err.hint else err.message
        return {"role": "assistant", "content": text, "tool_calls": []}, error
    return {"tool_calls": [], **turn.to_message()}, None


class FormatModel(ABC):
    """Base of backends that render prompts with a codekiln chat format and parse the output back.

    Subclasses set `name` and implement `_complete(prompt, ...)`, returning a `GenerateResult`.
    """

    name: str = "format-model"

    def __init__(
        self,
        *,
        format: str = DEFAULT_FORMAT,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.chat_format: ChatFormat = get_format(format)
        self.format: str | None = self.chat_format.name
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.seed = seed

    def render(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None) -> str:
        """The exact prompt text this model is given for `messages` and `tools`."""
        return self.chat_format.render_prompt(messages, tools)

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> ModelResponse:
        start = time.perf_counter()
        options: dict[str, Any] = {
            "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
            "seed": self.seed if seed is None else seed,
            "stop": stop_strings(self.chat_format),
        }
        tokenizer, generate = getattr(self, "tokenizer", None), getattr(self, "generate", None)
        if tokenizer is not None and generate is not None:
            # A token-level backend is given ids with content tokenized as text: a tool's output that
            # spells a turn token cannot open a turn (formats.content).
            result = generate(self.chat_format.prompt_ids(messages, tools, tokenizer), **options)
        else:
            result = self._complete(self.render(messages, tools), **options)
        message, error = parse_message(self.chat_format, result.text, tools)
        return ModelResponse(
            text=result.text,
            message=message,
            parse_error=error,
            usage=result.usage,
            latency_s=result.latency_s or time.perf_counter() - start,
            finish_reason=result.finish_reason,
            model=self.name,
            format=self.format,
            prompt_ids=result.prompt_ids,
            completion_ids=result.completion_ids,
            logprobs=result.logprobs,
        )

    def complete(
        self, prompt: str, *, max_tokens: int | None = None, stop: Sequence[str] = ()
    ) -> GenerateResult:
        """Continue raw `prompt` text, no chat template (fill-in-the-middle prompts, plain completion)."""
        start = time.perf_counter()
        result = self._complete(
            prompt,
            max_tokens=self.max_tokens if max_tokens is None else max_tokens,
            temperature=self.temperature,
            seed=self.seed,
            stop=list(stop),
        )
        if not result.latency_s:
            result.latency_s = time.perf_counter() - start
        return result

    @abstractmethod
    def _complete(
        self, prompt: str, *, max_tokens: int, temperature: float, seed: int, stop: list[str]
    ) -> GenerateResult:
        """Continue `prompt` text; every backend implements it (`chat` uses it unless the backend has a
        token-level `generate`, and `complete` always does)."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, format={self.format!r})"


class SamplingModel(FormatModel):
    """A `FormatModel` that samples token ids itself (`embedded`, `transformers`): `tokenizer` (a
    `formats.Tokenizer`) and `n_ctx` set by the subclass, which implements `_sample`; `generate` checks
    the context, sizes the budget and times the call, and every text call goes through it."""

    tokenizer: Any
    n_ctx: int
    """Tokens of prompt + completion that fit."""
    context_hint = "shorten the conversation"
    """How to make a prompt too long for `n_ctx` fit (the error's hint)."""

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text))

    def detokenize(self, ids: Sequence[int]) -> str:
        return str(self.tokenizer.decode(ids))

    def generate(
        self,
        prompt_ids: Sequence[int],
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        stop: Sequence[str] = (),
    ) -> GenerateResult:
        """Continue `prompt_ids`; stop at an end-of-generation token, a `stop` string or `max_tokens`."""
        prompt = list(prompt_ids)
        if len(prompt) >= self.n_ctx:
            raise ContextTooLongError(
                f"the prompt has {len(prompt)} tokens; the context window holds {self.n_ctx}",
                hint=self.context_hint,
            )
        budget = min(self.max_tokens if max_tokens is None else max_tokens, self.n_ctx - len(prompt))
        temp = self.temperature if temperature is None else temperature
        start = time.perf_counter()
        ids, logprobs, text, finish = self._sample(
            prompt, budget, temp, self.seed if seed is None else seed, stop
        )
        return GenerateResult(
            text=cut_at_stop(text, stop),
            finish_reason=finish,
            prompt_ids=prompt,
            completion_ids=ids,
            logprobs=logprobs,
            usage=Usage(prompt_tokens=len(prompt), completion_tokens=len(ids)),
            latency_s=time.perf_counter() - start,
        )

    @abstractmethod
    def _sample(
        self, prompt: list[int], budget: int, temperature: float, seed: int, stop: Sequence[str]
    ) -> tuple[list[int], list[float], str, str]:
        """Draw at most `budget` tokens after `prompt`: their ids, their logprobs, the text they decode
        to (without the token that ended generation) and the finish reason ("stop" or "length")."""

    def _complete(
        self, prompt: str, *, max_tokens: int, temperature: float, seed: int, stop: list[str]
    ) -> GenerateResult:
        return self.generate(
            self.tokenize(prompt), max_tokens=max_tokens, temperature=temperature, seed=seed, stop=stop
        )


def check_options(factory: Callable[..., Any], what: str, *args: Any, **options: Any) -> None:
    """Refuse, as a ConfigError naming the option, `--option key=value` options `factory` does not take or
    whose value does not fit its annotation (`timeout=abc` used to fail deep in a request)."""
    try:
        bound = inspect.signature(factory).bind(*args, **options)
    except TypeError as err:
        raise ConfigError(
            f"bad options for {what}: {err}", hint="see `codekiln model list` for each backend's options"
        ) from err
    try:
        target = (
            next(vars(c)["__init__"] for c in factory.__mro__ if "__init__" in vars(c))
            if isinstance(factory, type)
            else factory
        )
        hints = typing.get_type_hints(target)
    except (NameError, TypeError):  # an annotation only a type checker resolves: bind alone
        return
    for name, value in bound.arguments.items():
        if name not in options or name not in hints:
            continue
        try:
            adapter: TypeAdapter[Any] = TypeAdapter(hints[name])
        except PydanticSchemaGenerationError:  # not a plain value (a client object): nothing to check
            continue
        try:
            adapter.validate_python(value)
        except ValidationError as err:
            raise ConfigError(
                f"bad option {name}={value!r} for {what}: {err.errors()[0]['msg']}",
                hint="see `codekiln model list` for each backend's options",
            ) from err
