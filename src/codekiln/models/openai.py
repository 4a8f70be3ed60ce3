"""Models served by any OpenAI-compatible server (vLLM, SGLang, llama.cpp, llama-cpp-python, OpenAI).

    make_model("openai:smollm2@http://127.0.0.1:8000/v1")               # native tool calling
    make_model("openai:smollm2@http://127.0.0.1:8000/v1", mode="raw",   # codekiln renders and parses
               format="hermes")

Two modes. `native`: messages and tools go to /chat/completions and the server's own template and parser
produce `tool_calls`. `raw`: codekiln renders the prompt with one of its chat formats, sends it to
/completions, and parses the text itself, so any format works with any server.

Transport is the standard library (no extra dependency). Every request has a timeout; connection
errors, 429 and 5xx are retried with exponential backoff. Failures become `ModelError` with a hint:
server down, model not served (checked once against /models), bad URL; a prompt over the context
window becomes `ContextTooLongError`. Token ids are returned when the server gives them (vLLM's
`return_tokens_as_token_ids`, passed through `extra_body`); logprobs are requested by default.
"""

from __future__ import annotations

import json
import time
from typing import Any

from codekiln.core.errors import ConfigError, ModelError
from codekiln.models.base import (
    DEFAULT_FORMAT,
    FormatModel,
    GenerateResult,
    ModelResponse,
    Usage,
    check_options,
)
from codekiln.models.openai_client import DEFAULT_BASE_URL as DEFAULT_BASE_URL
from codekiln.models.openai_client import OpenAIClient as OpenAIClient
from codekiln.models.openai_client import first_choice


def _usage(body: dict[str, Any]) -> Usage:
    usage = body.get("usage") or {}
    return Usage(
        prompt_tokens=usage.get("prompt_tokens") or 0, completion_tokens=usage.get("completion_tokens") or 0
    )


def _token_ids(tokens: list[Any]) -> list[int] | None:
    """Ids from vLLM's `return_tokens_as_token_ids` ("token_id:123"), else None."""
    ids = []
    for token in tokens:
        if not isinstance(token, str) or not token.startswith("token_id:"):
            return None
        ids.append(int(token.removeprefix("token_id:")))
    return ids


def _server_calls(raw: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """A server's tool calls, normalized; a call whose arguments are not a JSON object is dropped and
    reported (as a parse error the agent loop shows the model)."""
    calls, error = [], None
    for i, call in enumerate(raw):
        fn = call.get("function") or {}
        args = fn.get("arguments")
        try:
            parsed = json.loads(args) if isinstance(args, str) else (args or {})
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            error = (
                f"The arguments of your call to {fn.get('name')!r} are not a JSON object: {str(args)[:200]}"
            )
            continue
        wire = args if isinstance(args, str) else json.dumps(parsed, ensure_ascii=False)
        calls.append(
            {
                "id": call.get("id") or f"call_{i}",
                "type": "function",
                "function": {"name": fn.get("name", ""), "arguments": wire},
            }
        )
    return calls, error


def _wire_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Messages as the OpenAI API wants them: tool call arguments as JSON strings."""
    out = []
    for msg in messages:
        if msg.get("tool_calls"):
            calls = []
            for call in msg["tool_calls"]:
                fn = call.get("function", call)
                args = fn.get("arguments") or {}
                wire = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False)
                calls.append(
                    {
                        "id": call.get("id", ""),
                        "type": "function",
                        "function": {"name": fn["name"], "arguments": wire},
                    }
                )
            msg = {**msg, "tool_calls": calls}
        out.append(msg)
    return out


class _ServedModel:
    """Shared by both modes: the client, the model name and the one-time check that it is served."""

    client: OpenAIClient
    model: str | None
    name: str
    _checked: bool

    def _model_name(self) -> str:
        if self._checked and self.model:
            return self.model
        try:
            listed = self.client.request("GET", "/models")
        except ModelError as err:
            if err.data.get("status") != 404 or not self.model:
                raise
            listed = {"data": []}  # a server without /models: trust the given name
        served = [str(m["id"]) for m in listed.get("data") or [] if isinstance(m, dict) and m.get("id")]
        if self.model is None:
            if not served:
                raise ModelError(f"{self.client.base_url} serves no models", hint="name one: openai:NAME@URL")
            self.model = served[0]
            self.name = self.name.replace(":?", f":{self.model}")
        elif served and self.model not in served:
            raise ModelError(
                f"model {self.model!r} is not served at {self.client.base_url} (it serves {', '.join(served)})",
                hint=f"use --model openai:{served[0]}@{self.client.base_url}",
            )
        self._checked = True
        return self.model

    def probe(self) -> None:
        """Check once, before any episode, that the server answers and serves the model: a ModelError
        naming the URL and how to start a server otherwise (the rollout engine calls this)."""
        self._model_name()


class OpenAIChatModel(_ServedModel):
    """Native tool calling: the server renders the template and parses tool calls."""

    def __init__(
        self,
        model: str | None = None,
        *,
        client: OpenAIClient,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
        logprobs: bool = True,
        tool_choice: Any = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self.client, self.model, self._checked = client, model, False
        self.name = f"openai:{model or '?'}"
        self.format: str | None = None
        self.max_tokens, self.temperature, self.seed = max_tokens, temperature, seed
        self.logprobs, self.tool_choice, self.extra_body = logprobs, tool_choice, extra_body or {}

    def chat(
        self,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]] | None = None,
        *,
        max_tokens: int | None = None,
        temperature: float | None = None,
        seed: int | None = None,
    ) -> ModelResponse:
        body: dict[str, Any] = {
            "model": self._model_name(),
            "messages": _wire_messages(messages),
            "max_tokens": self.max_tokens if max_tokens is None else max_tokens,
            "temperature": self.temperature if temperature is None else temperature,
            "seed": self.seed if seed is None else seed,
            **self.extra_body,
        }
        if tools:
            body["tools"] = tools
            if self.tool_choice is not None:
                body["tool_choice"] = self.tool_choice
        if self.logprobs:
            body["logprobs"], body["top_logprobs"] = True, 1
        start = time.perf_counter()
        reply = self.client.request("POST", "/chat/completions", body)
        latency = time.perf_counter() - start
        choice = first_choice(reply, self.client.base_url + "/chat/completions", "message")
        msg = choice.get("message") or {}
        calls, error = _server_calls(msg.get("tool_calls") or [])
        content = msg.get("content") or ""
        logprobs = [t.get("logprob", 0.0) for t in ((choice.get("logprobs") or {}).get("content") or [])]
        return ModelResponse(
            text=content,
            message={"role": "assistant", "content": content, "tool_calls": calls},
            parse_error=error,
            usage=_usage(reply),
            latency_s=latency,
            finish_reason=choice.get("finish_reason"),
            model=self.name,
            format=None,
            logprobs=logprobs or None,
        )


class OpenAIRawModel(_ServedModel, FormatModel):
    """Raw completions: codekiln renders the prompt with `format`, the server continues it."""

    def __init__(
        self,
        model: str | None = None,
        *,
        client: OpenAIClient,
        format: str = DEFAULT_FORMAT,
        max_tokens: int = 512,
        temperature: float = 0.0,
        seed: int = 0,
        logprobs: bool = True,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        FormatModel.__init__(self, format=format, max_tokens=max_tokens, temperature=temperature, seed=seed)
        self.client, self.model, self._checked = client, model, False
        self.name = f"openai-raw:{model or '?'}"
        self.logprobs, self.extra_body = logprobs, extra_body or {}

    def _complete(
        self, prompt: str, *, max_tokens: int, temperature: float, seed: int, stop: list[str]
    ) -> GenerateResult:
        body: dict[str, Any] = {
            "model": self._model_name(),
            "prompt": prompt,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "seed": seed,
            **self.extra_body,
        }
        if stop:
            body["stop"] = stop
        if self.logprobs:
            body["logprobs"] = 1
        start = time.perf_counter()
        reply = self.client.request("POST", "/completions", body)
        latency = time.perf_counter() - start
        choice = first_choice(reply, self.client.base_url + "/completions", "text")
        lp = choice.get("logprobs") or {}
        token_logprobs = lp.get("token_logprobs")
        return GenerateResult(
            text=choice.get("text") or "",
            finish_reason=choice.get("finish_reason"),
            prompt_ids=choice.get("prompt_token_ids"),
            completion_ids=choice.get("token_ids") or _token_ids(lp.get("tokens") or [None]),
            logprobs=[float(x or 0.0) for x in token_logprobs] if token_logprobs else None,
            usage=_usage(reply),
            latency_s=latency,
        )


def openai_model(
    model: str | None = None,
    *,
    base_url: str | None = None,
    mode: str = "native",
    format: str = DEFAULT_FORMAT,
    api_key: str | None = None,
    timeout: float = 120.0,
    retries: int = 3,
    backoff: float = 0.5,
    **options: Any,
) -> OpenAIChatModel | OpenAIRawModel:
    """An OpenAI-compatible model. `mode` is "native" (server tool calling) or "raw" (codekiln's formats)."""
    client = OpenAIClient(base_url, api_key=api_key, timeout=timeout, retries=retries, backoff=backoff)
    if mode not in ("native", "raw"):
        raise ConfigError(f"unknown openai mode {mode!r}", hint="use mode=native or mode=raw")
    cls: type[OpenAIChatModel | OpenAIRawModel] = OpenAIChatModel if mode == "native" else OpenAIRawModel
    if mode == "raw":
        options["format"] = format
    check_options(cls, f"the openai model in {mode} mode", model, client=client, **options)
    return cls(model, client=client, **options)
