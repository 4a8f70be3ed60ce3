"""qwen3_coder: Qwen3-Coder's template. XML tool definitions, XML calls, ChatML framing.

Written as Qwen3-Coder's published chat template writes it (checked against it in tests/formats):

    <tool_call>
    <function=NAME>
    <parameter=P>
    VALUE
    </parameter>
    </function>
    </tool_call>

Text before the calls is followed by a blank line. String values are raw (no escaping); other types are
JSON (`true`, `null`, where the template writes Python's `True`, `None`) and come back typed from the tool
schema. Tool results are merged into one user turn of `<tool_response>` blocks. Parsing follows vLLM's
`qwen3_coder` parser where it is unambiguous: plain text between two calls is dropped and both calls kept.
It is stricter elsewhere, with an error the model can act on: calls must be wrapped in <tool_call> (a bare
<function=...> is an error, not silently left in the content) and nothing may follow the last </tool_call>.
"""

from __future__ import annotations

import re
from typing import Any

from codekiln.core.errors import FormatError
from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, check_tool, tool_functions
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

EXAMPLE = "<tool_call>\n<function=NAME>\n<parameter=ARG>\nVALUE\n</parameter>\n</function>\n</tool_call>"
INSTRUCTIONS = (
    "If you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n</parameter>\n"
    "<parameter=example_parameter_2>\nThis is the value for the second parameter\nthat can span\n"
    "multiple lines\n</parameter>\n</function>\n</tool_call>\n\n<IMPORTANT>\nReminder:\n"
    "- Function calls MUST follow the specified format: an inner <function=...></function> block must be "
    "nested within <tool_call></tool_call> XML tags\n- Required parameters MUST be specified\n"
    "- You may provide optional reasoning for your function call in natural language BEFORE the function "
    "call, but NOT after\n- If there is no function call available, answer the question like normal with "
    "your current knowledge and do not tell the user about function calls\n</IMPORTANT>"
)
CODER_INSTRUCTIONS = (
    INSTRUCTIONS.replace("call a function", "call a tool", 1)
    .replace(
        "\nThis is the value for the second parameter\nthat can span\nmultiple lines\n", "\nvalue_2\n", 1
    )
    .replace(
        "an inner <function=...></function> block must be nested within <tool_call></tool_call> XML tags",
        "the tool calling block MUST begin with an opening <tool_call> tag and end with a closing </tool_call> tag.",
        1,
    )
)
_FUNC = re.compile(r"<function=([^<>\n]*)>")
MARKUP = ("<tool_call>", "</tool_call>", "<function=", "</function>", "<parameter=", "</parameter>")
_CALL_END = call_end("</tool_call>", "<tool_call>", MARKUP)
_CLOSED = re.compile(r"\s*</tool_call>")


def _param_open(name: str) -> str:
    return f"<parameter=({name})>"


def render_params(arguments: dict[str, Any]) -> str:
    return "".join(f"<parameter={k}>\n{encode_value(v)}\n</parameter>\n" for k, v in arguments.items())


def parse_params(body: str, name: str, tools: list[Tool] | None) -> dict[str, Any]:
    props = check_tool(name, tools)
    pairs = split_params(
        body,
        _param_open,
        "</parameter>",
        where=name,
        example="<parameter=ARG>\nVALUE\n</parameter>",
        names=list(props) or None,
        newline_wrapped=True,
    )
    return decode_params([(n, r) for n, r, _ in pairs], props, name)


def _xml_extra(key: str, value: Any) -> str:
    """An extra schema key as the template writes it: JSON for objects and arrays, Python's str otherwise."""
    return f"\n<{key}>{dumps(value) if isinstance(value, dict | list) else value}</{key}>"


def _extras(spec: Any, handled: tuple[str, ...]) -> str:
    return (
        "".join(_xml_extra(k, v) for k, v in spec.items() if k not in handled)
        if isinstance(spec, dict)
        else ""
    )


def xml_tools(tools: list[Tool]) -> str:
    """Tool definitions as Qwen3-Coder's template writes them: nested <function><name>...<parameters> XML."""
    out = "<tools>"
    for fn in tool_functions(tools).values():
        out += f"\n<function>\n<name>{fn['name']}</name>"
        if "description" in fn:
            out += f"\n<description>{str(fn['description']).strip()}</description>"
        out += "\n<parameters>"
        params = fn.get("parameters")
        props = params.get("properties") if isinstance(params, dict) else None
        for pname, spec in (props if isinstance(props, dict) else {}).items():
            out += f"\n<parameter>\n<name>{pname}</name>"
            if "type" in spec:
                out += f"\n<type>{spec['type']}</type>"
            if "description" in spec:
                out += f"\n<description>{str(spec['description']).strip()}</description>"
            out += _extras(spec, ("name", "type", "description")) + "\n</parameter>"
        out += _extras(params, ("type", "properties")) + "\n</parameters>"
        out += _extras(fn, ("type", "name", "description", "parameters")) + "\n</function>"
    return out + "\n</tools>"


class Qwen3Coder(ChatFormat):
    name = "qwen3_coder"
    default_system = "You are Qwen, a helpful AI assistant that can interact with a computer to solve tasks."
    call_separator = "\n\n"  # the template writes a blank line between the text and the first call

    def render_tools(self, tools: list[Tool]) -> str:
        return f"# Tools\n\nYou have access to the following tools:\n\n{xml_tools(tools)}\n\n{CODER_INSTRUCTIONS}"

    def render_calls(self, calls: list[ToolCall]) -> str:
        return "\n".join(
            f"<tool_call>\n<function={c.name}>\n{render_params(c.arguments)}</function>\n</tool_call>"
            for c in calls
        )

    def render_tool_results(self, messages: list[Message]) -> str:
        blocks = "".join(
            f"<tool_response>\n{self.render_tool_result(m)}\n</tool_response>\n" for m in messages
        )
        return self.turns.turn("user", blocks)

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        first = text.find("<tool_call>")
        if first < 0:
            if _FUNC.search(text):
                raise FormatError(
                    "Your function call is not inside <tool_call> tags.", hint=f"write {EXAMPLE}"
                )
            return text, []
        calls, pos = [], first
        while (pos := skip_ws(text, pos)) < len(text):
            at = next_call(text, pos, "<tool_call>")  # plain text between two calls is dropped, as vLLM does
            if at < 0:
                raise FormatError(
                    f"Nothing may follow the last </tool_call>, found {snippet(text[pos:])}.",
                    hint="put any explanation before your first tool call",
                )
            head = _FUNC.match(text, skip_ws(text, at + len("<tool_call>")))
            if not head or not head.group(1).strip():
                raise FormatError(
                    "Start each tool call with <function=NAME> after <tool_call>.", hint=f"write {EXAMPLE}"
                )
            name = head.group(1).strip()
            end = find_end(text, "</function>", head.end(), _CALL_END)
            if end < 0:
                raise FormatError(self._unclosed(text, head.end(), name), hint=f"write {EXAMPLE}")
            calls.append(ToolCall(name, parse_params(text[head.end() : end], name, tools)))
            pos = text.index("</tool_call>", end) + len("</tool_call>")
        return self.content_before(text, first), calls

    @staticmethod
    def _unclosed(text: str, start: int, name: str) -> str:
        if "</function>" not in text[start:]:
            return f"Your call to {name} is not closed: end it with </function> and then </tool_call>."
        if find_end(text, "</function>", start, _CLOSED) < 0:
            return f"Follow </function> with </tool_call> to close the call to {name}."
        return "Nothing may follow the last </tool_call>: put any explanation before your first tool call."
