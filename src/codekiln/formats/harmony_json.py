"""harmony_json: OpenAI's harmony format (gpt-oss; vLLM parser `openai`). TypeScript tool definitions, JSON calls.

    <|start|>assistant<|channel|>analysis<|message|>REASONING<|end|>
    <|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>{"a": 1}<|call|>
    <|start|>functions.NAME to=assistant<|channel|>commentary<|message|>RESULT<|end|>
    <|start|>assistant<|channel|>final<|message|>ANSWER<|return|>

(one line per message here; there are no newlines between messages.) Tools go in the developer turn as a
`namespace functions { type NAME = (_: {...}) => any; }` block. Calls are written as gpt-oss's chat template
writes them (recipient before the channel, content type `json`; vLLM rewrites history to this header too,
"the format expected by GPT-OSS"); the parser also reads the `<|channel|>commentary to=functions.NAME
<|constrain|>json` header of OpenAI's harmony guide. Reasoning is the analysis channel, text beside calls is a
commentary preamble, a plain answer is the final channel.

Departures from the template (listed and tested in tests/formats/template_specs.py): the system turn has no
current date; every parallel call is written, one message each, and each result names its own call's
function (the template keeps only a turn's first call); a result is written as is, not JSON-quoted (as
vLLM's gpt-oss path, openai-harmony, writes it); text beside calls stays a commentary preamble in history
(the template turns it into analysis and drops it once a final answer follows); reasoning and a final
answer's `<|return|>` stay in history (the template drops old reasoning and swaps `<|return|>` for
`<|end|>`), all so that history never re-tokenizes.
"""

from __future__ import annotations

import re
from typing import Any

from codekiln.core.errors import FormatError
from codekiln.formats.base import (
    ChatFormat,
    Message,
    ParsedTurn,
    Tool,
    ToolCall,
    check_tool,
    message_calls,
    message_text,
)
from codekiln.formats.codec_json import arguments, decode_at, dumps
from codekiln.formats.codec_xml import skip_ws, snippet
from codekiln.formats.framing import HARMONY
from codekiln.formats.typescript import ts_namespace

START, MESSAGE, CHANNEL = "<|start|>", "<|message|>", "<|channel|>"
TERMINATORS = ("<|end|>", "<|call|>", "<|return|>")
SYSTEM = (
    "You are ChatGPT, a large language model trained by OpenAI.\nKnowledge cutoff: 2024-06\n\nReasoning: medium"
    "\n\n# Valid channels: analysis, commentary, final. Channel must be included for every message."
)
HINT = "write <|start|>assistant to=functions.NAME<|channel|>commentary json<|message|>{...}<|call|>"
_AFTER = re.compile(r"\s*(?:<\|start\|>|\Z)")
_CHANNEL = re.compile(r"<\|channel\|>\s*(\w+)")
_RECIPIENT = re.compile(r"\bto=([^\s<]+)")


def _text_end(text: str, start: int) -> tuple[int, str]:
    """End of a text body: the first terminator followed by <|start|> or the end (else the end of text)."""
    pos = start
    while (idx := text.find("<|", pos)) >= 0:
        for term in TERMINATORS:
            if text.startswith(term, idx) and _AFTER.match(text, idx + len(term)):
                return idx, term
        pos = idx + 1
    return len(text), ""


class HarmonyJson(ChatFormat):
    name = "harmony_json"
    turns = HARMONY
    supports_reasoning = True
    constrain = "json"

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        note = "\nCalls to these tools must go to the commentary channel: 'functions'." if tools else ""
        developer = (f"# Instructions\n\n{system}\n\n" if system else "") + (
            f"# Tools\n\n{self.render_tools(tools)}" if tools else ""
        )
        dev = self.turns.turn("developer", developer) if developer else ""
        return self.turns.turn("system", SYSTEM + note) + dev

    def render_tools(self, tools: list[Tool]) -> str:
        return ts_namespace(tools)

    def stop_strings(self) -> list[str]:
        return ["<|call|>", "<|return|>"]

    def generation_prompt(self, prev_role: str) -> str:
        return START + "assistant"

    def render_call_body(self, call: ToolCall) -> str:
        return dumps(call.arguments)

    def render_calls(self, calls: list[ToolCall]) -> str:
        return (START + "assistant").join(
            f" to=functions.{c.name}{CHANNEL}commentary {self.constrain}{MESSAGE}{self.render_call_body(c)}<|call|>"
            for c in calls
        )

    def render_assistant(self, message: Message) -> str:
        content, calls, reasoning = (
            message_text(message),
            message_calls(message),
            message.get("reasoning_content"),
        )
        pieces = [f"{CHANNEL}analysis{MESSAGE}{reasoning}<|end|>"] if reasoning else []
        if calls:
            pieces += [f"{CHANNEL}commentary{MESSAGE}{content}<|end|>"] if content else []
            pieces.append(self.render_calls(calls))
        else:
            pieces.append(f"{CHANNEL}final{MESSAGE}{content}<|return|>")
        return (START + "assistant").join(pieces)

    def render_tool_results(self, messages: list[Message]) -> str:
        return "".join(
            f"{START}functions.{m.get('name', '')} to=assistant{CHANNEL}commentary{MESSAGE}{self.render_tool_result(m)}<|end|>"
            for m in messages
        )

    def parse_call_body(
        self, text: str, start: int, name: str, tools: list[Tool] | None
    ) -> tuple[dict[str, Any], int]:
        """The arguments of a call whose body starts at `start`, and the index just after them."""
        check_tool(name, tools)
        value, end = decode_at(text, start, what=f"The arguments of {name}", hint=HINT)
        return arguments(value, name, HINT), end

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        turn = self.parse(text, tools)
        return turn.content, turn.tool_calls

    def parse(self, text: str, tools: list[Tool] | None = None) -> ParsedTurn:
        if CHANNEL not in text and MESSAGE not in text:
            return ParsedTurn(text)
        texts: dict[str, list[str]] = {"analysis": [], "text": []}
        calls: list[ToolCall] = []
        pos = 0
        while pos < len(text):
            pos += len(START) if text.startswith(START, pos) else 0
            head_end = text.find(MESSAGE, pos)
            if head_end < 0:
                raise FormatError(
                    f"Each message needs a header ending in {MESSAGE}, found {snippet(text[pos:])}.",
                    hint=HINT,
                )
            header, start = text[pos:head_end], head_end + len(MESSAGE)
            channel, recipient = _CHANNEL.search(header), _RECIPIENT.search(header)
            if not channel or channel.group(1) not in ("analysis", "commentary", "final"):
                raise FormatError("Give every message a channel: analysis, commentary or final.", hint=HINT)
            if recipient:
                if not recipient.group(1).startswith("functions."):
                    raise FormatError(
                        f"There is no recipient {recipient.group(1)!r}; call tools as to=functions.NAME.",
                        hint=HINT,
                    )
                name = recipient.group(1)[len("functions.") :]
                args, end = self.parse_call_body(text, start, name, tools)
                calls.append(ToolCall(name, args))
                end = skip_ws(text, end)
                term = next((t for t in TERMINATORS if text.startswith(t, end)), "")
                if not term and end < len(text):
                    raise FormatError(
                        f"End your call to {name} with <|call|>, found {snippet(text[end:])}.", hint=HINT
                    )
            else:
                end, term = _text_end(text, start)
                texts["analysis" if channel.group(1) == "analysis" else "text"].append(text[start:end])
            pos = skip_ws(text, end + len(term))
            if pos < len(text) and not text.startswith(START, pos):
                raise FormatError(
                    f"Start each new message with {START}assistant, found {snippet(text[pos:])}.", hint=HINT
                )
        return ParsedTurn("\n".join(texts["text"]), calls, "\n".join(texts["analysis"]) or None)
