"""glm46: GLM-4.5/4.6's template (vLLM parser `glm45`). JSON tool definitions, XML key/value calls.

    <tool_call>NAME
    <arg_key>P</arg_key>
    <arg_value>VALUE</arg_value>
    </tool_call>

String values raw, other types JSON, typed from the schema. Framing as GLM-4.6's published template:
`[gMASK]<sop>`, `<|system|>`, `<|user|>`, `<|assistant|>` then `\\n<think>REASONING</think>` (empty when there
is none) and `\\n` + text, results after `<|observation|>` as <tool_response> blocks.

GLM has no end-of-turn token: the assistant stops by emitting the next role token (`<|observation|>` after
calls, `<|user|>` otherwise). That token is rendered as the last trained token of the assistant turn and not
repeated by the turn that follows. The reasoning of every turn is kept (GLM's template drops it from turns
before the last user message, which would re-tokenize history).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from codekiln.core.errors import FormatError
from codekiln.formats.base import (
    ChatFormat,
    Message,
    Segment,
    Tool,
    ToolCall,
    check_tool,
    message_calls,
    message_text,
    strip_prefix,
    strip_suffix,
    tool_functions,
)
from codekiln.formats.codec_json import dumps
from codekiln.formats.codec_xml import (
    call_end,
    decode_params,
    encode_value,
    find_end,
    next_call,
    skip_ws,
    snippet,
    split_params,
)
from codekiln.formats.framing import GLM

OBSERVATION, USER = "<|observation|>", "<|user|>"
HINT = "write <tool_call>NAME\n<arg_key>ARG</arg_key>\n<arg_value>VALUE</arg_value>\n</tool_call>"
MARKUP = ("<tool_call>", "</tool_call>", "<arg_key>", "</arg_key>", "<arg_value>", "</arg_value>")
_CALL_END = call_end("", "<tool_call>", MARKUP)
_NAME_END = re.compile(r"\n|<arg_key>|</tool_call>")


def _arg_open(name: str) -> str:
    return rf"<arg_key>({name})</arg_key>\s*<arg_value>"


class GLM46(ChatFormat):
    name = "glm46"
    turns = GLM
    supports_reasoning = True

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        out = self.turns.start + (self.turns.turn("system", self.render_tools(tools)) if tools else "")
        return out + (self.turns.turn("system", system) if system is not None else "")

    def render_tools(self, tools: list[Tool]) -> str:
        listing = "".join(
            dumps({"type": "function", "function": f}) + "\n" for f in tool_functions(tools).values()
        )
        return (
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with "
            f"function signatures within <tools></tools> XML tags:\n<tools>\n{listing}</tools>\n\nFor each function "
            "call, output the function name and arguments within the following XML format:\n<tool_call>"
            "{function-name}\n<arg_key>{arg-key-1}</arg_key>\n<arg_value>{arg-value-1}</arg_value>\n<arg_key>"
            "{arg-key-2}</arg_key>\n<arg_value>{arg-value-2}</arg_value>\n...\n</tool_call>"
        )

    def generation_prompt(self, prev_role: str) -> str:
        return "<|assistant|>\n<think>"

    def end_of_turn(self, calls: list[ToolCall]) -> str:
        return OBSERVATION if calls else USER

    def render_calls(self, calls: list[ToolCall]) -> str:
        def args(c: ToolCall) -> str:
            return "".join(
                f"<arg_key>{k}</arg_key>\n<arg_value>{encode_value(v)}</arg_value>\n"
                for k, v in c.arguments.items()
            )

        return "".join(f"\n<tool_call>{c.name}\n{args(c)}</tool_call>" for c in calls)

    def render_assistant(self, message: Message) -> str:
        content, calls = message_text(message), message_calls(message)
        reasoning = message.get("reasoning_content") or ""
        text = f"\n{content}" if content else ""
        return f"{reasoning}</think>{text}{self.render_calls(calls)}{self.end_of_turn(calls)}"

    def render_tool_results(self, messages: list[Message]) -> str:
        blocks = "".join(
            f"\n<tool_response>\n{self.render_tool_result(m)}\n</tool_response>" for m in messages
        )
        return OBSERVATION + blocks

    def segments(
        self,
        messages: Sequence[Message],
        tools: Sequence[Tool] | None = None,
        add_generation_prompt: bool = True,
    ) -> list[Segment]:
        out: list[Segment] = []
        for seg in super().segments(messages, tools, add_generation_prompt):
            if out and out[-1].trainable:  # the role token the assistant stopped on opens this turn already
                for token in (OBSERVATION, USER):
                    if out[-1].text.endswith(token) and seg.text.startswith(token):
                        seg = Segment(seg.text[len(token) :], False)
            if seg.text:
                out.append(seg)
        return out

    def split_reasoning(self, text: str) -> tuple[str | None, str]:
        end = text.find("</think>")
        return (None, text) if end < 0 else (text[:end], text[end + len("</think>") :])

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        text = strip_prefix(text, "\n")
        first = text.find("<tool_call>")
        if first < 0:
            return text, []
        calls, pos = [], first
        while (pos := skip_ws(text, pos)) < len(text):
            at = next_call(text, pos, "<tool_call>")  # plain text between two calls is dropped, as vLLM does
            if at < 0:
                raise FormatError(
                    f"Nothing may follow the last </tool_call>, found {snippet(text[pos:])}.", hint=HINT
                )
            start = at + len("<tool_call>")
            name_end = _NAME_END.search(text, start)
            name_stop = name_end.start() if name_end else len(text)
            name = text[start:name_stop].strip()
            if not name:
                raise FormatError("Write the tool name right after <tool_call>.", hint=HINT)
            end = find_end(text, "</tool_call>", name_stop, _CALL_END)
            if end < 0:
                raise FormatError(f"Your call to {name} is not closed with </tool_call>.", hint=HINT)
            props = check_tool(name, tools)
            body = text[name_stop:end]
            pairs = split_params(
                body, _arg_open, "</arg_value>", where=name, example=HINT, names=list(props) or None
            )
            calls.append(ToolCall(name, decode_params([(k, v) for k, v, _ in pairs], props, name)))
            pos = end + len("</tool_call>")
        return strip_suffix(text[:first], "\n"), calls
