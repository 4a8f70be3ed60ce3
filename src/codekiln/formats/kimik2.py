"""kimik2: Kimi K2's template (vLLM parser `kimi_k2`). JSON tool declarations and calls, ids name the tool.

    <|tool_calls_section_begin|><|tool_call_begin|>functions.NAME:0<|tool_call_argument_begin|>{"a": 1}<|tool_call_end|><|tool_calls_section_end|>

Framing as Kimi K2's published template: `<|im_system|>tool_declare<|im_middle|>[tools JSON]<|im_end|>`, a
system turn (Kimi's default when none is given), `<|im_user|>user<|im_middle|>`, `<|im_assistant|>assistant
<|im_middle|>`, and each result as a `tool` turn starting "## Return of functions.NAME:N". As in Kimi-K2-Instruct's
template, N counts calls across the whole conversation (the first call is 0, the first call of the next turn
continues the count) whatever ids the messages carry, and results take the ids of the pending calls in order.
A lone `render_assistant` (no conversation around it) keeps ids that already have the `functions.NAME:N` shape
and numbers the others by position in the turn.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codekiln.core.errors import FormatError
from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, message_calls, tool_functions
from codekiln.formats.codec_json import call_from_obj, decode_at, dumps
from codekiln.formats.codec_xml import skip_ws, snippet
from codekiln.formats.framing import KIMI

SECTION_BEGIN, SECTION_END = "<|tool_calls_section_begin|>", "<|tool_calls_section_end|>"
CALL_BEGIN, ARG_BEGIN, CALL_END = "<|tool_call_begin|>", "<|tool_call_argument_begin|>", "<|tool_call_end|>"
HINT = f"write {SECTION_BEGIN}{CALL_BEGIN}functions.NAME:0{ARG_BEGIN}{{...JSON arguments...}}{CALL_END}{SECTION_END}"
_ID = re.compile(r"(?:functions\.)?([\w.\-]+):\d+")


def kimi_id(call_id: str, name: str, index: int) -> str:
    m = _ID.fullmatch(call_id)
    return (
        call_id
        if m and m.group(1) == name and call_id.startswith("functions.")
        else f"functions.{name}:{index}"
    )


def numbered(messages: Sequence[Message]) -> list[Message]:
    """The messages with call ids `functions.NAME:N` counted across the conversation, and each tool result
    given the id of the oldest call still waiting for one (Kimi-K2-Instruct's template does both)."""
    out: list[Message] = []
    pending: list[str]
    count, pending = 0, []
    for msg in messages:
        if msg.get("role") == "assistant" and msg.get("tool_calls"):
            calls = []
            for call in message_calls(msg):
                call.id = f"functions.{call.name}:{count}"
                count, pending = count + 1, [*pending, call.id]
                calls.append(call.to_openai())
            msg = {**msg, "tool_calls": calls}
        elif msg.get("role") == "tool":
            name = msg.get("name") or "unknown"
            ident = pending.pop(0) if pending else f"functions.{name}:{count}"
            msg = {**msg, "tool_call_id": ident, "name": ident.removeprefix("functions.").rpartition(":")[0]}
        out.append(msg)
    return out


class KimiK2(ChatFormat):
    name = "kimik2"
    turns = KIMI
    default_system = "You are Kimi, an AI assistant created by Moonshot AI."
    call_separator = ""

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        declare = self.turns.turn("tool_declare", self.render_tools(tools)) if tools else ""
        if system is None:  # the template's default system turn is followed by a newline (a Jinja artifact)
            return declare + self.turns.turn("system", self.default_system) + "\n"
        return declare + self.turns.turn("system", system)

    def prepare(self, messages: Sequence[Message]) -> list[Message]:
        return numbered(messages)

    def render_tools(self, tools: list[Tool]) -> str:
        return dumps([{"type": "function", "function": fn} for fn in tool_functions(tools).values()])

    def render_calls(self, calls: list[ToolCall]) -> str:
        body = "".join(
            f"{CALL_BEGIN}{kimi_id(c.id, c.name, i)}{ARG_BEGIN}{dumps(c.arguments)}{CALL_END}"
            for i, c in enumerate(calls)
        )
        return SECTION_BEGIN + body + SECTION_END

    def render_tool_results(self, messages: list[Message]) -> str:
        return "".join(
            self.turns.turn(
                "tool",
                f"## Return of {kimi_id(m.get('tool_call_id') or '', m.get('name') or '', i)}\n"
                + self.render_tool_result(m),
            )
            for i, m in enumerate(messages)
        )

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        first = text.find(SECTION_BEGIN)
        if first < 0:
            if CALL_BEGIN in text:
                raise FormatError(f"Start your tool calls with {SECTION_BEGIN}.", hint=HINT)
            return text, []
        calls, pos = [], first + len(SECTION_BEGIN)
        while not text.startswith(SECTION_END, pos := skip_ws(text, pos)):
            if not text.startswith(CALL_BEGIN, pos):
                found = snippet(text[pos:]) if pos < len(text) else "the end of your reply"
                raise FormatError(f"Expected {CALL_BEGIN} or {SECTION_END}, found {found}.", hint=HINT)
            arg = text.find(ARG_BEGIN, pos)
            ident = text[pos + len(CALL_BEGIN) : arg].strip() if arg >= 0 else ""
            m = _ID.fullmatch(ident)
            if not m:
                raise FormatError(
                    f"A call id must look like functions.NAME:0, got {snippet(ident)}.", hint=HINT
                )
            args, pos = decode_at(
                text, arg + len(ARG_BEGIN), what=f"The arguments of {m.group(1)}", hint=HINT
            )
            call = call_from_obj({"name": m.group(1), "arguments": args}, tools, HINT)
            call.id = ident
            calls.append(call)
            if not text.startswith(CALL_END, pos := skip_ws(text, pos)):
                raise FormatError(f"End each tool call with {CALL_END}.", hint=HINT)
            pos += len(CALL_END)
        rest = text[pos + len(SECTION_END) :]
        if rest.strip():
            raise FormatError(f"Nothing may follow {SECTION_END}, found {snippet(rest.strip())}.", hint=HINT)
        return text[:first], calls
