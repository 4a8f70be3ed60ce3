"""Conformance with the official chat templates: the same conversations rendered by a model family's own
Jinja template (tests/fixtures/templates, see SOURCE.md there) and by codekiln must be equal, up to the
deliberate differences listed per format below. Each difference says why codekiln departs, and the test
checks that every listed difference actually occurs, so the list cannot go stale.

Conversations: an agent episode (one user request, calls with code, nested JSON, a boolean and a null, two
parallel calls, results, a final answer), with and without a system message, with and without tools, as a
finished conversation and as a prompt for the next assistant turn. Families that reason are also checked
with reasoning on every assistant turn.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from format_cases import TOOLS, assistant, call, trajectory
from official_templates import render_official

from codekiln.formats import codec_python, get_format
from codekiln.formats.base import message_calls

Messages = list[dict[str, Any]]
LLAMA_BOS = "<|begin_of_text|>"
LLAMA_PROMPT = "<|start_header_id|>assistant<|end_header_id|>\n\n"


@dataclass(frozen=True)
class Difference:
    """A deliberate departure from the official template: `apply` turns its output into codekiln's."""

    reason: str
    apply: Callable[[str, Messages, bool], str]  # (official text, messages, add_generation_prompt)


def sub(reason: str, pattern: str, repl: str | Callable[[re.Match[str]], str]) -> Difference:
    return Difference(reason, lambda text, _msgs, _generation: re.sub(pattern, repl, text))


JSON_SCALARS = {"True": "true", "False": "false", "None": "null"}


def python_scalars(opening: str, closing: str) -> Difference:
    """The template writes Python's str of booleans and None inside parameter tags; codekiln writes JSON."""
    return sub(
        "non-string values are JSON (true, null), where the template writes Python's str (True, None)",
        f"({opening})(True|False|None)({closing})",
        lambda m: m[1] + JSON_SCALARS[m[2]] + m[3],
    )


def template_calls(style: str) -> Callable[[str, Messages, bool], str]:
    """Replace each call list as the template writes it (`"%s"` or `%sr` of Python values) by codekiln's."""

    def written(value: Any) -> str:
        return f'"{value}"' if style == "quoted" else f"{value}r"

    def apply(text: str, msgs: Messages, _generation: bool) -> str:
        for msg in msgs:
            calls = message_calls(msg)
            if msg.get("role") == "assistant" and calls:
                theirs = ", ".join(
                    f"{c.name}({', '.join(f'{k}={written(v)}' for k, v in c.arguments.items())})"
                    for c in calls
                )
                text = text.replace(f"[{theirs}]", codec_python.render_calls(calls), 1)
        return text

    return apply


@dataclass(frozen=True)
class Spec:
    format: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)
    differences: tuple[Difference, ...] = ()
    reasoning: bool = False  # also check conversations with reasoning on every assistant turn


HISTORY_PROMPT = "the generation prompt is what the template writes for that turn once it is history"
SPECS = [
    Spec(
        "qwen3_coder",
        "Qwen3-Coder.jinja",
        differences=(python_scalars(r"<parameter=\w+>\n", r"\n</parameter>"),),
    ),
    Spec(
        "qwen3_xml_mixed",
        "Qwen3.5-4B.jinja",
        reasoning=True,
        differences=(python_scalars(r"<parameter=\w+>\n", r"\n</parameter>"),),
    ),
    Spec(
        "glm46",
        "GLM-4.6.jinja",
        reasoning=True,
        differences=(
            sub(
                "the assistant's last turn ends on the role token it stops on (<|user|>), which is trained",
                r"\Z(?<!<\|assistant\|>)",
                "<|user|>",
            ),
            sub(
                f"{HISTORY_PROMPT} ('\\n<think>' opens every assistant turn)",
                r"<\|assistant\|>\Z",
                "<|assistant|>\n<think>",
            ),
        ),
    ),
    Spec(
        "minimax_m2",
        "MiniMax-M2.jinja",
        reasoning=True,
        differences=(
            sub(
                "a turn without reasoning keeps an empty think block (the generation prompt opens one every turn)",
                r"\]~b\]ai\n(?!<think>)",
                "]~b]ai\n<think>\n\n</think>\n\n",
            ),
        ),
    ),
    Spec("kimik2", "Kimi-K2-Instruct.jinja"),
    Spec(
        "deepseekv32",
        "deepseek-ai-DeepSeek-V3.2.jinja",
        {"bos_token": "<｜begin▁of▁sentence｜>"},
        (
            sub(
                f"{HISTORY_PROMPT} ('</think>', where the template's prompt writes '<think></think>')",
                r"<think></think>\Z",
                "</think>",
            ),
        ),
    ),
    Spec("xlam_qwen", "vllm-tool_chat_template_xlam_qwen.jinja"),
    Spec(
        "toolace",
        "vllm-tool_chat_template_toolace.jinja",
        {"bos_token": LLAMA_BOS},
        (
            Difference(
                "values are Python literals; the template writes '%sr' of each value (command=viewr), which "
                "no parser reads back",
                template_calls("sr"),
            ),
            Difference(
                "the template always ends with a generation prompt; codekiln only when asked",
                lambda text, _msgs, generation: text if generation else text.removesuffix(LLAMA_PROMPT),
            ),
        ),
    ),
    Spec(
        "llama4_pythonic",
        "vllm-tool_chat_template_llama4_pythonic.jinja",
        {"bos_token": LLAMA_BOS},
        (
            Difference(
                "values are Python literals; the template writes each value's str in double quotes, unescaped",
                template_calls("quoted"),
            ),
            sub(
                "calls_only (the default): a turn with calls is the call list alone, which vLLM's parser needs "
                "(the template glues the text to the list, and its own instructions call that INCORRECT)",
                r"(<\|header_end\|>\n\n)Let me look at the file\.\[",
                r"\1[",
            ),
        ),
    ),
]


def _conversations(spec: Spec) -> list[Messages]:
    out = []
    for system in (True, False):
        msgs = trajectory(system)
        for m in msgs:
            m.pop("reasoning_content", None)
        final = msgs.pop()  # a call with a boolean and a null before the final answer
        extra = assistant("", call("bash", command="git diff", background=True, note=None))
        msgs += [
            extra,
            {"role": "tool", "tool_call_id": extra["tool_calls"][0]["id"], "content": "diff"},
            final,
        ]
        out.append(msgs)
        if spec.reasoning:
            out.append(
                [
                    {**m, "reasoning_content": f"Step {i}."} if m["role"] == "assistant" else m
                    for i, m in enumerate(msgs)
                ]
            )
    return out


@pytest.mark.parametrize("spec", SPECS, ids=[s.format for s in SPECS])
def test_renders_as_the_official_template(spec: Spec) -> None:
    fmt = get_format(spec.format)
    context = dict(spec.context)
    if spec.format == "llama4_pythonic":  # its template lists tools only when they come as custom_tools
        context["custom_tools"] = TOOLS
    used: set[str] = set()
    for conversation in _conversations(spec):
        for tools in (TOOLS, None):
            for generation in (False, True):
                msgs = conversation[:-1] if generation else conversation
                ctx = {k: v for k, v in context.items() if tools or k != "custom_tools"}
                expected = render_official(
                    spec.template, msgs, tools, add_generation_prompt=generation, **ctx
                )
                for diff in spec.differences:
                    changed = diff.apply(expected, msgs, generation)
                    used |= {diff.reason} if changed != expected else set()
                    expected = changed
                assert fmt.render_prompt(msgs, tools, add_generation_prompt=generation) == expected
    assert used == {d.reason for d in spec.differences}, "a listed difference no longer occurs"
