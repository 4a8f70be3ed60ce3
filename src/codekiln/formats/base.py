"""The shared nouns of tool-call chat formats and the `ChatFormat` base class every format extends.

A format owns one model family's tool-calling template: how tools are described in the prompt, how an
assistant turn with calls is written, how tool results come back, how raw model output is parsed, and how
a conversation becomes token ids plus a loss mask for training:

    fmt = get_format("qwen3_coder")                          # codekiln.formats
    prompt = fmt.render_prompt(messages, tools)               # the conversation + generation prompt
    turn = fmt.parse(output, tools)                           # ParsedTurn, or FormatError for the model
    ids, mask = fmt.render_tokens(messages, tools, tokenizer) # mask 1 on assistant tokens only

Token ids keep content out of markup: a tool's output that spells "<|im_start|>" is tokenized as
text, never as the turn token (`formats.content`); `segment_ids` and `prompt_ids` give the same ids
for other callers (the policy's turns, a model given a prompt).

Messages are OpenAI chat dicts (`role` system|user|assistant|tool, `content`, `tool_calls` with
`function.arguments` as a JSON string or a dict, `tool_call_id`, `name`); tools are OpenAI function tools.

Rendering goes segment by segment (`segments`): each message renders to text that depends only on the
messages before it, and each segment is tokenized on its own. So history is never re-tokenized: the ids
at turn k are an exact prefix of those at turn k+1. Formats therefore never rewrite history the way some
published templates do (dropping old reasoning, moving tool lists to the last user turn); each module
says where it departs from its family's template for that reason.

`render_assistant(message)` is exactly what the model generates after the generation prompt, including
its end-of-turn token, so `parse(render_assistant(m))` gives back m's content and calls.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from codekiln.core.errors import ConfigError, FormatError
from codekiln.formats.content import marked_ids
from codekiln.formats.framing import CHATML, Turns
from codekiln.formats.parts import MAX_NESTING, nesting, strip_prefix, strip_suffix
from codekiln.formats.parts import Tool as Tool
from codekiln.formats.parts import check_tool as check_tool
from codekiln.formats.parts import tool_functions as tool_functions

Message = dict[str, Any]


@runtime_checkable
class Tokenizer(Protocol):
    """Text <-> token ids. `encode` maps special-token text (e.g. "<|im_end|>") to special ids where
    the vocab has them; `encode_text` never does (content is tokenized with it: `formats.content`);
    `special_texts` lists the spellings the two treat differently."""

    def encode(self, text: str) -> list[int]: ...

    def encode_text(self, text: str) -> list[int]: ...

    def special_texts(self) -> Sequence[str]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


@dataclass
class ToolCall:
    """One function call: `arguments` is the decoded JSON object."""

    name: str
    arguments: dict[str, Any]
    id: str = ""

    def to_openai(self) -> dict[str, Any]:
        args = json.dumps(self.arguments, ensure_ascii=False)
        return {"id": self.id, "type": "function", "function": {"name": self.name, "arguments": args}}

    @classmethod
    def from_openai(cls, call: dict[str, Any]) -> ToolCall:
        fn = call.get("function", call)
        args = fn.get("arguments") or {}
        if isinstance(args, str):
            try:
                args = json.loads(args)
            except ValueError as err:
                raise FormatError(
                    f"the arguments of tool call {fn.get('name')!r} are not valid JSON: {err}",
                    hint="function.arguments must be a JSON object (as a string or a dict)",
                ) from err
        if not isinstance(args, dict):
            raise FormatError(f"the arguments of tool call {fn.get('name')!r} are not a JSON object")
        return cls(name=str(fn.get("name", "")), arguments=args, id=str(call.get("id") or ""))


@dataclass
class ParsedTurn:
    """What one assistant turn said: text, tool calls and (for formats that carry it) reasoning.

    Calls without an id get a stable one (`call_id`); arguments nested deeper than MAX_NESTING are a
    FormatError (they could not be written back out).
    """

    content: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    reasoning: str | None = None

    def __post_init__(self) -> None:
        for i, call in enumerate(self.tool_calls):
            if nesting(call.arguments) > MAX_NESTING:
                raise FormatError(
                    f"The arguments of {call.name} are nested more than {MAX_NESTING} levels deep.",
                    hint="flatten the arguments",
                )
            call.id = call.id or call_id(i, call)

    def to_message(self) -> Message:
        msg: Message = {"role": "assistant", "content": self.content}
        if self.tool_calls:
            msg["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        if self.reasoning is not None:
            msg["reasoning_content"] = self.reasoning
        return msg

    @classmethod
    def from_message(cls, message: Message) -> ParsedTurn:
        """From a native function-calling response (an OpenAI assistant message dict)."""
        return cls(message_text(message), message_calls(message), message.get("reasoning_content"))


@dataclass(frozen=True)
class Segment:
    """A piece of rendered conversation, tokenized on its own; `trainable` marks assistant output."""

    text: str
    trainable: bool


def message_text(message: Message) -> str:
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p if isinstance(p, str) else p.get("text", "") for p in content if isinstance(p, str | dict)]
        return "".join(str(p) for p in parts)
    return str(content)


def message_calls(message: Message) -> list[ToolCall]:
    return [ToolCall.from_openai(c) for c in message.get("tool_calls") or []]


def call_id(index: int, call: ToolCall) -> str:
    """A stable id for a parsed call: 'call_' + 9 hex digits (Mistral keeps the last 9 characters)."""
    key = f"{index}:{call.name}:{call.arguments!r}"
    return "call_" + hashlib.sha1(key.encode("utf-8", "replace")).hexdigest()[:9]


class ChatFormat(ABC):
    """Base class: a format sets `name` and `turns`, and implements render_tools, render_calls, parse_calls.

    Hooks with defaults that fit ChatML-like families: render_system, render_user, generation_prompt,
    end_of_turn, render_tool_results, render_reasoning/split_reasoning (`<think>` blocks).
    """

    name: ClassVar[str] = ""
    turns: ClassVar[Turns] = CHATML
    default_system: ClassVar[str] = ""
    supports_reasoning: ClassVar[bool] = False
    call_separator: ClassVar[str] = "\n"  # between an assistant's text and its first call
    calls_only: bool = False  # a turn with calls renders just the calls (for serving parsers that need that)

    # -- the format's own syntax ---------------------------------------------------------------------
    @abstractmethod
    def render_tools(self, tools: list[Tool]) -> str:
        """The tool definitions as they appear in the prompt."""

    @abstractmethod
    def render_calls(self, calls: list[ToolCall]) -> str:
        """The calls of one assistant turn, as the model writes them."""

    @abstractmethod
    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        """Split reasoning-free, end-token-free output into (content, calls); FormatError if malformed."""

    # -- framing hooks -------------------------------------------------------------------------------
    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        """The system turn's body, or None for no system turn."""
        base = system if system is not None else (self.default_system if tools else None)
        if not tools:
            return base
        section = self.render_tools(tools)
        return f"{base}\n\n{section}" if base else section

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        body = self.system_text(system, tools)
        return self.turns.start + (self.turns.turn("system", body) if body is not None else "")

    def render_user(self, text: str, role: str = "user") -> str:
        return self.turns.turn(role, text)

    def generation_prompt(self, prev_role: str) -> str:
        """What opens an assistant turn, given the role of the message before it."""
        return self.turns.opening("assistant")

    def end_of_turn(self, calls: list[ToolCall]) -> str:
        return self.turns.eot

    def stop_strings(self) -> list[str]:
        """What ends an assistant turn: generation should stop on these (parse accepts them or their absence)."""
        return [s for s in dict.fromkeys((self.end_of_turn([]), self.end_of_turn([ToolCall("", {})]))) if s]

    def render_tool_result(self, message: Message) -> str:
        return message_text(message)

    def render_tool_results(self, messages: list[Message]) -> str:
        """A run of consecutive tool messages, framed (default: one `tool` turn per result)."""
        return "".join(self.turns.turn("tool", self.render_tool_result(m)) for m in messages)

    def render_reasoning(self, reasoning: str | None) -> str:
        return f"<think>\n{reasoning}\n</think>\n\n" if reasoning else ""

    def split_reasoning(self, text: str) -> tuple[str | None, str]:
        if not text.lstrip().startswith("<think>"):
            return None, text
        start = text.index("<think>") + len("<think>")
        end = text.find("</think>", start)
        if end < 0:
            raise FormatError("Your reasoning block is not closed.", hint="end it with </think>, then answer")
        inner = strip_suffix(strip_prefix(text[start:end], "\n"), "\n")
        rest = text[end + len("</think>") :]
        rest = rest[2:] if rest.startswith("\n\n") else rest.lstrip("\n")
        return inner, rest

    def prepare(self, messages: Sequence[Message]) -> list[Message]:
        """The messages as the family's template sees them before rendering (default: unchanged).

        A format whose template derives something from the whole conversation (Kimi K2 numbers call ids
        across it) rewrites it here; each message may depend only on the ones before it.
        """
        return list(messages)

    # -- the contract --------------------------------------------------------------------------------
    def render_assistant(self, message: Message) -> str:
        calls = message_calls(message)
        content = "" if self.calls_only and calls else message_text(message)
        out = self.render_reasoning(message.get("reasoning_content")) if self.supports_reasoning else ""
        calls_text = self.render_calls(calls) if calls else ""
        sep = self.call_separator if content and calls_text else ""
        return out + content + sep + calls_text + self.end_of_turn(calls)

    def content_before(self, text: str, start: int) -> str:
        """The assistant's text before its first call at `start`, without the separator render added."""
        return strip_suffix(text[:start], self.call_separator)

    def parse(self, text: str, tools: list[Tool] | None = None) -> ParsedTurn:
        for stop in self.stop_strings():
            text = strip_suffix(text, stop)
        reasoning, body = self.split_reasoning(text) if self.supports_reasoning else (None, text)
        content, calls = self.parse_calls(body, tools)
        return ParsedTurn(content, calls, reasoning or None)

    def segments(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        add_generation_prompt: bool = True,
    ) -> list[Segment]:
        """The conversation as segments; each depends only on the messages before it."""
        msgs, tool_list = self.prepare(messages), list(tools or [])
        system = None
        if msgs and msgs[0].get("role") == "system":
            system, msgs = message_text(msgs[0]), msgs[1:]
        out = [Segment(self.render_system(system, tool_list), False)]
        names: dict[str, str] = {}
        prev, i = "system", 0
        while i < len(msgs):
            msg, role = msgs[i], msgs[i].get("role")
            if role == "assistant":
                out += [
                    Segment(self.generation_prompt(prev), False),
                    Segment(self.render_assistant(msg), True),
                ]
                out.append(Segment(self.turns.after, False))
                names.update({c.id: c.name for c in message_calls(msg) if c.id})
            elif role == "tool":
                j = i
                while j < len(msgs) and msgs[j].get("role") == "tool":
                    j += 1
                run = [
                    {**m, "name": m.get("name") or names.get(m.get("tool_call_id") or "", "")}
                    for m in msgs[i:j]
                ]
                out.append(Segment(self.render_tool_results(run), False))
                i, prev = j, "tool"
                continue
            elif role in ("user", "system"):
                out.append(Segment(self.render_user(message_text(msg), str(role)), False))
            else:
                raise ConfigError(
                    f"unknown message role {role!r}", hint="use system, user, assistant or tool"
                )
            prev, i = str(role), i + 1
        if add_generation_prompt:
            out.append(Segment(self.generation_prompt(prev), False))
        return [s for s in out if s.text]

    def render_prompt(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        add_generation_prompt: bool = True,
    ) -> str:
        return "".join(s.text for s in self.segments(messages, tools, add_generation_prompt))

    def render_tokens(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None,
        tokenizer: Tokenizer,
        *,
        add_generation_prompt: bool = False,
    ) -> tuple[list[int], list[int]]:
        """Token ids and loss mask (1 on assistant output incl. its end-of-turn token, 0 elsewhere)."""
        segments = self.segments(messages, tools, add_generation_prompt)
        pieces = self._segment_ids(segments, messages, tools, tokenizer, add_generation_prompt)
        mask = [int(seg.trainable) for seg, piece in zip(segments, pieces, strict=True) for _ in piece]
        return [i for piece in pieces for i in piece], mask

    def segment_ids(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None,
        tokenizer: Tokenizer,
        *,
        add_generation_prompt: bool = False,
    ) -> list[list[int]]:
        """The ids of each of `segments`: markup with special tokens, content as text (`formats.content`)."""
        segments = self.segments(messages, tools, add_generation_prompt)
        return self._segment_ids(segments, messages, tools, tokenizer, add_generation_prompt)

    def head_ids(
        self, messages: Sequence[Message], tools: Sequence[Tool] | None, tokenizer: Tokenizer
    ) -> list[int]:
        """The ids of the first segment (the system turn with its tools), as `render_tokens` has them."""
        segments = self.segments(messages, tools, False)
        return next(iter(self._segment_ids(segments, messages, tools, tokenizer, False, first=True)), [])

    def prompt_ids(
        self, messages: Sequence[Message], tools: Sequence[Tool] | None, tokenizer: Tokenizer
    ) -> list[int]:
        """The ids of `render_prompt`, tokenized whole (as a server does), content as text."""

        def render(m: Any, t: Any) -> list[str]:
            return [self.render_prompt(m, t)]

        return marked_ids(render(messages, tools), render, messages, tools, tokenizer)[0]

    def _segment_ids(
        self,
        segments: list[Segment],
        messages: Any,
        tools: Any,
        tokenizer: Tokenizer,
        gen: bool,
        first: bool = False,
    ) -> list[list[int]]:
        def render(m: Any, t: Any) -> list[str]:
            return [s.text for s in self.segments(m, t, gen)]

        return marked_ids([s.text for s in segments], render, messages, tools, tokenizer, first=first)


class OpenThinkBlock:
    """Reasoning as Qwen3.5's and MiniMax-M2's templates write it: the generation prompt has already
    opened `<think>\n`, so an assistant turn starts with the reasoning (empty when there is none), then
    `\n</think>\n\n` and the answer. Mixed in before the format's base class."""

    def render_reasoning(self, reasoning: str | None) -> str:
        return f"{reasoning or ''}\n</think>\n\n"

    def split_reasoning(self, text: str) -> tuple[str | None, str]:
        end = text.find("</think>")
        if end < 0:
            return None, text
        return strip_suffix(text[:end], "\n"), strip_prefix(text[end + len("</think>") :], "\n\n")
