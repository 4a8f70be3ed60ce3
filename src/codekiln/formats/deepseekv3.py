"""deepseekv3: DeepSeek-V3's tool calls (vLLM parser `deepseek_v3`, template tool_chat_template_deepseekv3.jinja).

    <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>NAME
    ```json
    {"arg": "value"}
    ```<｜tool▁call▁end｜><｜tool▁calls▁end｜><｜end▁of▁sentence｜>

No role turns: BOS + system text, `<｜User｜>` before each user message, `<｜Assistant｜>` before each
assistant turn except one that directly follows tool outputs (those are wrapped in
<｜tool▁outputs▁begin｜>...<｜tool▁outputs▁end｜>). Tools are listed as JSON lines in <tools>, as in vLLM's
template (DeepSeek's own template does not list them).
"""

from __future__ import annotations

from codekiln.core.errors import FormatError
from codekiln.formats.base import ChatFormat, Message, Tool, ToolCall, tool_functions
from codekiln.formats.codec_json import call_from_obj, decode_at, dumps
from codekiln.formats.codec_xml import skip_ws, snippet
from codekiln.formats.framing import DEEPSEEK, DS_ASSISTANT, DS_USER

CALLS_BEGIN, CALLS_END = "<｜tool▁calls▁begin｜>", "<｜tool▁calls▁end｜>"
CALL_BEGIN, CALL_END, SEP = "<｜tool▁call▁begin｜>", "<｜tool▁call▁end｜>", "<｜tool▁sep｜>"
OUTPUTS_BEGIN, OUTPUTS_END = "<｜tool▁outputs▁begin｜>", "<｜tool▁outputs▁end｜>"
OUTPUT_BEGIN, OUTPUT_END = "<｜tool▁output▁begin｜>", "<｜tool▁output▁end｜>"


class DeepSeekV3(ChatFormat):
    name = "deepseekv3"
    turns = DEEPSEEK
    call_separator = ""
    call_joiner = "\n"
    hint = f"write {CALLS_BEGIN}{CALL_BEGIN}function{SEP}NAME\n```json\n{{...}}\n```{CALL_END}{CALLS_END}"

    def render_system(self, system: str | None, tools: list[Tool]) -> str:
        return self.turns.start + (self.system_text(system, tools) or "")

    def system_text(self, system: str | None, tools: list[Tool]) -> str | None:
        # vLLM's templates add the tool section after "\n\n" even when there is no system prompt
        return (system or "") + (f"\n\n{self.render_tools(tools)}" if tools else "")

    def render_tools(self, tools: list[Tool]) -> str:
        listing = "\n".join(
            dumps({"type": "function", "function": f}) for f in tool_functions(tools).values()
        )
        return (
            "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided "
            f"with function signatures within <tools></tools> XML tags:\n<tools>\n{listing}\n</tools>\n\n"
            f"For function call returns, you should first print {CALLS_BEGIN}For each function call, you should "
            f"return object like:\n{CALL_BEGIN}function{SEP}<function_name>\n```json\n"
            f"<function_arguments_in_json_format>\n```{CALL_END}At the end of function call returns, you should "
            f"print {CALLS_END}{self.turns.eot}"
        )

    def render_user(self, text: str, role: str = "user") -> str:
        return DS_USER + text

    def generation_prompt(self, prev_role: str) -> str:
        return "" if prev_role == "tool" else DS_ASSISTANT

    def render_call(self, call: ToolCall) -> str:
        return f"{CALL_BEGIN}function{SEP}{call.name}\n```json\n{dumps(call.arguments)}\n```{CALL_END}"

    def render_calls(self, calls: list[ToolCall]) -> str:
        return CALLS_BEGIN + self.call_joiner.join(self.render_call(c) for c in calls) + CALLS_END

    def render_tool_results(self, messages: list[Message]) -> str:
        outputs = "\n".join(f"{OUTPUT_BEGIN}{self.render_tool_result(m)}{OUTPUT_END}" for m in messages)
        return OUTPUTS_BEGIN + outputs + OUTPUTS_END

    def parse_call(self, text: str, pos: int, tools: list[Tool] | None) -> tuple[ToolCall, int]:
        """One call starting just after CALL_BEGIN; returns it and the index after its JSON arguments."""
        sep = text.find(SEP, pos)
        newline = text.find("\n", sep + 1)
        if sep < 0 or newline < 0:
            raise FormatError(f"Write the call as function{SEP}NAME followed by a newline.", hint=self.hint)
        name = text[sep + len(SEP) : newline].strip()
        start = skip_ws(text, newline)
        start += len("```json") if text.startswith("```json", start) else 0
        args, end = decode_at(text, start, what=f"The arguments of {name}", hint=self.hint)
        end = skip_ws(text, end)
        end += 3 if text.startswith("```", end) else 0
        return call_from_obj({"name": name, "arguments": args}, tools, self.hint), end

    def parse_calls(self, text: str, tools: list[Tool] | None) -> tuple[str, list[ToolCall]]:
        first = text.find(CALLS_BEGIN)
        if first < 0:
            if CALL_BEGIN in text:
                raise FormatError(f"Start your tool calls with {CALLS_BEGIN}.", hint=self.hint)
            return text, []
        calls: list[ToolCall] = []
        pos = first + len(CALLS_BEGIN)
        while not text.startswith(CALLS_END, pos := skip_ws(text, pos)):
            if not text.startswith(CALL_BEGIN, pos):
                found = snippet(text[pos:]) if pos < len(text) else "the end of your reply"
                raise FormatError(f"Expected {CALL_BEGIN} or {CALLS_END}, found {found}.", hint=self.hint)
            call, pos = self.parse_call(text, pos + len(CALL_BEGIN), tools)
            pos = skip_ws(text, pos)
            if not text.startswith(CALL_END, pos):
                raise FormatError(f"End each tool call with {CALL_END}.", hint=self.hint)
            calls.append(call)
            pos += len(CALL_END)
        rest = text[pos + len(CALLS_END) :]
        if rest.strip():
            raise FormatError(
                f"Nothing may follow {CALLS_END}, found {snippet(rest.strip())}.", hint=self.hint
            )
        return self.content_before(text, first), calls
