"""mistral3: Mistral Small 3.2's template (vLLM parser `mistral`), with the older JSON-list calls as an option.

    [TOOL_CALLS]NAME[CALL_ID]a1b2c3d4e[ARGS]{"arg": "value"}[TOOL_CALLS]NAME2[CALL_ID]...[ARGS]{...}</s>

As Mistral-Small-3.2-24B-Instruct-2506's chat template writes it: `<s>[SYSTEM_PROMPT]...[/SYSTEM_PROMPT]`
(Mistral's default system prompt when none is given), `[AVAILABLE_TOOLS][...tools as JSON...]
[/AVAILABLE_TOOLS]`, `[INST]user[/INST]`, assistant text then `</s>`, each result as
`[TOOL_RESULTS]ID[TOOL_CONTENT]RESULT[/TOOL_RESULTS]`. Call ids are 9 alphanumerics (the last 9 of an id, or a
hash of a shorter one). The parser reads what vLLM's `mistral` parser reads: `[TOOL_CALLS]NAME[ARGS]{...}`
with or without `[CALL_ID]ID`, the same with the special tokens stripped (`[TOOL_CALLS]NAME{...}`), and
the JSON list below; text before the first `[TOOL_CALLS]` is content.

Option `syntax="json_list"`: the calls of Mistral's earlier tokenizers (vLLM's "pre-v11" path, e.g.
Mistral-7B-Instruct-v0.3, and vLLM's tool_chat_template_mistral3.jinja for Mistral Small 3.0/3.1), framed
as that template frames them:

    [TOOL_CALLS] [{"name": "NAME", "arguments": {...}, "id": "a1b2c3d4e"}]</s>

Departures from the templates, for prefix-stable history: [AVAILABLE_TOOLS] follows the system prompt (the
templates move it before the last user message), the default system prompt has no current date, and text
before the calls is kept (the 3.2 template drops it; `calls_only=True` drops it too). With `json_list`,
result content is JSON-quoted as before.
"""

from __future__ import annotations

import hashlib
import re

from codekiln.core.errors import ConfigError, FormatError
from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, tool_functions
from codekiln.formats.codec_json import arguments, call_from_obj, decode_at, dumps, parse_json_list
from codekiln.formats.codec_xml import skip_ws, snippet
from codekiln.formats.framing import MISTRAL
from codekiln.formats.mistral_prompts import DEFAULT_SYSTEM, PARALLEL, SMALL3_SYSTEM

CALLS, CALL_ID, ARGS = "[TOOL_CALLS]", "[CALL_ID]", "[ARGS]"
HINT = "write [TOOL_CALLS]NAME[ARGS]{...JSON arguments...} for each call"
LIST_HINT = 'write [TOOL_CALLS] [{"name": "NAME", "arguments": {...}}, ...more calls]'
_HEAD = re.compile(r"\s*([^\s\[\]{]+)\s*(?:\[CALL_ID\]\s*([A-Za-z0-9]+)\s*)?(?:\[ARGS\])?")


def mistral_id(call_id: str) -> str:
    clean = re.sub(r"[^A-Za-z0-9]", "", call_id)
    return clean[-9:] if len(clean) >= 9 else hashlib.sha1(call_id.encode()).hexdigest()[:9]


class Mistral3(ChatFormat):
    name = "mistral3"
    turns = MISTRAL
    call_separator = ""
    default_system = DEFAULT_SYSTEM

    def __init__(self, *, syntax: str = "name_args", calls_only: bool = False) -> None:
        if syntax not in ("name_args", "json_list"):
            raise ConfigError(
                f"mistral3 has no call syntax {syntax!r}",
                hint="use syntax=name_args (Mistral Small 3.2) or syntax=json_list (earlier tokenizers)",
            )
        self.json_list, self.calls_only = syntax == "json_list", calls_only

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        body = system if system is not None else SMALL3_SYSTEM if self.json_list else self.default_system
        body = f"{PARALLEL}\n\n{body}" if tools and self.json_list else body
        space = " " if self.json_list else ""
        available = f"[AVAILABLE_TOOLS]{space}{self.render_tools(tools)}[/AVAILABLE_TOOLS]" if tools else ""
        return f"{self.turns.start}[SYSTEM_PROMPT]{body}[/SYSTEM_PROMPT]{available}"

    def render_tools(self, tools: list[Tool]) -> str:
        return dumps([{"type": "function", "function": fn} for fn in tool_functions(tools).values()])

    def generation_prompt(self, prev_role: str) -> str:
        return ""

    def render_calls(self, calls: list[ToolCall]) -> str:
        if self.json_list:
            objs = [
                {"name": c.name, "arguments": c.arguments, "id": mistral_id(c.id or c.name)} for c in calls
            ]
            return f"{CALLS} {dumps(objs)}"
        return "".join(
            f"{CALLS}{c.name}{CALL_ID}{mistral_id(c.id or c.name)}{ARGS}{dumps(c.arguments)}" for c in calls
        )

    def render_tool_results(self, messages: list[Message]) -> str:
        out = ""
        for m in messages:
            call_id, result = mistral_id(m.get("tool_call_id") or ""), self.render_tool_result(m)
            if self.json_list:
                out += f"[TOOL_RESULTS] {dumps({'content': result, 'call_id': call_id})}[/TOOL_RESULTS]"
            else:
                out += f"[TOOL_RESULTS]{call_id}[TOOL_CONTENT]{result}[/TOOL_RESULTS]"
        return out

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        first = text.find(CALLS)
        if first < 0:
            return text, []
        rest = text[first + len(CALLS) :]
        if rest.lstrip().startswith("["):
            items = parse_json_list(rest, "Your [TOOL_CALLS] list", LIST_HINT)
            if not items:
                raise FormatError("Your [TOOL_CALLS] list is empty.", hint=LIST_HINT)
            return text[:first], [call_from_obj(item, tools, LIST_HINT) for item in items]
        calls, pos = [], first
        while pos < len(text):
            if not text.startswith(CALLS, pos):
                raise FormatError(
                    f"Nothing may follow a call's arguments, found {snippet(text[pos:])}.", hint=HINT
                )
            head = _HEAD.match(text, pos + len(CALLS))
            if not head or not head.group(1):
                raise FormatError(f"Name the tool right after {CALLS}.", hint=HINT)
            name = head.group(1)
            value, end = decode_at(text, head.end(), what=f"The arguments of {name}", hint=HINT)
            call = call_from_obj({"name": name, "arguments": arguments(value, name, HINT)}, tools, HINT)
            calls.append(ToolCall(call.name, call.arguments, head.group(2) or ""))
            pos = skip_ws(text, end)
        return text[:first], calls
