"""minimax_m2: MiniMax-M2's template (vLLM parser `minimax_m2`). JSON tool definitions, XML invoke calls.

    <minimax:tool_call>
    <invoke name="NAME">
    <parameter name="P">VALUE</parameter>
    </invoke>
    </minimax:tool_call>

String values raw, other types JSON, typed from the schema. Framing as MiniMax-M2's published template:
`]~!b[]~b]system\\n...[e~[\\n`, `]~b]user\\n...[e~[\\n`, `]~b]ai\\n<think>\\n` opens each answer (reasoning, then
`</think>\\n\\n`, then text and calls), results as one `]~b]tool` turn of <response> blocks. The reasoning of
every turn is kept (the published template drops it before the last user message).
"""

from __future__ import annotations

import re
from typing import Any

from codekiln.core.errors import FormatError
from codekiln.formats.base import (
    ChatFormat,
    Message,
    OpenThinkBlock,
    Tool,
    ToolCall,
    check_tool,
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
from codekiln.formats.framing import MINIMAX

OPEN, CLOSE = "<minimax:tool_call>", "</minimax:tool_call>"
HINT = f'write {OPEN}\n<invoke name="NAME">\n<parameter name="ARG">VALUE</parameter>\n</invoke>\n{CLOSE}'
_INVOKE = re.compile(r'<invoke name="([^"\n]*)">')
MARKUP = (OPEN, CLOSE, "<invoke name=", "</invoke>", "<parameter name=", "</parameter>")
_BLOCK_END = call_end(CLOSE, OPEN, MARKUP)
_INVOKE_END = re.compile(r'\s*<invoke name="|' + _BLOCK_END.pattern, re.DOTALL)


def _param_open(name: str) -> str:
    return f'<parameter name="({name})">'


class MiniMaxM2(OpenThinkBlock, ChatFormat):
    name = "minimax_m2"
    turns = MINIMAX
    default_system = "You are a helpful assistant."
    supports_reasoning = True
    call_separator = ""  # render_calls starts with the newline itself

    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        base = system if system is not None else self.default_system
        return f"{base}\n\n{self.render_tools(tools)}" if tools else base

    def render_tools(self, tools: list[Tool]) -> str:
        listing = "".join(f"<tool>{dumps(fn)}</tool>\n" for fn in tool_functions(tools).values())
        return (
            "# Tools\nYou may call one or more tools to assist with the user query.\nHere are the tools available "
            f"in JSONSchema format:\n\n<tools>\n{listing}</tools>\n\nWhen making tool calls, use XML format to "
            f'invoke tools and pass parameters:\n\n{OPEN}\n<invoke name="tool-name-1">\n<parameter name="param-key-1">'
            'param-value-1</parameter>\n<parameter name="param-key-2">param-value-2</parameter>\n...\n</invoke>\n'
            + CLOSE
        )

    def generation_prompt(self, prev_role: str) -> str:
        return self.turns.opening("ai") + "<think>\n"

    def render_calls(self, calls: list[ToolCall]) -> str:
        def params(args: dict[str, Any]) -> str:
            return "".join(f'<parameter name="{k}">{encode_value(v)}</parameter>\n' for k, v in args.items())

        invokes = "".join(f'<invoke name="{c.name}">\n{params(c.arguments)}</invoke>\n' for c in calls)
        return f"\n{OPEN}\n{invokes}{CLOSE}"  # the template starts the block on a new line even after no text

    def render_tool_results(self, messages: list[Message]) -> str:
        blocks = "".join(f"\n<response>{self.render_tool_result(m)}</response>" for m in messages)
        return f"{self.turns.opening('tool')[:-1]}{blocks}{self.turns.close}"

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        first = text.find(OPEN)
        if first < 0:
            if _INVOKE.search(text):
                raise FormatError(f"Put your invoke blocks inside {OPEN} ... {CLOSE}.", hint=HINT)
            return text, []
        calls, pos = [], first
        while (pos := skip_ws(text, pos)) < len(text):
            at = next_call(text, pos, OPEN)  # plain text between two blocks of calls is dropped, as vLLM does
            if at < 0:
                raise FormatError(
                    f"Nothing may follow the last {CLOSE}, found {snippet(text[pos:])}.", hint=HINT
                )
            pos = at + len(OPEN)
            while not text.startswith(CLOSE, pos := skip_ws(text, pos)):
                head = _INVOKE.match(text, pos)
                if not head:
                    found = snippet(text[pos:]) if pos < len(text) else "the end of your reply"
                    raise FormatError(f"Expected <invoke name=...> or {CLOSE}, found {found}.", hint=HINT)
                name = head.group(1)
                end = find_end(text, "</invoke>", head.end(), _INVOKE_END)
                if end < 0:
                    raise FormatError(
                        f"Close the call to {name} with </invoke>, then {CLOSE} with nothing after it.",
                        hint=HINT,
                    )
                props = check_tool(name, tools)
                pairs = split_params(
                    text[head.end() : end],
                    _param_open,
                    "</parameter>",
                    where=name,
                    example=HINT,
                    names=list(props) or None,
                )
                calls.append(ToolCall(name, decode_params([(k, v) for k, v, _ in pairs], props, name)))
                pos = end + len("</invoke>")
            pos += len(CLOSE)
        return strip_suffix(text[:first], "\n"), calls
