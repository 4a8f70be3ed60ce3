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
import os
import re
import time
import urllib.error
import urllib.request
from typing import Any

from codekiln.core.errors import ConfigError, ContextTooLongError, ModelError
from codekiln.models.base import (
    DEFAULT_FORMAT,
    FormatModel,
    GenerateResult,
    ModelResponse,
    Usage,
    check_options,
)

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"
_CONTEXT_RE = re.compile(r"context (length|window)|maximum context|too long|context_length_exceeded", re.I)
_MISSING_RE = re.compile(r"model.*(does not exist|not found|not exist)|model_not_found", re.I)
_RETRY_STATUS = {429, 500, 502, 503, 504}
_START_HINT = (
    "start a server, e.g. `codekiln model serve --port 8000` (the embedded model) or "
    "`python -m llama_cpp.server --model PATH --port 8000`, or fix the address in --model openai:NAME@http://HOST:PORT/v1"
)


class OpenAIClient:
    """JSON over HTTP to one OpenAI-compatible base URL, with timeouts, retries and clear errors."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 0.5,
    ) -> None:
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY", "")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        url = f"{self.base_url}/{path.lstrip('/')}"
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempt = 0
        while True:
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read() or b"{}")
            except urllib.error.HTTPError as err:
                status, detail = err.code, _error_detail(err)
                if status not in _RETRY_STATUS or attempt >= self.retries:
                    raise self._http_error(status, detail, url) from err
                wait = _retry_after(err) or self.backoff * 2**attempt
            except (urllib.error.URLError, ConnectionError, TimeoutError) as err:
                if attempt >= self.retries:
                    raise self._connect_error(err, url) from err
                wait = self.backoff * 2**attempt
            except ValueError as err:
                raise ModelError(
                    f"{url} answered with something that is not JSON: {err}", hint=_START_HINT
                ) from err
            attempt += 1
            time.sleep(min(wait, 30.0))

    def _http_error(self, status: int, detail: str, url: str) -> ModelError:
        if status in (400, 413, 422) and _CONTEXT_RE.search(detail):
            return ContextTooLongError(
                f"the prompt does not fit the model's context window: {detail}",
                hint="shorten the conversation, lower max_tokens, or serve the model with a larger context (--n_ctx)",
                status=status,
            )
        if status in (400, 404) and _MISSING_RE.search(detail):
            return ModelError(
                f"model not served at {self.base_url}: {detail}", hint="list served models at GET /v1/models"
            )
        if status == 404:
            return ModelError(
                f"{url} does not exist (404)",
                hint="the base URL should end with /v1, e.g. http://127.0.0.1:8000/v1",
                status=404,
            )
        if status in (401, 403):
            return ModelError(
                f"{url} refused the credentials ({status}): {detail}", hint="set OPENAI_API_KEY or api_key="
            )
        return ModelError(
            f"{url} failed with HTTP {status}: {detail}", hint="see the server's log", status=status
        )

    def _connect_error(self, err: BaseException, url: str) -> ModelError:
        reason = getattr(err, "reason", err)
        if isinstance(reason, TimeoutError):
            return ModelError(
                f"no answer from {url} within {self.timeout:g} s (after {self.retries + 1} tries)",
                hint="the server may be overloaded or the generation long: raise timeout= or lower max_tokens",
            )
        return ModelError(f"cannot reach {url}: {reason} (after {self.retries + 1} tries)", hint=_START_HINT)


def _error_detail(err: urllib.error.HTTPError) -> str:
    try:
        raw = err.read().decode(errors="replace")
    except OSError:
        return str(err.reason)
    try:
        body = json.loads(raw)
    except ValueError:
        return raw[:500] or str(err.reason)
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        return " ".join(str(error.get(k)) for k in ("message", "code") if error.get(k)) or raw[:500]
    return str(error)[:500]


def _retry_after(err: urllib.error.HTTPError) -> float | None:
    value = err.headers.get("Retry-After") if err.headers else None
    try:
        return float(value) if value else None
    except ValueError:
        return None


def first_choice(reply: Any, url: str, key: str) -> dict[str, Any]:
    """The reply's first choice. A reply with no choice holding `key` (`{}`, `{"choices": []}`, an error
    object with status 200) is the server's failure, a ModelError (infrastructure, masked), never an
    empty answer scored as the model's."""
    choices = reply.get("choices") if isinstance(reply, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    if not isinstance(choice, dict) or key not in choice:
        raise ModelError(
            f"{url} answered without a choice holding {key!r}: {json.dumps(reply)[:200]}",
            hint="the server is not OpenAI-compatible or failed: see its log, or check the URL in --model",
        )
    return choice


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
