"""Render a conversation with a model family's official Jinja chat template, the way transformers and vLLM do.

The templates live in tests/fixtures/templates/ (see SOURCE.md there). Rendering follows transformers'
`apply_chat_template`: a sandboxed environment (mutable lists allowed, as llama.cpp allows them: Kimi K2's
template appends to one) with trim_blocks and lstrip_blocks, `tojson` as
`json.dumps(ensure_ascii=False)`, `raise_exception` and `strftime_now`; tool-call arguments are passed as
dicts, as vLLM hands them to templates.

`strip_layout` drops the whitespace between two template tags (`%}` or `}}` then `{{` or `{%`): some of
vLLM's example templates indent `{{ ... }}` lines, and lstrip_blocks strips only before `{%`, so their
source layout leaks into the rendered text. `iterable_strings=False` makes Jinja's `is iterable` false for
strings, as the Hermes template assumes: with Jinja2's own test (true for strings) its type macro recurses
on each character of a type it does not map (`"null"` in `["string", "null"]`) until RecursionError.
The tests say where they use these and why.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2.exceptions import TemplateError
from jinja2.sandbox import SandboxedEnvironment

TEMPLATES = Path(__file__).parent.parent / "fixtures" / "templates"


def _tojson(
    value: Any,
    ensure_ascii: bool = False,
    indent: int | None = None,
    separators: Any = None,
    sort_keys: bool = False,
) -> str:
    return json.dumps(
        value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys
    )


def _raise(message: str) -> None:
    raise TemplateError(message)


def _with_dict_arguments(message: dict[str, Any]) -> dict[str, Any]:
    if not message.get("tool_calls"):
        return message
    calls = []
    for call in message["tool_calls"]:
        fn = dict(call["function"])
        if isinstance(fn.get("arguments"), str):
            fn["arguments"] = json.loads(fn["arguments"])
        calls.append({**call, "function": fn})
    return {**message, "tool_calls": calls}


def render_official(
    template: str,
    messages: list[dict[str, Any]],
    tools: list[dict[str, Any]] | None,
    *,
    add_generation_prompt: bool = False,
    strip_layout: bool = False,
    iterable_strings: bool = True,
    **context: Any,
) -> str:
    """`messages` rendered by tests/fixtures/templates/`template` (bos_token etc. go in `context`)."""
    env = SandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    if not iterable_strings:
        env.tests["iterable"] = lambda value: isinstance(value, Iterable) and not isinstance(value, str)
    env.globals["raise_exception"] = _raise
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    source = (TEMPLATES / template).read_text(encoding="utf-8")
    if strip_layout:
        source = re.sub(r"(%\}|\}\})\s+(?=\{\{|\{%)", r"\1", source)
    compiled = env.from_string(source)
    return compiled.render(
        messages=[_with_dict_arguments(m) for m in messages],
        tools=tools,
        add_generation_prompt=add_generation_prompt,
        **context,
    )
