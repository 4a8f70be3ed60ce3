"""Pythonic call codec shared by llama4_pythonic and toolace: `[name(arg=value, ...), other(...)]`.

Values are Python literals (strings with Python escapes, True/False/None, lists, dicts), parsed with
`ast` (never evaluated). Argument names that are not Python identifiers (or are keywords, like `from`)
are written as `**{"from": value}` so every JSON object round-trips. Tool names must be identifiers
(dots allowed); floats must be finite (inf is written as 1e999, NaN has no literal).
"""

from __future__ import annotations

import ast
import keyword
import math
import warnings
from typing import Any

from codekiln.core.errors import FormatError
from codekiln.core.pyast import parse as parse_ast  # graders and validators parse in threads
from codekiln.formats.base import Tool, ToolCall, check_tool

HINT = 'write calls as one Python list: [tool_name(arg="value", count=3), other_tool(flag=True)]'
_ERRORS = (SyntaxError, ValueError, TypeError, RecursionError, MemoryError, OverflowError)


def literal(value: Any) -> str:
    """`value` (JSON data) as a Python literal."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, float) and math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)


def _is_name(key: str) -> bool:
    return key.isidentifier() and not keyword.iskeyword(key)


def render_calls(calls: list[ToolCall]) -> str:
    parts = []
    for call in calls:
        named = [f"{k}={literal(v)}" for k, v in call.arguments.items() if _is_name(k)]
        other = {k: v for k, v in call.arguments.items() if not _is_name(k)}
        parts.append(f"{call.name}({', '.join(named + ([f'**{literal(other)}'] if other else []))})")
    return "[" + ", ".join(parts) + "]"


def _json_data(value: Any, where: str) -> Any:
    if isinstance(value, tuple | list):
        return [_json_data(v, where) for v in value]
    if isinstance(value, dict):
        if not all(isinstance(k, str) for k in value):
            raise FormatError(f"Dictionary keys in {where} must be strings.", hint=HINT)
        return {k: _json_data(v, where) for k, v in value.items()}
    if value is None or isinstance(value, str | bool | int | float):
        return value
    raise FormatError(
        f"{where} holds a {type(value).__name__}; use strings, numbers, lists or dicts.", hint=HINT
    )


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return ".".join([node.id, *reversed(parts)]) if isinstance(node, ast.Name) else None


def _value(node: ast.expr, where: str) -> Any:
    try:
        return _json_data(ast.literal_eval(node), where)
    except _ERRORS as err:
        raise FormatError(f"{where} is not a literal value ({err}).", hint=HINT) from err


def parse_calls(source: str, tools: list[Tool] | None) -> list[ToolCall]:
    """`source` must be exactly one list of calls."""
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence" in a string the model wrote
            warnings.simplefilter("ignore")
            tree = parse_ast(source.strip(), mode="eval")
    except _ERRORS as err:
        raise FormatError(f"Your tool call list is not valid Python: {err}.", hint=HINT) from err
    if not isinstance(tree.body, ast.List):
        raise FormatError("Write your tool calls as one Python list of calls.", hint=HINT)
    calls = []
    for node in tree.body.elts:
        name = _dotted(node.func) if isinstance(node, ast.Call) else None
        if not isinstance(node, ast.Call) or name is None:
            raise FormatError(
                "Each item of the tool call list must be a call like name(arg=value).", hint=HINT
            )
        if node.args:
            raise FormatError(f"Pass the arguments of {name} by keyword: {name}(arg=value).", hint=HINT)
        check_tool(name, tools)
        args: dict[str, Any] = {}
        for kw in node.keywords:
            value = _value(kw.value, f"The argument {kw.arg or '**'} of {name}")
            if kw.arg is not None:
                args[kw.arg] = value
            elif isinstance(value, dict):
                args.update(value)
            else:
                raise FormatError(f"Only a dict may follow ** in the call to {name}.", hint=HINT)
        calls.append(ToolCall(name, args))
    return calls
