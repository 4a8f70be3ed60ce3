"""deepseekv32: DeepSeek-V3.2's DSML tool calls (vLLM parser `deepseek_v32`), non-thinking mode.

    <｜DSML｜function_calls>
    <｜DSML｜invoke name="NAME">
    <｜DSML｜parameter name="P" string="true">raw text</｜DSML｜parameter>
    <｜DSML｜parameter name="N" string="false">42</｜DSML｜parameter>
    </｜DSML｜invoke>
    </｜DSML｜function_calls>

The `string` attribute carries each value's type (raw text when "true", JSON when "false"); when the tool's
schema rules out a string, the schema wins (string="true" with an integer parameter gives an integer), as in
vLLM's parser. Framing follows
DeepSeek's published V3.2 encoding (as mirrored in llama.cpp's template): tools as JSON in <functions> in
the system prompt, `<｜User｜>...<｜Assistant｜></think>`, results as <function_results><result>...</result>
blocks right after the assistant's turn, then `</think>` opens the next answer.
"""

from __future__ import annotations

import json
import re
from typing import Any

from codekiln.core.errors import FormatError
from codekiln.formats.base import (
    ChatFormat,
    Message,
    Tool,
    ToolCall,
    check_tool,
    strip_suffix,
    tool_functions,
)
from codekiln.formats.codec_json import dumps
from codekiln.formats.codec_xml import (
    decode_value,
    encode_value,
    find_end,
    schema_types,
    skip_ws,
    snippet,
    split_params,
)
from codekiln.formats.framing import DEEPSEEK, DS_ASSISTANT, DS_USER

D = "｜DSML｜"
CALLS_OPEN, CALLS_CLOSE = f"<{D}function_calls>", f"</{D}function_calls>"
INVOKE_CLOSE, PARAM_CLOSE = f"</{D}invoke>", f"</{D}parameter>"
_INVOKE = re.compile(f'<{D}invoke name="([^"\\n]*)">')
_INVOKE_END = re.compile(f"\\s*(?:<{D}invoke name=|{CALLS_CLOSE}\\s*\\Z)")
HINT = f'write {CALLS_OPEN}\n<{D}invoke name="NAME">\n<{D}parameter name="ARG" string="true">VALUE{PARAM_CLOSE}\n{INVOKE_CLOSE}\n{CALLS_CLOSE}'


def _param_open(name: str) -> str:
    return f'<{D}parameter name="({name})" string="(true|false)">'


class DeepSeekV32(ChatFormat):
    name = "deepseekv32"
    turns = DEEPSEEK
    call_separator = ""  # render_calls starts with the blank line itself

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        body = self.system_text(system, tools)
        return self.turns.start + (body + "\n" if tools and body else body or "")

    def render_tools(self, tools: list[Tool]) -> str:
        listing = "".join("\n" + dumps(fn) for fn in tool_functions(tools).values())
        return (
            "## Tools\n\nYou have access to a set of tools you can use to answer the user's question.\n"
            f'You can invoke functions by writing a "{CALLS_OPEN}" block like the following as part of your reply '
            f'to the user:\n{CALLS_OPEN}\n<{D}invoke name="$FUNCTION_NAME">\n<{D}parameter name="$PARAMETER_NAME" '
            f'string="true|false">$PARAMETER_VALUE{PARAM_CLOSE}\n...\n{INVOKE_CLOSE}\n<{D}invoke name="$FUNCTION_NAME2">'
            f"\n...\n{INVOKE_CLOSE}\n{CALLS_CLOSE}\n\n"
            "String and scalar parameters should be specified as is without any escaping or quotes, while lists "
            'and objects should use JSON format. The "string" attribute should be set to "true" for string type '
            'parameters and "false" for other types (numbers, booleans, arrays, objects).\n\n'
            "If the thinking_mode is enabled, then after function results you should strongly consider outputting a "
            f"thinking block. Here is an example:\n\n{CALLS_OPEN}\n...\n{CALLS_CLOSE}\n\n<function_results>\n...\n"
            "</function_results>\n\n<think>...thinking about results</think>\n\n"
            f"Here are the functions available in JSONSchema format:\n<functions>{listing}\n</functions>"
        )

    def render_user(self, text: str, role: str = "user") -> str:
        return DS_USER + text

    def generation_prompt(self, prev_role: str) -> str:
        return "</think>" if prev_role == "tool" else DS_ASSISTANT + "</think>"

    def render_calls(self, calls: list[ToolCall]) -> str:
        """The template opens the block with a blank line even when there is no text before it."""

        def param(k: str, v: Any) -> str:
            return f'<{D}parameter name="{k}" string="{str(isinstance(v, str)).lower()}">{encode_value(v)}{PARAM_CLOSE}\n'

        invokes = "".join(
            f'<{D}invoke name="{c.name}">\n'
            + "".join(param(k, v) for k, v in c.arguments.items())
            + f"{INVOKE_CLOSE}\n"
            for c in calls
        )
        return f"\n\n{CALLS_OPEN}\n{invokes}{CALLS_CLOSE}"

    def render_tool_results(self, messages: list[Message]) -> str:
        results = "".join(f"\n<result>{self.render_tool_result(m)}</result>" for m in messages)
        return f"\n\n<function_results>{results}\n</function_results>\n\n"

    def _args(self, body: str, name: str, tools: list[Tool] | None) -> dict[str, Any]:
        props = check_tool(name, tools)
        args: dict[str, Any] = {}
        example = f'<{D}parameter name="ARG" string="true">VALUE{PARAM_CLOSE}'
        for key, raw, m in split_params(
            body, _param_open, PARAM_CLOSE, where=name, example=example, names=list(props) or None
        ):
            if key in args:
                raise FormatError(f"Parameter {key!r} is given twice in the call to {name}.", hint=HINT)
            types = schema_types(props.get(key))
            if m.group(2) == "true" and types and "string" not in types:  # the schema wins, as in vLLM
                args[key] = decode_value(raw, props.get(key), param=key, where=name)
                continue
            try:
                args[key] = raw if m.group(2) == "true" else json.loads(raw)
            except (ValueError, RecursionError) as err:
                raise FormatError(
                    f'Parameter {key!r} of {name} has string="false" but is not valid JSON ({err}).',
                    hint='use string="true" for text; write numbers, booleans, arrays and objects as JSON',
                ) from err
        return args

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        first = text.find(CALLS_OPEN)
        if first < 0:
            if _INVOKE.search(text):
                raise FormatError(f"Put your invoke blocks inside {CALLS_OPEN} ... {CALLS_CLOSE}.", hint=HINT)
            return text, []
        calls, pos = [], first + len(CALLS_OPEN)
        while not text.startswith(CALLS_CLOSE, pos := skip_ws(text, pos)):
            head = _INVOKE.match(text, pos)
            if not head:
                found = snippet(text[pos:]) if pos < len(text) else "the end of your reply"
                raise FormatError(f"Expected an invoke block or {CALLS_CLOSE}, found {found}.", hint=HINT)
            end = find_end(text, INVOKE_CLOSE, head.end(), _INVOKE_END)
            if end < 0:
                raise FormatError(
                    f"Close the call to {head.group(1)} with {INVOKE_CLOSE}, then {CALLS_CLOSE} with nothing after it.",
                    hint=HINT,
                )
            calls.append(ToolCall(head.group(1), self._args(text[head.end() : end], head.group(1), tools)))
            pos = end + len(INVOKE_CLOSE)
        rest = text[pos + len(CALLS_CLOSE) :]
        if rest.strip():
            raise FormatError(f"Nothing may follow {CALLS_CLOSE}, found {snippet(rest.strip())}.", hint=HINT)
        return strip_suffix(text[:first], "\n\n"), calls
