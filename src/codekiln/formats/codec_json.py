"""JSON call codec shared by the JSON call formats (hermes, qwen25_coder, deepseekv3/v31, kimik2, mistral3,
xlam_qwen, harmony_json, openai_json).

JSON values are read with `raw_decode` from where they start, so a closing tag inside a JSON string (say
"</tool_call>" in a code argument) never ends the call early: the JSON decoder, not a tag search, decides
where the value stops.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeVar

from codekiln.core.errors import FormatError
from codekiln.formats.base import Tool, ToolCall, check_tool
from codekiln.formats.codec_xml import skip_ws, snippet

T = TypeVar("T")
_DECODER = json.JSONDecoder()


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def decode_at(text: str, pos: int, *, what: str, hint: str) -> tuple[Any, int]:
    """The JSON value starting at `pos` (after whitespace) and the index just past it."""
    pos = skip_ws(text, pos)
    try:
        return _DECODER.raw_decode(text, pos)
    except json.JSONDecodeError as err:
        raise FormatError(
            f"{what} is not valid JSON: {err.msg} at {snippet(text[err.pos :], 40)}.", hint=hint
        ) from err
    except (ValueError, RecursionError) as err:
        raise FormatError(f"{what} is not valid JSON: {err}.", hint=hint) from err


def arguments(value: Any, name: str, hint: str) -> dict[str, Any]:
    """Call arguments given as an object or as a JSON string holding one."""
    if isinstance(value, str):
        value, _end = decode_at(value, 0, what=f"The arguments of {name}", hint=hint)
    if not isinstance(value, dict):
        raise FormatError(
            f"The arguments of {name} must be a JSON object, got {snippet(dumps(value))}.", hint=hint
        )
    return value


def call_from_obj(obj: Any, tools: list[Tool] | None, hint: str) -> ToolCall:
    """A {"name": ..., "arguments": {...}} object (or "parameters" for "arguments") as a ToolCall."""
    if not isinstance(obj, dict) or not isinstance(obj.get("name"), str):
        raise FormatError(
            f'A tool call must be an object with a string "name", got {snippet(dumps(obj))}.', hint=hint
        )
    name = obj["name"]
    check_tool(name, tools)
    raw_args = obj.get("arguments", obj.get("parameters", {}))
    call_id = obj.get("id")
    return ToolCall(name, arguments(raw_args, name, hint), call_id if isinstance(call_id, str) else "")


def parse_tagged(
    text: str, open_tag: str, close_tag: str, tools: list[Tool] | None, hint: str, *, lists: bool = False
) -> tuple[int, list[ToolCall]]:
    """Calls written as OPEN {json} CLOSE, one after another up to the end of `text` (with `lists`, a block
    may also hold a JSON array of calls).

    Returns the index of the first OPEN (-1 if none) and the calls.
    """
    first = text.find(open_tag)
    if first < 0:
        if text.lstrip().startswith('{"name"'):
            raise FormatError("Your tool call is missing its tags.", hint=hint)
        return -1, []
    calls, pos = [], first
    while (pos := skip_ws(text, pos)) < len(text):
        if not text.startswith(open_tag, pos):
            raise FormatError(
                f"Nothing may follow the last {close_tag}, found {snippet(text[pos:])}.",
                hint="put any text before your first tool call",
            )
        obj, end = decode_at(text, pos + len(open_tag), what="Your tool call", hint=hint)
        calls += [call_from_obj(o, tools, hint) for o in (obj if lists and isinstance(obj, list) else [obj])]
        end = skip_ws(text, end)
        if not text.startswith(close_tag, end):
            raise FormatError(
                f"Close each tool call with {close_tag} right after its JSON object.", hint=hint
            )
        pos = end + len(close_tag)
    return first, calls


def split_trailing(text: str, start: re.Pattern[str], parse: Callable[[str], T]) -> tuple[int, T | None]:
    """Find a trailing block (e.g. a call list) that starts a line, matches `start` and parses to the end.

    Returns (index where it starts, parsed) for the earliest such line, or (-1, None). If a line looked like
    the start of a block but none parsed, the first candidate's FormatError is raised.
    """
    first_error: FormatError | None = None
    pos, tried = 0, -1
    while pos <= len(text):
        at = skip_ws(text, pos)
        if at != tried and start.match(text, at):
            tried = at
            try:
                return at, parse(text[at:])
            except FormatError as err:
                first_error = first_error or err
        nl = text.find("\n", pos)
        if nl < 0:
            break
        pos = nl + 1
    if first_error is not None:
        raise first_error
    return -1, None


def parse_json_list(text: str, what: str, hint: str) -> list[Any]:
    """`text` must be exactly one JSON array (surrounding whitespace allowed)."""
    value, end = decode_at(text, 0, what=what, hint=hint)
    if skip_ws(text, end) != len(text):
        raise FormatError(
            f"Nothing may follow {what.lower()}, found {snippet(text[end:].strip())}.", hint=hint
        )
    if not isinstance(value, list):
        raise FormatError(f"{what} must be a JSON array.", hint=hint)
    return value
