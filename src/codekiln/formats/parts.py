"""Small functions every format shares: the tools offered (by name, with their argument schema), how deeply
an argument tree nests, and trimming a known prefix or suffix. `formats.base` re-exports them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from codekiln.core.errors import FormatError

Tool = dict[str, Any]

MAX_NESTING = 100  # deeper arguments could not be written back out (JSON encoders recurse)


def nesting(value: Any) -> int:
    """How deeply lists and dicts nest inside `value` (0 for a scalar), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth + 1)
            stack.extend((child, depth + 1) for child in children)
    return deepest


def tool_functions(tools: Sequence[Tool] | None) -> dict[str, dict[str, Any]]:
    """name -> function dict ({"name", "description", "parameters"}) for OpenAI tools or bare functions."""
    out: dict[str, dict[str, Any]] = {}
    for tool in tools or []:
        fn = tool.get("function", tool) if isinstance(tool, dict) else {}
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            out[fn["name"]] = fn
    return out


def check_tool(name: str, tools: Sequence[Tool] | None) -> dict[str, Any]:
    """The function's JSON schema `properties` (empty if unknown); FormatError if tools are given and lack it."""
    fns = tool_functions(tools)
    if not fns:
        return {}
    if name not in fns:
        raise FormatError(
            f"There is no tool named {name!r}.",
            hint=f"call one of: {', '.join(sorted(fns))}",
        )
    params = fns[name].get("parameters") or {}
    props = params.get("properties") if isinstance(params, dict) else None
    return props if isinstance(props, dict) else {}


def strip_suffix(text: str, suffix: str) -> str:
    return text[: -len(suffix)] if suffix and text.endswith(suffix) else text


def strip_prefix(text: str, prefix: str) -> str:
    return text[len(prefix) :] if prefix and text.startswith(prefix) else text
