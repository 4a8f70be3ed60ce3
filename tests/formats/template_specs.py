"""The official templates codekiln's formats are compared with, and each deliberate difference.

Used by test_formats_templates.py: a Spec names a format, its template (tests/fixtures/templates, see
SOURCE.md there), the context the template needs, and the differences that turn the template's output into
codekiln's, each with its reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from codekiln.formats import codec_python
from codekiln.formats.base import message_calls, message_text
from codekiln.formats.mistral3 import mistral_id

Messages = list[dict[str, Any]]
LLAMA_BOS = "<|begin_of_text|>"
LLAMA_PROMPT = "<|start_header_id|>assistant<|end_header_id|>\n\n"
DS_BOS = "<｜begin▁of▁sentence｜>"
VLLM_LAYOUT = (
    "vLLM's template indents its {{ }} lines, which lstrip_blocks does not strip, so its layout leaks into "
    "the text (spaces between turns); DeepSeek's own templates write none"
)


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
    layout: str = (
        ""  # why the template's source layout whitespace is dropped (official_templates.strip_layout)
    )
    needs_tools: bool = False  # a tool_use template: it cannot render a conversation without tools
    render: dict[str, Any] = field(default_factory=dict)  # other render_official options
    follow_up: bool = (
        True  # also a second user turn after the final answer (history the template may rewrite)
    )
    call_ids: Callable[[str], str] | None = None  # the ids the template insists on, for both renderings


HARMONY_CALL = "<|start|>assistant to=functions.{}<|channel|>commentary json<|message|>{}<|call|>"
HARMONY_RESULT = "<|start|>functions.{} to=assistant<|channel|>commentary<|message|>{}<|end|>"


def harmony_parallel(text: str, msgs: Messages, _generation: bool) -> str:
    """Add the calls after a turn's first (the template writes only that one), and name each result by its call."""
    pos, results = 0, iter(m for m in msgs if m["role"] == "tool")
    for msg in msgs:
        calls = message_calls(msg) if msg["role"] == "assistant" else []
        if not calls:
            continue
        written = "".join(
            HARMONY_CALL.format(c.name, json.dumps(c.arguments, ensure_ascii=False)) for c in calls
        )
        first = HARMONY_CALL.format(calls[0].name, json.dumps(calls[0].arguments, ensure_ascii=False))
        at = text.index(first, pos)
        text, pos = text[:at] + written + text[at + len(first) :], at + len(written)
        for c, result in zip(calls, results, strict=False):
            content = message_text(result)
            theirs, ours = (
                HARMONY_RESULT.format(calls[0].name, content),
                HARMONY_RESULT.format(c.name, content),
            )
            at = text.index(theirs, pos)
            text, pos = text[:at] + ours + text[at + len(theirs) :], at + len(ours)
    return text


def harmony_preamble(text: str, msgs: Messages, _generation: bool) -> str:
    """A call turn's text as a commentary message before its calls (the template: analysis, or dropped)."""
    for msg in msgs:
        calls, content = message_calls(msg), message_text(msg)
        if msg["role"] != "assistant" or not calls or not content:
            continue
        ours = f"<|start|>assistant<|channel|>commentary<|message|>{content}<|end|>"
        theirs = f"<|start|>assistant<|channel|>analysis<|message|>{content}<|end|>"
        first = HARMONY_CALL.format(calls[0].name, json.dumps(calls[0].arguments, ensure_ascii=False))
        text = text.replace(theirs, ours, 1) if theirs in text else text.replace(first, ours + first, 1)
    return text


def hermes_last_result(text: str, msgs: Messages, _generation: bool) -> str:
    return re.sub(
        r"</tool_response><\|im_end\|>(?=(<\|im_start\|>assistant\n)?\Z)",
        "</tool_response>\n<|im_end|>",
        text,
    )


def qwen_history_think(text: str, msgs: Messages, _generation: bool) -> str:
    """Turns before the last user query keep their think block (the template drops it, reasoning and all)."""
    queries = list(re.finditer(r"<\|im_start\|>user\n(?!<tool_response>)", text))
    cut = queries[-1].start() if queries else 0
    last = max((i for i, m in enumerate(msgs) if m["role"] == "user"), default=0)
    turns = iter(m for m in msgs[:last] if m["role"] == "assistant")
    head, *parts = text[:cut].split("<|im_start|>assistant\n")
    for part, msg in zip(parts, turns, strict=True):
        think = (
            ""
            if part.startswith("<think>")
            else f"<think>\n{msg.get('reasoning_content') or ''}\n</think>\n\n"
        )
        head += "<|im_start|>assistant\n" + think + part
    return head + text[cut:]


def mistral_tools_first(text: str, _msgs: Messages, _generation: bool) -> str:
    return re.sub(
        r"(\[/SYSTEM_PROMPT\])(.+?)(\[AVAILABLE_TOOLS\].*?\[/AVAILABLE_TOOLS\])",
        r"\1\3\2",
        text,
        count=1,
        flags=re.S,
    )


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
        differences=(
            python_scalars(r"<parameter=\w+>\n", r"\n</parameter>"),
            Difference(
                "turns before the last user message keep their think block (the template drops it, and their "
                "reasoning, once a new user message arrives; that would re-tokenize history)",
                qwen_history_think,
            ),
        ),
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
        {"bos_token": DS_BOS},
        (
            sub(
                f"{HISTORY_PROMPT} ('</think>', where the template's prompt writes '<think></think>')",
                r"<think></think>\Z",
                "</think>",
            ),
        ),
    ),
    Spec("xlam_qwen", "vllm-tool_chat_template_xlam_qwen.jinja"),
    Spec("qwen25_coder", "vllm-tool_chat_template_qwen2_5_coder.jinja"),
    Spec(
        "deepseekv3",
        "vllm-tool_chat_template_deepseekv3.jinja",
        {"bos_token": DS_BOS},
        layout=VLLM_LAYOUT,
    ),
    Spec(
        "deepseekv31",
        "vllm-tool_chat_template_deepseekv31.jinja",
        {"bos_token": DS_BOS},
        layout=VLLM_LAYOUT,
    ),
    Spec(
        "hermes",
        "NousResearch-Hermes-2-Pro-Llama-3-8B-tool_use.jinja",
        {"bos_token": LLAMA_BOS},
        (
            sub(
                "no BOS text: Llama-based Hermes tokenizers add BOS themselves, Qwen-based models served with the "
                "hermes parser have none",
                r"\A<\|begin_of_text\|>",
                "",
            ),
            Difference(
                "text before the calls is kept (the template drops it; calls_only=True drops it too)",
                lambda text, msgs, _generation: text.replace(
                    "<|im_start|>assistant\n<tool_call>\n",
                    "<|im_start|>assistant\nLet me look at the file.\n<tool_call>\n",
                    1,
                ),
            ),
            Difference(
                "results that end the conversation close as in history ('\\n<|im_end|>'), so the prompt does not "
                "change once the model answers",
                hermes_last_result,
            ),
        ),
        needs_tools=True,
        render={"iterable_strings": False},
    ),
    Spec(
        "mistral3",
        "Mistral-Small-3.2-24B-Instruct-2506.jinja",
        {"bos_token": "<s>", "eos_token": "</s>"},
        (
            sub(
                "the default system prompt has no current date (it would change the prompt daily)",
                r" The current date is [\d-]+\.",
                "",
            ),
            Difference(
                "text before the calls is kept (the template drops it; calls_only=True drops it too)",
                lambda text, _msgs, _generation: text.replace(
                    "[/INST][TOOL_CALLS]", "[/INST]Let me look at the file.[TOOL_CALLS]", 1
                ),
            ),
            Difference(
                "[AVAILABLE_TOOLS] follows the system prompt (the template moves it before the last user message, "
                "which would re-tokenize history)",
                mistral_tools_first,
            ),
        ),
        call_ids=mistral_id,
    ),
    Spec(
        "harmony_json",
        "openai-gpt-oss-120b.jinja",
        {},
        (
            sub(
                "the system turn has no current date (it would change the prompt daily)",
                r"Current date: [\d-]+\n",
                "",
            ),
            sub(
                "results are written as is (as vLLM's gpt-oss path writes them with openai-harmony); the template "
                "JSON-quotes them",
                r'(to=assistant<\|channel\|>commentary<\|message\|>)("(?:[^"\\]|\\.)*")(?=<\|end\|>)',
                lambda m: m[1] + json.loads(m[2]),
            ),
            Difference(
                "every parallel call is written, one message each, and each result names its own call's function "
                "(the template keeps a turn's first call only)",
                harmony_parallel,
            ),
            Difference(
                "text beside calls is a commentary preamble kept in history (the template makes it analysis and "
                "drops it once a final answer follows)",
                harmony_preamble,
            ),
            sub(
                "a final answer keeps its <|return|> in history (the template swaps it for <|end|> once the "
                "conversation goes on, which would re-tokenize it)",
                r"(<\|channel\|>final<\|message\|>[^<]*)<\|end\|>",
                r"\1<|return|>",
            ),
        ),
    ),
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
