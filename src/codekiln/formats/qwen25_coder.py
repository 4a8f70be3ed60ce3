"""qwen25_coder: the Qwen2.5-Coder tool template (vLLM's tool_chat_template_qwen2_5_coder.jinja). ChatML.

Tools are listed as JSON lines after "Available tools:" with two worked examples; each call is a JSON
object wrapped in <tools></tools> (Qwen2.5-Coder's habit, unlike Qwen2.5's <tool_call>); results come back
in one `tool` turn of <tool_response> blocks. A <tools> block may also hold a JSON array of calls, as vLLM's
Qwen2.5-Coder parser reads it. Whitespace as vLLM's template writes it: the text runs straight
into the first call and every call block ends with a newline.
"""

from __future__ import annotations

from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, tool_functions
from codekiln.formats.codec_json import dumps
from codekiln.formats.hermes import Hermes

EXAMPLES = (
    "When you need to call a tool, use <tools> tags like these examples:\n\n"
    "User: What's the weather in Tokyo?\n"
    'Assistant: <tools>\n{"name": "get_weather", "arguments": {"city": "Tokyo"}}\n</tools>\n\n'
    "User: How about in Paris and Berlin?\n"
    'Assistant: <tools>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tools>\n'
    '<tools>\n{"name": "get_weather", "arguments": {"city": "Berlin"}}\n</tools>'
)


class Qwen25Coder(Hermes):
    name = "qwen25_coder"
    default_system = "You are Qwen, a helpful assistant."
    open_tag, close_tag = "<tools>", "</tools>"
    call_separator = ""
    lists = True  # vLLM's Qwen2.5-Coder parser also reads <tools>[{...}, {...}]</tools>
    render_system = ChatFormat.render_system
    hint = 'write each call as <tools>\n{"name": "<function-name>", "arguments": {...}}\n</tools>'

    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        body = system if system is not None else self.default_system
        return f"{body}\n\n{self.render_tools(tools)}" if tools else body

    def render_tools(self, tools: list[Tool]) -> str:
        listing = "".join(dumps(fn) + "\n" for fn in tool_functions(tools).values())
        return f"Available tools:\n{listing}\n{EXAMPLES}"

    def render_calls(self, calls: list[ToolCall]) -> str:
        return "".join(f"{self.open_tag}\n{o}\n{self.close_tag}\n" for o in self.call_objects(calls))

    def render_tool_results(self, messages: list[Message]) -> str:
        blocks = "".join(
            f"<tool_response>\n{self.render_tool_result(m)}\n</tool_response>\n" for m in messages
        )
        return self.turns.turn("tool", blocks)
