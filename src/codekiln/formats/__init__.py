"""Tool-call chat formats: one module per model family's template, all behind `ChatFormat`.

    from codekiln.formats import get_format, list_formats
    fmt = get_format("qwen3_coder")
    prompt = fmt.render_prompt(messages, tools)             # text in the family's framing
    turn = fmt.parse(model_output, tools)                  # ParsedTurn(content, tool_calls, reasoning)
    ids, mask = fmt.render_tokens(messages, tools, tokenizer)  # loss mask: 1 on assistant tokens only

A malformed reply raises `codekiln.core.errors.FormatError` whose message tells the model what to fix. Names
follow vLLM's tool-parser names where one exists. `FORMATS` maps each name to its class and accepts any
"package.module:Class" path too; modules are imported on first use.
"""

from __future__ import annotations

from typing import Any

from codekiln.core.errors import ConfigError
from codekiln.core.registry import Registry
from codekiln.formats.base import ChatFormat, ParsedTurn, Segment, Tokenizer, ToolCall

_M = "codekiln.formats"
FORMATS = Registry(
    "chat format",
    {
        "qwen3_coder": f"{_M}.qwen3_coder:Qwen3Coder",
        "qwen3_xml_mixed": f"{_M}.qwen3_xml_mixed:Qwen3XmlMixed",
        "hermes": f"{_M}.hermes:Hermes",
        "qwen25_coder": f"{_M}.qwen25_coder:Qwen25Coder",
        "deepseekv3": f"{_M}.deepseekv3:DeepSeekV3",
        "deepseekv31": f"{_M}.deepseekv31:DeepSeekV31",
        "deepseekv32": f"{_M}.deepseekv32:DeepSeekV32",
        "glm46": f"{_M}.glm46:GLM46",
        "kimik2": f"{_M}.kimik2:KimiK2",
        "minimax_m2": f"{_M}.minimax_m2:MiniMaxM2",
        "mistral3": f"{_M}.mistral3:Mistral3",
        "llama4_pythonic": f"{_M}.llama4_pythonic:Llama4Pythonic",
        "toolace": f"{_M}.toolace:ToolAce",
        "xlam_qwen": f"{_M}.xlam_qwen:XlamQwen",
        "harmony_json": f"{_M}.harmony_json:HarmonyJson",
        "harmony_xml": f"{_M}.harmony_xml:HarmonyXml",
        "xml_cline": f"{_M}.xml_cline:XmlCline",
        "openai_json": f"{_M}.openai_json:OpenAIJson",
    },
)


def get_format(name: str, **options: Any) -> ChatFormat:
    """A format instance by registered name or "package.module:Class" path; `options` go to its constructor
    (e.g. `get_format("xlam_qwen", calls_only=False)`, see each format's docstring)."""
    cls = FORMATS.load(name)
    try:
        fmt: ChatFormat = cls(**options)
    except TypeError as err:
        raise ConfigError(
            f"chat format {name!r} does not take the options {sorted(options)}: {err}",
            hint="see the format module's docstring for the options it has",
        ) from err
    return fmt


def list_formats() -> list[str]:
    return FORMATS.names()


__all__ = [
    "FORMATS",
    "ChatFormat",
    "ParsedTurn",
    "Segment",
    "Tokenizer",
    "ToolCall",
    "get_format",
    "list_formats",
]
