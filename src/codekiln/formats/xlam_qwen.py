"""xlam_qwen: Salesforce xLAM-2 (Qwen-based) template (vLLM parser `xlam`, tool_chat_template_xlam_qwen.jinja).

    [{"name": "NAME", "arguments": {...}}, {"name": "OTHER", "arguments": {...}}]<|im_end|>

ChatML framing; the system turn holds xLAM's instructions and each tool as indented JSON; calls are one JSON
array; each result is a `tool` turn.

Option `calls_only` (default True): a turn with calls is the JSON array alone, as the template writes it (it
drops the text) and as vLLM's `xlam` parser needs it (a reply starting with text is read as text only).
`calls_only=False` keeps the text on its own line before the array; `parse` accepts both, and the other
shapes vLLM's parser reads: the array right after `</think>`, in a ```json fence, after `[TOOL_CALLS]` or inside
<tool_call> tags (the text around it is the content).
"""

from __future__ import annotations

import json
import re

from codekiln.core.errors import FormatError
from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, tool_functions
from codekiln.formats.codec_json import call_from_obj, dumps, parse_json_list, split_trailing

HINT = 'write one JSON array: [{"name": "tool_call_name", "arguments": {"arg1": "value1"}}, ...]'
_START = re.compile(r"\[\s*\{")
_WRAPPERS = [  # as vLLM's xlam parser looks for them, in its order
    re.compile(r"(?<=</think>)([\s\S]*)\Z"),
    re.compile(r"```(?:json)?\s*([\s\S]*?)```"),
    re.compile(r"\[TOOL_CALLS\]([\s\S]*?)(?=\n|$)"),
    re.compile(r"<tool_call>([\s\S]*?)</tool_call>"),
]
INSTRUCTIONS = (
    "You have access to a set of tools. When using tools, make calls in a single JSON array: \n\n"
    '[{"name": "tool_call_name", "arguments": {"arg1": "value1", "arg2": "value2"}}, ... (additional parallel '
    "tool calls as needed)]\n\nIf no tool is suitable, state that explicitly. If the user's input lacks required "
    "parameters, ask for clarification. Do not interpret or respond until tool results are returned. Once they "
    "are available, process them or make additional calls if needed. For tasks that don't require tools, such "
    "as casual conversation or general advice, respond directly in plain text. The available tools are:"
)


class XlamQwen(ChatFormat):
    name = "xlam_qwen"
    default_system = "You are a helpful assistant. You are developed by Salesforce xLAM team."

    def __init__(self, *, calls_only: bool = True) -> None:
        self.calls_only = calls_only

    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        if system is not None:  # the template ends the system text with a newline, tools or not
            return f"{system}\n{self.render_tools(tools)}"
        instructions = f"{INSTRUCTIONS}\n\n{self.render_tools(tools)}" if tools else ""
        return f"{self.default_system}\n{instructions}"

    def render_tools(self, tools: list[Tool]) -> str:
        return "".join(
            json.dumps({"type": "function", "function": f}, indent=4) + "\n\n"
            for f in tool_functions(tools).values()
        )

    def render_calls(self, calls: list[ToolCall]) -> str:
        return dumps([{"name": c.name, "arguments": c.arguments} for c in calls])

    def render_tool_results(self, messages: list[Message]) -> str:
        return "".join(self.turns.turn("tool", self.render_tool_result(m)) for m in messages)

    def _parse_list(self, text: str, tools: list[Tool] | None) -> list[ToolCall]:
        items = parse_json_list(text, "Your tool call array", HINT)
        if not items:
            raise FormatError("Your tool call array is empty.", hint=HINT)
        return [call_from_obj(item, tools, HINT) for item in items]

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        for wrapper in _WRAPPERS:  # the other shapes vLLM's xlam parser reads: the array fenced or tagged
            m = wrapper.search(text)
            if m and _START.match(m.group(1).strip()):
                return (text[: m.start()] + text[m.end() :]).strip(), self._parse_list(m.group(1), tools)
        at, calls = split_trailing(text, _START, lambda s: self._parse_list(s, tools))
        return (text, []) if at < 0 or calls is None else (self.content_before(text, at), calls)
