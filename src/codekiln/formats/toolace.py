"""toolace: ToolACE-8B's template (Llama 3.1 framing, pythonic calls; vLLM's tool_chat_template_toolace.jinja).

    [get_weather(city="Paris"), search(query="x", limit=3)]<|eot_id|>

`<|begin_of_text|>`, `<|start_header_id|>ROLE<|end_header_id|>\\n\\n...<|eot_id|>` turns; the system turn holds
ToolACE's function-composition instructions, each tool as indented JSON, then the system message. Results
are `ipython` turns holding {"output": text}. Values are Python literals (see codec_python). Option `calls_only`
as in llama4_pythonic (default True: the template and vLLM's `pythonic` parser both want the list alone).
"""

from __future__ import annotations

import json

from codekiln.formats.base import Message, Tool, tool_functions
from codekiln.formats.codec_json import dumps
from codekiln.formats.framing import LLAMA3
from codekiln.formats.llama4_pythonic import Llama4Pythonic

INSTRUCTIONS = (
    "You are an expert in composing functions. You are given a question and a set of possible functions. Based "
    "on the question, you will need to make one or more function/tool calls to achieve the purpose.\nIf none of "
    "the function can be used, point it out. If the given question lacks the parameters required by the "
    "function, also point it out.\nYou should only return the function call in tools call sections.\n\nIf you "
    "decide to invoke any of the function(s), you MUST put it in the format of [func_name1(params_name1="
    "params_value1, params_name2=params_value2...), func_name2(params)]\nYou SHOULD NOT include any other text "
    "in the response.\nHere is a list of functions in JSON format that you can invoke.\n"
)


class ToolAce(Llama4Pythonic):
    name = "toolace"
    turns = LLAMA3
    default_system = (
        "You are a helpful assistant with tool calling capabilities. Only reply with a tool call if the function "
        "exists in the library provided by the user. If it doesn't exist, just reply directly in natural language."
    )

    def render_tools(self, tools: list[Tool]) -> str:
        return "".join(
            json.dumps({"type": "function", "function": fn}, indent=4, ensure_ascii=False) + "\n\n"
            for fn in tool_functions(tools).values()
        )

    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        body = system if system is not None else self.default_system
        return f"{INSTRUCTIONS}{self.render_tools(tools)}\n{body}" if tools else body

    def render_tool_result(self, message: Message) -> str:
        return dumps({"output": super(Llama4Pythonic, self).render_tool_result(message)})
