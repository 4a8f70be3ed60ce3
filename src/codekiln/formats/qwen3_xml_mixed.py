"""qwen3_xml_mixed: JSON tool definitions with Qwen3-Coder's XML calls (the Qwen3.5-style template).

Tools are listed as one JSON object per line inside <tools>, calls are written exactly as in
`qwen3_coder` (raw string values, JSON for other types, typed from the schema), results come back in one
user turn of <tool_response> blocks (each on its own line, as Qwen3.5's template writes them). An optional `<think>...</think>` block before the answer carries the
reasoning; it is rendered on every assistant turn (Qwen's template drops it from older turns, which would
re-tokenize history).
"""

from __future__ import annotations

from codekiln.formats.base import Message, Tool, tool_functions
from codekiln.formats.codec_json import dumps
from codekiln.formats.qwen3_coder import INSTRUCTIONS, Qwen3Coder


class Qwen3XmlMixed(Qwen3Coder):
    name = "qwen3_xml_mixed"
    default_system = ""
    supports_reasoning = True

    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        if not tools:
            return system
        return self.render_tools(tools) + (f"\n\n{system}" if system else "")

    def render_tools(self, tools: list[Tool]) -> str:
        listing = "\n".join(
            dumps({"type": "function", "function": fn}) for fn in tool_functions(tools).values()
        )
        return f"# Tools\n\nYou have access to the following functions:\n\n<tools>\n{listing}\n</tools>\n\n{INSTRUCTIONS}"

    def render_tool_results(self, messages: list[Message]) -> str:
        blocks = "".join(
            f"\n<tool_response>\n{self.render_tool_result(m)}\n</tool_response>" for m in messages
        )
        return f"{self.turns.opening('user')[:-1]}{blocks}{self.turns.close}"
