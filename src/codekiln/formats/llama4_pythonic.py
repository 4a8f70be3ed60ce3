"""llama4_pythonic: Llama 4's pythonic tool calls (vLLM parser `llama4_pythonic`).

    [get_weather(city="Paris"), search(query="x", limit=3)]<|eot|>

Framing as vLLM's tool_chat_template_llama4_pythonic.jinja: `<|begin_of_text|>`, `<|header_start|>ROLE
<|header_end|>\\n\\n...<|eot|>` turns, tools as a JSON list in the system turn, results as `ipython` turns
holding the JSON-quoted text. Values are Python literals (see codec_python), where the template quotes every
value as a string.

Option `calls_only` (default True): a turn with calls is rendered as the call list alone, its text dropped,
because vLLM's `llama4_pythonic` and `pythonic` parsers only see calls when the whole reply is the list (a
model trained to write text first loses its calls when served). `calls_only=False` keeps the text, on its own
line before the list; `parse` accepts both.
"""

from __future__ import annotations

import json
import re

from codekiln.formats import codec_python
from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, tool_functions
from codekiln.formats.codec_json import dumps, split_trailing
from codekiln.formats.framing import LLAMA4

PYTHON_START, PYTHON_END = "<|python_start|>", "<|python_end|>"
_START = re.compile(r"\[\s*[A-Za-z_][\w.]*\s*\(")
FORMAT_RULE = "Use exact format: [func_name1(param1=value1, param2=value2), func_name2(...)]"
UNAVAILABLE = (
    'respond ONLY with internal knowledge or "I don\'t have access to [Unavailable service] information"'
)
DEFAULT = (
    "You are a helpful assistant and an expert in function composition. You can answer general questions "
    "using your internal knowledge OR invoke functions when necessary. Follow these strict guidelines:\n\n"
    "1. FUNCTION CALLS:\n- ONLY use functions that are EXPLICITLY listed in the function list below\n"
    f"- If NO functions are listed (empty function list []), {UNAVAILABLE}\n"
    f"- If a function is not in the list, {UNAVAILABLE}\n"
    "- If ALL required parameters are present AND the query EXACTLY matches a listed function's purpose: "
    f"output ONLY the function call(s)\n- {FORMAT_RULE}\nExamples:\n"
    'CORRECT: [get_weather(location="Vancouver"), calculate_route(start="Boston", end="New York")] <- Only if '
    'get_weather and calculate_route are in function list\nINCORRECT: get_weather(location="New York")\n'
    'INCORRECT: Let me check the weather: [get_weather(location="New York")]\n'
    'INCORRECT: [get_events(location="Singapore")] <- If function not in list\n\n'
    "2. RESPONSE RULES:\n- For pure function requests matching a listed function: ONLY output the function "
    "call(s)\n- For knowledge questions: ONLY output text\n- For missing parameters: ONLY request the specific "
    "missing parameters\n- For unavailable services (not in function list): output ONLY with internal knowledge "
    'or "I don\'t have access to [Unavailable service] information". Do NOT execute a function call.\n'
    "- If the query asks for information beyond what a listed function provides: output ONLY with internal "
    "knowledge about your limitations\n- NEVER combine text and function calls in the same response\n"
    "- NEVER suggest alternative functions when the requested service is unavailable\n"
    "- NEVER create or invent new functions not listed below\n\n3. STRICT BOUNDARIES:\n"
    "- ONLY use functions from the list below - no exceptions\n- NEVER use a function as an alternative to "
    "unavailable information\n- NEVER call functions not present in the function list\n- NEVER add explanatory "
    "text to function calls\n- NEVER respond with empty brackets\n- Use proper Python/JSON syntax for function "
    "calls\n- Check the function list carefully before responding\n\n4. TOOL RESPONSE HANDLING:\n"
    "- When receiving tool responses: provide concise, natural language responses\n- Don't repeat tool response "
    "verbatim\n- Don't add supplementary information\n\nHere is a list of functions in JSON format that you can "
    "invoke:\n"
)


class Llama4Pythonic(ChatFormat):
    name = "llama4_pythonic"
    turns = LLAMA4
    tool_role = "ipython"

    def __init__(self, *, calls_only: bool = True) -> None:
        self.calls_only = calls_only

    def render_tools(self, tools: list[Tool]) -> str:
        return json.dumps(
            [{"type": "function", "function": f} for f in tool_functions(tools).values()], indent=4
        )

    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        if not tools:
            return system
        if system is None:
            return f"{DEFAULT}{self.render_tools(tools)}\n"
        return f"{system}\nHere is a list of functions in JSON format that you can invoke. {FORMAT_RULE}\n{self.render_tools(tools)}\n"

    def render_calls(self, calls: list[ToolCall]) -> str:
        return codec_python.render_calls(calls)

    def render_tool_result(self, message: Message) -> str:
        return dumps(super().render_tool_result(message))

    def render_tool_results(self, messages: list[Message]) -> str:
        return "".join(self.turns.turn(self.tool_role, self.render_tool_result(m)) for m in messages)

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        if text.startswith(PYTHON_START):  # Llama 4 sometimes wraps the list in these; vLLM drops them
            text = text[len(PYTHON_START) :].replace(PYTHON_END, "")
        at, calls = split_trailing(text, _START, lambda s: codec_python.parse_calls(s, tools))
        return (text, []) if at < 0 or calls is None else (self.content_before(text, at), calls)
