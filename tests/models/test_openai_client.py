"""The OpenAI client's transport against a real local HTTP server that misbehaves on purpose.

The server is the standard library's: it answers from a queue of (status, body, delay) replies and
records every request, so retries, backoff, Retry-After, timeouts and error wording are checked on the
wire. The llama-cpp-python server tests (test_openai_server.py) cover a real model behind it.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from codekiln.core.errors import ConfigError, ContextTooLongError, ModelError
from codekiln.models import make_model
from codekiln.models.openai import OpenAIClient

MODELS = {"object": "list", "data": [{"id": "m1"}, {"id": "m2"}]}
CHAT = {
    "choices": [
        {
            "message": {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "bash", "arguments": '{"command": "ls"}'},
                    }
                ],
            },
            "finish_reason": "tool_calls",
            "logprobs": {"content": [{"token": "x", "logprob": -0.5}, {"token": "y", "logprob": -0.25}]},
        }
    ],
    "usage": {"prompt_tokens": 12, "completion_tokens": 2},
}


class Fake:
    def __init__(self) -> None:
        self.replies: list[tuple[int, Any, float, dict[str, str]]] = []
        self.requests: list[tuple[str, str, Any, float]] = []

    def reply(
        self, status: int, body: Any, delay: float = 0.0, headers: dict[str, str] | None = None
    ) -> None:
        self.replies.append((status, body, delay, headers or {}))


@pytest.fixture
def fake() -> Iterator[tuple[Fake, str]]:
    state = Fake()

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            state.requests.append((self.command, self.path, body, time.monotonic()))
            status, reply, delay, headers = (
                state.replies.pop(0) if state.replies else (500, {"error": "no reply queued"}, 0, {})
            )
            time.sleep(delay)
            data = reply.encode() if isinstance(reply, str) else json.dumps(reply).encode()
            try:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_native_chat_reads_calls_usage_and_logprobs(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.reply(200, MODELS)
    state.reply(200, CHAT)
    model = make_model(f"openai:m2@{url}", max_tokens=7, tool_choice="required")
    tools = [{"type": "function", "function": {"name": "bash", "parameters": {"type": "object"}}}]
    response = model.chat([{"role": "user", "content": "hi"}], tools)
    assert response.tool_calls == [{"id": "c1", "name": "bash", "arguments": {"command": "ls"}}]
    assert response.message["content"] == "" and response.parse_error is None
    assert (response.usage.prompt_tokens, response.usage.completion_tokens) == (12, 2)
    assert response.logprobs == [-0.5, -0.25] and response.finish_reason == "tool_calls"
    method, path, body, _ = state.requests[1]
    assert (method, path) == ("POST", "/v1/chat/completions")
    assert body["model"] == "m2" and body["max_tokens"] == 7 and body["tools"] == tools
    assert body["tool_choice"] == "required" and body["logprobs"] is True
    # The served-model check happens once.
    state.reply(200, CHAT)
    model.chat([{"role": "user", "content": "again"}])
    assert [r[1] for r in state.requests] == ["/v1/models", "/v1/chat/completions", "/v1/chat/completions"]


def test_native_calls_with_bad_arguments_become_parse_errors(fake: tuple[Fake, str]) -> None:
    state, url = fake
    bad = {"id": "c2", "type": "function", "function": {"name": "bash", "arguments": '{"command": "ls"'}}
    reply = {
        "choices": [
            {
                "message": {
                    "content": "hm",
                    "tool_calls": [CHAT["choices"][0]["message"]["tool_calls"][0], bad],
                }
            }
        ]
    }
    state.reply(200, MODELS)
    state.reply(200, reply)
    history = [
        {"role": "user", "content": "go"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c0", "function": {"name": "bash", "arguments": {"command": "pwd"}}}],
        },
        {"role": "tool", "tool_call_id": "c0", "content": "/testbed"},
    ]
    response = make_model(f"openai:m1@{url}").chat(history)
    assert [c["id"] for c in response.tool_calls] == ["c1"] and response.message["content"] == "hm"
    assert response.parse_error and "not a JSON object" in response.parse_error
    sent = state.requests[1][2]["messages"][1]["tool_calls"][0]  # dict arguments go out as a JSON string
    assert sent == {
        "id": "c0",
        "type": "function",
        "function": {"name": "bash", "arguments": '{"command": "pwd"}'},
    }


def test_bad_native_options() -> None:
    with pytest.raises(ConfigError, match="bad options for the openai model in native mode"):
        make_model("openai:x@http://127.0.0.1:9/v1", n_ctx=4096)


def test_unnamed_model_uses_the_first_served(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.reply(200, MODELS)
    state.reply(200, {"choices": [{"text": "ok", "finish_reason": "stop"}], "usage": {}})
    model = make_model(f"openai@{url}", mode="raw", format="hermes")
    response = model.chat([{"role": "user", "content": "hi"}])
    assert response.text == "ok" and response.model == model.name == "openai-raw:m1"
    assert state.requests[1][2]["model"] == "m1" and state.requests[1][2]["stop"] == ["<|im_end|>"]


def test_raw_mode_reads_vllm_token_ids(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.reply(200, MODELS)
    lp = {"tokens": ["token_id:5", "token_id:7"], "token_logprobs": [-1.0, -2.0]}
    state.reply(
        200,
        {
            "choices": [{"text": "hi", "finish_reason": "length", "logprobs": lp}],
            "usage": {"completion_tokens": 2},
        },
    )
    model = make_model(f"openai:m1@{url}", mode="raw", extra_body={"return_tokens_as_token_ids": True})
    response = model.chat([{"role": "user", "content": "x"}])
    assert response.completion_ids == [5, 7] and response.logprobs == [-1.0, -2.0]
    assert (
        state.requests[1][2]["return_tokens_as_token_ids"] is True and state.requests[1][2]["logprobs"] == 1
    )


def test_transient_errors_are_retried_with_backoff(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.reply(503, {"error": {"message": "loading"}})
    state.reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0.3"})
    state.reply(200, MODELS)
    client = OpenAIClient(url, retries=3, backoff=0.1)
    assert client.request("GET", "/models") == MODELS
    times = [r[3] for r in state.requests]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.1  # backoff * 2**0
    assert times[2] - times[1] >= 0.3  # the server's Retry-After wins


def test_retries_give_up_with_the_status(fake: tuple[Fake, str]) -> None:
    state, url = fake
    for _ in range(3):
        state.reply(500, {"error": {"message": "boom"}})
    with pytest.raises(ModelError, match="HTTP 500: boom") as info:
        OpenAIClient(url, retries=2, backoff=0.01).request("POST", "/completions", {})
    assert len(state.requests) == 3 and info.value.infra


@pytest.mark.parametrize(
    ("status", "body", "error", "words"),
    [
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 2048 tokens",
                    "code": "context_length_exceeded",
                }
            },
            ContextTooLongError,
            "context window",
        ),
        (
            400,
            {"object": "error", "message": "prompt is too long for max_model_len 4096", "code": 400},
            ContextTooLongError,
            "context window",
        ),
        (
            404,
            {"object": "error", "message": "The model `x` does not exist.", "code": 404},
            ModelError,
            "model not served",
        ),
        (404, "<html>Not Found</html>", ModelError, "does not exist \\(404\\)"),
        (401, {"error": {"message": "bad key"}}, ModelError, "refused the credentials"),
        (200, "not json at all", ModelError, "not JSON"),
    ],
)
def test_http_errors_are_explained(
    fake: tuple[Fake, str], status: int, body: Any, error: type, words: str
) -> None:
    state, url = fake
    state.reply(status, body)
    with pytest.raises(error, match=words) as info:
        OpenAIClient(url, retries=0).request("POST", "/completions", {"prompt": "x"})
    assert info.value.hint
    assert len(state.requests) == 1  # client errors are not retried
    if error is ContextTooLongError:
        assert not info.value.infra


def test_unserved_model_lists_what_is_served(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.reply(200, MODELS)
    with pytest.raises(ModelError, match=r"'m9' is not served .* m1, m2") as info:
        make_model(f"openai:m9@{url}").chat([{"role": "user", "content": "hi"}])
    assert f"openai:m1@{url}" in (info.value.hint or "")


def test_slow_server_times_out(fake: tuple[Fake, str]) -> None:
    state, url = fake
    state.reply(200, MODELS, delay=1.0)
    with pytest.raises(ModelError, match=r"no answer .* within 0.2 s") as info:
        OpenAIClient(url, timeout=0.2, retries=0).request("GET", "/models")
    assert "timeout" in (info.value.hint or "")


def test_server_down_says_how_to_start_one(closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/v1"
    start = time.monotonic()
    with pytest.raises(ModelError, match=r"cannot reach .*after 3 tries") as info:
        make_model(f"openai:x@{url}", retries=2, backoff=0.05).chat([{"role": "user", "content": "hi"}])
    assert time.monotonic() - start >= 0.05 + 0.1
    assert "codekiln model serve" in (info.value.hint or "") and info.value.infra


def test_unknown_mode() -> None:
    with pytest.raises(ConfigError, match="unknown openai mode"):
        make_model("openai@http://127.0.0.1:1/v1", mode="stream")


@pytest.mark.parametrize("mode", ["native", "raw"])
@pytest.mark.parametrize("body", [{}, {"choices": []}, {"error": "overloaded"}, [1]])
def test_a_reply_without_a_choice_is_the_servers_failure(
    fake: tuple[Fake, str], mode: str, body: Any
) -> None:
    # It was read as an empty answer: the episode went on with format errors and was scored as the model's.
    state, url = fake
    state.reply(200, MODELS)
    state.reply(200, body)
    with pytest.raises(ModelError, match=r"answered without a choice holding") as info:
        make_model(f"openai:m1@{url}", mode=mode).chat([{"role": "user", "content": "hi"}])
    assert info.value.infra and "not OpenAI-compatible" in (info.value.hint or "")
