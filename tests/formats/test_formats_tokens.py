"""Token rendering for training: turn k's ids are an exact prefix of turn k+1's, and the loss mask covers
exactly the assistant spans (their end-of-turn token included). Run with SmolLM2's real tokenizer (marked
`model`) and with the dependency-free byte tokenizer."""

from __future__ import annotations

from typing import Any

import pytest
from format_cases import TOOLS, trajectory

from codekiln.formats import ChatFormat, Tokenizer, get_format, list_formats
from codekiln.formats.tokenizers import ByteTokenizer

NAMES = list_formats()


def _runs(mask: list[int]) -> list[tuple[int, int]]:
    """(start, end) of each run of 1s."""
    runs, start = [], None
    for i, m in enumerate([*mask, 0]):
        if m and start is None:
            start = i
        elif not m and start is not None:
            runs.append((start, i))
            start = None
    return runs


def check_prefix_and_mask(fmt: ChatFormat, messages: list[dict[str, Any]], tok: Tokenizer) -> None:
    full_ids, full_mask = fmt.render_tokens(messages, TOOLS, tok)
    assert len(full_ids) == len(full_mask)
    turns = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    previous: list[int] = []
    for k in turns:  # the prompt the model sees at each of its turns
        ids, mask = fmt.render_tokens(messages[:k], TOOLS, tok, add_generation_prompt=True)
        assert ids[: len(previous)] == previous, f"turn at message {k} re-tokenized earlier history"
        assert full_ids[: len(ids)] == ids and full_mask[: len(mask)] == mask
        text = fmt.render_prompt(messages[:k], TOOLS)
        assert fmt.render_prompt(messages, TOOLS, add_generation_prompt=False).startswith(text)
        previous = ids
    spans = [fmt.render_assistant(m) for m in fmt.prepare(messages) if m["role"] == "assistant"]
    runs = _runs(full_mask)
    assert [full_ids[a:b] for a, b in runs] == [tok.encode(s) for s in spans]
    assert [tok.decode(full_ids[a:b]) for a, b in runs] == spans
    assert sum(full_mask) == sum(len(tok.encode(s)) for s in spans)


@pytest.mark.parametrize("system", [True, False])
@pytest.mark.parametrize("name", NAMES)
def test_prefix_property_bytes(name: str, system: bool) -> None:
    check_prefix_and_mask(get_format(name), trajectory(system), ByteTokenizer())


@pytest.mark.model
@pytest.mark.parametrize("name", NAMES)
def test_prefix_property_smollm2(name: str, smollm2: Tokenizer) -> None:
    check_prefix_and_mask(get_format(name), trajectory(), smollm2)


@pytest.mark.model
def test_smollm2_maps_chatml_markers_to_special_ids(smollm2: Tokenizer) -> None:
    ids, mask = get_format("qwen3_coder").render_tokens(trajectory(), TOOLS, smollm2)
    start, end = smollm2.encode("<|im_start|>"), smollm2.encode("<|im_end|>")
    assert len(start) == len(end) == 1  # one special id each
    first_assistant = next(a for a, _ in _runs(mask))
    assert ids[first_assistant - 1] == smollm2.encode("\n")[0] and end[0] in ids[first_assistant:]


def test_tool_results_and_generation_prompts_are_never_trained() -> None:
    tok = ByteTokenizer()
    messages = trajectory()
    for name in NAMES:
        fmt = get_format(name)
        ids, mask = fmt.render_tokens(messages, TOOLS, tok)
        trained = tok.decode([i for i, m in zip(ids, mask, strict=True) if m])
        assert "File created." not in trained and "1 passed" not in trained, name
        assert "You are a careful engineer." not in trained and "Add a greet()" not in trained, name
        _, prompt_mask = fmt.render_tokens(messages[:2], TOOLS, tok, add_generation_prompt=True)
        assert not any(prompt_mask), name
