"""XML-style parameter codec shared by the XML call formats (qwen3_coder, glm46, minimax_m2, deepseekv32,
xml_cline, harmony_xml).

Values are written raw when they are strings (code needs no escaping) and as JSON otherwise; parsing
recovers the type from the tool's JSON schema (`decode_value`). Without a schema, a value that parses as a
JSON number, boolean, null, array or object becomes that value; anything else stays a string.

Closing tags inside values: a value ends at the first closing tag that is *followed* by what may come next
(the next parameter's opening tag or the end of the call), see `find_end`. So a string may contain
`</parameter>` (or `</invoke>`, `</function>` ...) freely; only the exact sequence "closing tag, optional
whitespace, an opening parameter tag" inside a value would be read as a boundary.

Text between two calls: a call also ends at a closing tag followed by plain text (no markup of the format)
and then the next call, the way vLLM's parsers split such replies into two calls (`call_end`). So a value
cannot hold "end of call, plain text, start of call" verbatim; markup after the closing tag (as in a value
quoting a whole call) keeps the value going.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from typing import Any

from codekiln.core.errors import FormatError

_JSON_START = re.compile(r"\s*(?:[\[{\-0-9]|true\b|false\b|null\b)")


def find_end(text: str, close: str, start: int, follow: re.Pattern[str]) -> int:
    """Index of the first `close` at or after `start` that `follow` matches right after; -1 if none."""
    pos = start
    while True:
        idx = text.find(close, pos)
        if idx < 0 or follow.match(text, idx + len(close)):
            return idx
        pos = idx + 1


def call_end(close: str, opener: str, markup: tuple[str, ...]) -> re.Pattern[str]:
    """What may follow a call's last inner closing tag: `close`, then the next `opener` or the end of the
    reply, with only whitespace or plain text (none of `markup`, which must include `opener`) in between."""
    plain = "(?:(?!" + "|".join(re.escape(m) for m in markup) + ").)*?"
    return re.compile(rf"\s*{re.escape(close)}{plain}(?:{re.escape(opener)}|\Z)", re.DOTALL)


def next_call(text: str, pos: int, opener: str) -> int:
    """Where the next call starts at or after `pos`, skipping plain text the way vLLM's parsers do (they
    drop text between calls); -1 if no call follows (what remains is text after the last call)."""
    pos = skip_ws(text, pos)
    return pos if text.startswith(opener, pos) else text.find(opener, pos)


_WS = re.compile(r"\s*")


def skip_ws(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def snippet(text: str, limit: int = 60) -> str:
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


@functools.lru_cache(maxsize=256)
def _patterns(
    open_tag: Callable[[str], str], names: tuple[str, ...], name_re: str
) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """The opening-tag pattern for any name, and what may follow a value (a known opening tag or the end)."""
    boundary = "|".join(re.escape(n) for n in names) if names else name_re
    return re.compile(open_tag(name_re)), re.compile(r"\s*(?:" + open_tag(boundary) + r"|\Z)")


def split_params(
    body: str,
    open_tag: Callable[[str], str],
    close: str | Callable[[str], str],
    *,
    where: str,
    example: str,
    names: list[str] | None = None,
    newline_wrapped: bool = False,
    name_re: str = r"[^<>\n\"]+",
) -> list[tuple[str, str, re.Match[str]]]:
    """Split a call body into (name, raw value, opening-tag match) triples.

    `open_tag(name_regex)` gives the opening-tag regex with the name as group 1 (`name_re` matches any
    name), `close` the closing tag (or a function of the name); `names` (the schema's parameter names,
    when known) narrows which opening tags end a value.
    `newline_wrapped` drops one newline after the opening tag and one before the closing tag. `example`
    shows the model one well-formed parameter in error hints.
    """
    generic, follow = _patterns(open_tag, tuple(names or ()), name_re)
    out: list[tuple[str, str, re.Match[str]]] = []
    pos = skip_ws(body, 0)
    while pos < len(body):
        m = generic.match(body, pos)
        if not m:
            raise FormatError(
                f"Inside the call to {where}, expected a parameter tag but found {snippet(body[pos:])}.",
                hint=f"write each argument as {example}",
            )
        closing = close(m.group(1)) if callable(close) else close
        end = find_end(body, closing, m.end(), follow)
        if end < 0:
            raise FormatError(
                f"Parameter {m.group(1)!r} of the call to {where} is not closed.",
                hint=f"end its value with {closing}",
            )
        raw = body[m.end() : end]
        if newline_wrapped:
            raw = raw[1:] if raw.startswith("\n") else raw
            raw = raw[:-1] if raw.endswith("\n") else raw
        out.append((m.group(1).strip(), raw, m))
        pos = skip_ws(body, end + len(closing))
    return out


def encode_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


# Type names tool schemas use besides JSON Schema's own, read the way vLLM's XML parsers read them.
_TYPE_ALIASES = {"float": "number", "double": "number", "int": "integer", "bool": "boolean", "str": "string",
                 "text": "string", "dict": "object", "list": "array"}  # fmt: skip


def schema_types(schema: Any) -> set[str] | None:
    """The JSON types a parameter schema allows, or None when it does not say."""
    if not isinstance(schema, dict):
        return None
    kind = schema.get("type")
    if isinstance(kind, str):
        return {_TYPE_ALIASES.get(kind, kind)}
    if isinstance(kind, list):
        return {_TYPE_ALIASES.get(k, k) for k in kind if isinstance(k, str)} or None
    for key in ("anyOf", "oneOf"):
        if isinstance(schema.get(key), list):
            found = [schema_types(s) for s in schema[key]]
            if all(found):
                return set().union(*[f for f in found if f])
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return {json_type(v) for v in schema["enum"]}
    return None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _fits(value: Any, types: set[str]) -> bool:
    kind = json_type(value)
    if kind in types or (kind == "integer" and "number" in types):
        return True
    return kind == "number" and "integer" in types and float(value).is_integer()


def decode_value(raw: str, schema: Any, *, param: str, where: str) -> Any:
    """A raw parameter value as the schema's type (strings stay exactly as written)."""
    types = schema_types(schema)
    if types == {"string"}:
        return raw
    text = raw.strip()
    value: Any = None
    try:
        value, is_json = (json.loads(text), True) if _JSON_START.match(text) else (None, False)
    except (ValueError, RecursionError):
        value, is_json = None, False
    if not is_json:
        if types is None or "string" in types:
            return raw
        if "boolean" in types and text.lower() in ("true", "false"):
            return text.lower() == "true"
    elif types is None:
        return value
    elif _fits(value, types):
        return int(value) if json_type(value) == "number" and "number" not in types else value
    elif "string" in types:
        return raw
    raise FormatError(
        f"Parameter {param!r} of {where} must be {' or '.join(sorted(types))}, got {snippet(raw)}.",
        hint='write non-string values as JSON, e.g. 5, true, [1, 2] or {"key": "value"}',
    )


def decode_params(pairs: list[tuple[str, str]], props: dict[str, Any], where: str) -> dict[str, Any]:
    args: dict[str, Any] = {}
    for name, raw in pairs:
        if name in args:
            raise FormatError(f"Parameter {name!r} is given twice in the call to {where}.")
        args[name] = decode_value(raw, props.get(name), param=name, where=where)
    return args
