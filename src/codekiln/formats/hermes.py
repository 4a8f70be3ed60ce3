"""hermes: the Hermes 2 Pro / Hermes 3 tool-use template (vLLM parser `hermes`). ChatML framing.

    <|im_start|>assistant
    <tool_call>
    {"name": "NAME", "arguments": {...}}
    </tool_call><|im_end|>

As NousResearch's `tool_use` chat template writes it (Hermes-2-Pro-Llama-3-8B and Hermes-3-Llama-3.1-8B ship
the same one): a first system turn lists the tools inside <tools></tools>, each as the template's JSON-like
line whose description is a Python signature plus an Args list (written exactly as the template does,
quirks included: no newline between Args entries, arrays as `list[Union[]]`, the line's outer brace left
open); a system message follows as its own turn; consecutive results share one `tool` turn of
<tool_response> blocks, and that turn has no newline after its <|im_end|>.

Departures (listed and tested in tests/formats/template_specs.py): text before the calls is kept (the template drops
it; `calls_only=True` drops it too), no BOS text (Llama-based Hermes tokenizers add it; Qwen-based models
served with this parser have none), and the last result of a run is followed by a newline as the template
writes it in history (when the results end the conversation the template omits it; that would change the
prompt once history grows).
"""

from __future__ import annotations

from typing import Any

from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, tool_functions
from codekiln.formats.codec_json import dumps, parse_tagged

HINT = 'write each call as <tool_call>\n{"name": "<function-name>", "arguments": {...}}\n</tool_call>'
PREAMBLE = (
    "You are a function calling AI model. You are provided with function signatures within <tools></tools> "
    "XML tags. You may call one or more functions to assist with the user query. Don't make assumptions about "
    "what values to plug into functions. Here are the available tools: <tools> "
)
INSTRUCTIONS = (
    ' </tools>Use the following pydantic model json schema for each tool call you will make: {"properties": '
    '{"name": {"title": "Name", "type": "string"}, "arguments": {"title": "Arguments", "type": "object"}}, '
    '"required": ["name", "arguments"], "title": "FunctionCall", "type": "object"}}\n'
    "For each function call return a json object with function name and arguments within "
    '<tool_call></tool_call> XML tags as follows:\n<tool_call>\n{"name": <function-name>, "arguments": '
    "<args-dict>}\n</tool_call>"
)
PY_TYPES = {"string": "str", "number": "float", "integer": "int", "boolean": "bool"}


def python_type(spec: Any) -> str:
    """The template's json_to_python_type as Jinja evaluates it: arrays give `list[Union[]]` (the template
    passes `spec|items`, the schema's key/value pairs, where it means spec["items"]), a schema without a
    type gives `Union[]`, an unknown type name `Any`."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(kind, str):
        if kind == "object" and "additionalProperties" in spec:
            return f"dict[str, {python_type(spec['additionalProperties'])}]"
        return PY_TYPES.get(kind) or {"array": "list[Union[]]", "object": "dict"}.get(kind, "Any")
    if isinstance(kind, list):
        return "Union[" + ",".join(python_type({"type": t}) for t in kind) + "]"
    return "Union[]"


def describe(fn: dict[str, Any]) -> str:
    """One tool as the template lists it."""
    params = fn.get("parameters") or {}
    props: dict[str, Any] = params.get("properties") or {}
    signature = ", ".join(f"{p}: {python_type(s)}" for p, s in props.items())
    returns = f" -> {python_type(fn['return'])}" if "return" in fn else ""
    args = "".join(
        f"        {p}({python_type(s)}): {str(s.get('description', '')).strip()}" for p, s in props.items()
    )
    text = f"{fn['name']}({signature}){returns} - {fn.get('description', '')}\n\n"
    text += ("    Args:\n" + args) if props else ""
    if isinstance(fn.get("return"), dict) and "description" in fn["return"]:
        text += "\n    Returns:\n        " + str(fn["return"]["description"])
    schema = dumps(params) if props else "{}"
    return f'{{"type": "function", "function": {{"name": "{fn["name"]}", "description": "{text}", "parameters": {schema}}}'


class Hermes(ChatFormat):
    name = "hermes"
    open_tag, close_tag = "<tool_call>", "</tool_call>"
    hint = HINT
    lists = False  # a tag may hold a JSON array of calls

    def __init__(self, *, calls_only: bool = False) -> None:
        self.calls_only = calls_only

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        listing = self.turns.turn("system", self.render_tools(tools)) if tools else ""
        return listing + (self.turns.turn("system", system) if system is not None else "")

    def render_tools(self, tools: list[Tool]) -> str:
        return PREAMBLE + "\n".join(describe(fn) for fn in tool_functions(tools).values()) + INSTRUCTIONS

    def call_objects(self, calls: list[ToolCall]) -> list[str]:
        return [dumps({"name": c.name, "arguments": c.arguments}) for c in calls]

    def render_calls(self, calls: list[ToolCall]) -> str:
        return "\n".join(f"{self.open_tag}\n{o}\n{self.close_tag}" for o in self.call_objects(calls))

    def render_tool_results(self, messages: list[Message]) -> str:
        blocks = "".join(
            f"<tool_response>\n{self.render_tool_result(m)}\n</tool_response>\n" for m in messages
        )
        return self.turns.opening("tool") + blocks + self.turns.eot

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        first, calls = parse_tagged(text, self.open_tag, self.close_tag, tools, self.hint, lists=self.lists)
        return (text, []) if first < 0 else (self.content_before(text, first), calls)
