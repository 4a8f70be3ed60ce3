"""codekiln's parsers against vLLM's own tool-parser test vectors (tests/fixtures/vllm/tool_parser_vectors.json).

Each vector is a model output that vLLM's parser for the family accepts, with the calls it extracts (and
the content, where vLLM's test asserts it). codekiln must extract the same calls and the same content (up to
surrounding whitespace, which belongs to the separator the template writes), or do what the vector's
`codekiln` entry documents instead (a FormatError naming the problem, or other calls, with the reason).
A vector's `options` go to get_format (mistral3's JSON-list syntax); `vllm_asserts` notes where vLLM's own
test checks less than the whole calls (only the names, or the argument keys): there the calls are the values
the output writes, and codekiln must still extract exactly those.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from codekiln.core.errors import FormatError
from codekiln.formats import get_format

VECTORS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "vllm" / "tool_parser_vectors.json").read_text(
        encoding="utf-8"
    )
)["vectors"]
DELIBERATE = [v for v in VECTORS if "codekiln" in v]


@pytest.mark.parametrize("vector", VECTORS, ids=[f"{v['format']}:{v['test']}" for v in VECTORS])
def test_extracts_what_vllm_extracts(vector: dict[str, Any]) -> None:
    fmt = get_format(vector["format"], **vector.get("options", {}))
    ours = vector.get("codekiln", {})
    if "error" in ours:
        with pytest.raises(FormatError, match=ours["error"]):
            fmt.parse(vector["output"], vector.get("tools"))
        return
    turn = fmt.parse(vector["output"], vector.get("tools"))
    calls = [{"name": c.name, "arguments": c.arguments} for c in turn.tool_calls]
    assert calls == ours.get("calls", vector["calls"])
    if "content" in vector:
        assert turn.content.strip() == vector["content"].strip()


def test_every_vllm_parsed_format_has_vectors() -> None:
    """The formats named after a vLLM parser each carry vectors from that parser's tests."""
    covered = {v["format"] for v in VECTORS}
    assert covered >= {
        "qwen3_coder", "glm46", "minimax_m2", "kimik2", "deepseekv3", "deepseekv31", "deepseekv32",
        "hermes", "llama4_pythonic", "xlam_qwen", "qwen3_xml_mixed", "mistral3", "harmony_json", "toolace", "qwen25_coder",
    }  # fmt: skip


def test_both_mistral_call_syntaxes_have_vectors() -> None:
    syntaxes = {v.get("options", {}).get("syntax", "name_args") for v in VECTORS if v["format"] == "mistral3"}
    assert syntaxes == {"name_args", "json_list"}


def test_deliberate_differences_say_why() -> None:
    assert DELIBERATE and all(v["codekiln"].get("reason") for v in DELIBERATE)
