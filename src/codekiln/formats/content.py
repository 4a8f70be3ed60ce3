"""Content never becomes markup: the split `ChatFormat.render_tokens` (and every renderer of token ids)
makes between the format's markup and the text a conversation carries.

Text the environment controls (a tool's output: any file an agent can `cat`), the task statement and
the model's own words may spell a special token ("<|im_start|>"). Tokenized with special-token parsing
on, that spelling becomes the real turn token, and an environment can forge turns in the ids a model
is given or trained on. Here only the format's markup is tokenized with special tokens; content is
tokenized as text (`Tokenizer.encode_text`, what HF tokenizers do with `split_special_tokens`):

    ids = fmt.segment_ids(messages, tools, tokenizer)   # ChatFormat's renderers all come here:
    ids = marked_ids(texts, render, messages, tools, tokenizer)  # per text, through the two below
    pairs = split_markup(texts, render, messages, tools, specials)  # [(text, defanged text)]
    ids = encode_marked(tokenizer, text, defanged, specials)

How the markup is told from content, for every format without touching any: the conversation is
rendered twice, as it is and with each special-token spelling in its content (every string of the
messages and tools) defanged: its first character swapped for one that every format escapes alike
(JSON, Python repr), so both renders have the same length and differ only inside content. A special
token found at a place in the defanged render is markup; every other spelling is content. The text
between markup tokens is encoded as text, each markup token as itself: for a conversation without such
spellings, exactly the ids of encoding it whole with special tokens (tokenizers split at special tokens
anyway). Limits: tokens a tokenizer always parses (llama.cpp's user-defined tokens, HF added tokens not
marked special) are parsed in content too; `special_texts` lists only those `encode_text` leaves alone.
A spelling split across content and the markup after it is not caught (no format's markup starts in
the middle of a special token), nor is text a server tokenizes from a prompt string (the OpenAI
backend sends text: the server's own tokenizer decides).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from codekiln.core.errors import FormatError


def defang(text: str, specials: Sequence[str]) -> str:
    """`text` with each special-token spelling's first character swapped (same length, same escaping)."""
    for s in specials:
        if s in text:
            first = s[0]
            swap = (
                ("~" if first == "#" else "#")
                if first.isascii()
                else ("\u00b8" if first == "\u00b7" else "\u00b7")
            )
            text = text.replace(s, swap + s[1:])
    return text


def defang_all(value: Any, specials: Sequence[str]) -> Any:
    """`value` (messages, tools: dicts, lists, strings) with every string defanged, keys included. Call
    arguments given as a JSON string are decoded first (formats decode them, and a spelling escaped in
    the JSON, "\\u003c|im_start|>", would survive defanging as text)."""
    if isinstance(value, str):
        return defang(value, specials)
    if isinstance(value, dict):
        out = {defang(str(k), specials): defang_all(v, specials) for k, v in value.items()}
        if isinstance(value.get("arguments"), str):
            try:
                out["arguments"] = defang_all(json.loads(value["arguments"]), specials)
            except ValueError:
                pass
        return out
    if isinstance(value, list | tuple):
        return [defang_all(v, specials) for v in value]
    return value


def split_markup(
    texts: list[str],
    render: Callable[[Any, Any], list[str]],
    messages: Any,
    tools: Any,
    specials: Sequence[str],
) -> list[tuple[str, str]]:
    """(text, defanged text) of each piece of `texts`, the render of (messages, tools) that `render`
    makes again from their defanged copies. Raises FormatError when the two renders differ in layout
    (a format transformed content in a way that depends on its text)."""
    if not specials:
        return [(t, t) for t in texts]
    neutral = render(defang_all(messages, specials), defang_all(tools, specials))
    if len(texts) != len(neutral) or any(len(a) != len(b) for a, b in zip(texts, neutral, strict=False)):
        raise FormatError(
            "cannot tell this format's markup from the conversation's content: rendering the content "
            "with special-token spellings defanged changed the layout",
            hint="a format must render content without changing it in a way that depends on its text",
        )
    return list(zip(texts, neutral, strict=True))


def encode_marked(tokenizer: Any, text: str, neutral: str, specials: Sequence[str]) -> list[int]:
    """The ids of `text`: special tokens where `neutral` (the defanged render) has them, text elsewhere."""
    if not specials:
        return list(tokenizer.encode_text(text))
    pattern = re.compile("|".join(re.escape(s) for s in sorted(specials, key=len, reverse=True)))
    ids: list[int] = []
    pos = 0
    for m in pattern.finditer(neutral):
        ids += tokenizer.encode_text(text[pos : m.start()]) if m.start() > pos else []
        ids += tokenizer.encode(m.group())
        pos = m.end()
    ids += tokenizer.encode_text(text[pos:]) if pos < len(text) else []
    return ids


def marked_ids(
    texts: list[str],
    render: Callable[[Any, Any], list[str]],
    messages: Any,
    tools: Any,
    tokenizer: Any,
    *,
    first: bool = False,
) -> list[list[int]]:
    """The ids of each of `texts` (the render of messages and tools that `render` makes), markup with
    special tokens and content as text; only the first when `first`."""
    specials = list(tokenizer.special_texts())
    pairs = split_markup(texts, render, messages, tools, specials)[: 1 if first else None]
    return [encode_marked(tokenizer, text, neutral, specials) for text, neutral in pairs]


__all__ = ["defang", "defang_all", "encode_marked", "marked_ids", "split_markup"]
