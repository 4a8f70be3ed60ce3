"""qwen3_xml_mixed: JSON tool definitions with Qwen3-Coder's XML calls (Qwen3.5's template).

Tools are listed as one JSON object per line inside <tools>, calls are written exactly as in `qwen3_coder`
(raw string values, JSON for other types, typed from the schema), results come back in one user turn of
<tool_response> blocks, each on its own line. As in Qwen3.5's template (thinking on), the generation prompt
ends with `<think>\\n`; the model writes its reasoning (possibly none), `\\n</think>\\n\\n`, then text and calls.
The think block is kept on every assistant turn: the template keeps it only after the last user message,
which is the whole of an agent episode, and drops it before (re-tokenizing history, see base).
"""

from __future__ import annotations

from codekiln.formats.base import Message, OpenThinkBlock, Tool, tool_functions
from codekiln.formats.codec_json import dumps
from codekiln.formats.qwen3_coder import INSTRUCTIONS, Qwen3Coder


class Qwen3XmlMixed(OpenThinkBlock, Qwen3Coder):
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

    def generation_prompt(self, prev_role: str) -> str:
        return self.turns.opening("assistant") + "<think>\n"

    def render_tool_results(self, messages: list[Message]) -> str:
        blocks = "".join(
            f"\n<tool_response>\n{self.render_tool_result(m)}\n</tool_response>" for m in messages
        )
        return f"{self.turns.opening('user')[:-1]}{blocks}{self.turns.close}"
