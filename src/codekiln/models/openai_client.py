"""JSON over HTTP to one OpenAI-compatible server: timeouts, retries with backoff on connection errors,
429 and 5xx, and failures as `ModelError` with a hint (server down, model not served, bad URL) or
`ContextTooLongError`. The models of `models.openai` talk through it; standard library only."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from typing import Any

from codekiln.core.errors import ContextTooLongError, ModelError

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
