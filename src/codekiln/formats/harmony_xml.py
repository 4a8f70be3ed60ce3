"""harmony_xml: the harmony format (see harmony_json) with XML parameter blocks as call bodies.

    <|start|>assistant to=functions.NAME<|channel|>commentary xml<|message|><parameter=P>
    VALUE
    </parameter>
    <|call|>

Tool definitions, channels and framing are harmony's; the body of a call is Qwen3-Coder's parameter list
(raw strings, JSON for other types, typed from the schema). No published model ships this exact pairing:
it is the report's harmony-with-XML-calls template, written out here in harmony's own terms.
"""

from __future__ import annotations

import re
from typing import Any

from codekiln.formats.base import Tool, ToolCall
from codekiln.formats.codec_xml import find_end
from codekiln.formats.harmony_json import HarmonyJson
from codekiln.formats.qwen3_coder import parse_params, render_params

_BODY_END = re.compile(r"\s*(?:<\|start\|>|\Z)")


class HarmonyXml(HarmonyJson):
    name = "harmony_xml"
    constrain = "xml"

    def render_call_body(self, call: ToolCall) -> str:
        return render_params(call.arguments)

    def parse_call_body(
        self, text: str, start: int, name: str, tools: list[Tool] | None
    ) -> tuple[dict[str, Any], int]:
        ends = [e for e in (find_end(text, t, start, _BODY_END) for t in ("<|call|>", "<|end|>")) if e >= 0]
        end = min(ends) if ends else len(text)
        return parse_params(text[start:end], name, tools), end
