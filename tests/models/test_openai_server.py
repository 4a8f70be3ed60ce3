"""The openai backend against a real server: llama-cpp-python's, serving the embedded GGUF on localhost."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.core.errors import ContextTooLongError, ModelError
from codekiln.core.proc import kill_group
from codekiln.models import make_model
from codekiln.models.embedded import EmbeddedModel

pytestmark = pytest.mark.model

SERVER_ALIAS, SERVER_CTX = "smollm2", 2048  # as the llama_server fixture starts it

BASH = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a shell command and return its output.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
}
MESSAGES = [
    {"role": "system", "content": "You are a coding agent. Use the tools."},
    {"role": "user", "content": "List the files in the current directory."},
]


def test_native_mode_returns_server_parsed_tool_calls(llama_server: str) -> None:
    forced = {"type": "function", "function": {"name": "bash"}}
    model = make_model(f"openai:{SERVER_ALIAS}@{llama_server}", tool_choice=forced, max_tokens=48)
    response = model.chat(MESSAGES, [BASH])
    assert response.format is None and response.parse_error is None
    [call] = response.tool_calls
    assert call["name"] == "bash" and isinstance(call["arguments"].get("command"), str)
    assert response.message["tool_calls"][0]["type"] == "function"
    assert response.finish_reason == "tool_calls"
    assert response.usage.prompt_tokens > 0 and response.usage.completion_tokens > 0


def test_native_mode_plain_chat_has_usage_and_logprobs(llama_server: str) -> None:
    model = make_model(f"openai:{SERVER_ALIAS}@{llama_server}", max_tokens=12, temperature=0.0)
    response = model.chat([{"role": "user", "content": "Say hello."}])
    assert response.text and response.message["tool_calls"] == []
    assert response.usage.completion_tokens > 0
    assert response.logprobs is not None and len(response.logprobs) == response.usage.completion_tokens
    assert all(lp <= 0 for lp in response.logprobs)


def test_raw_mode_renders_and_parses_like_the_embedded_model(llama_server: str) -> None:
    """Same GGUF, same prompt, greedy: the server's completion is the in-process model's completion."""
    plain = {
        "repeat_penalty": 1.0
    }  # llama-cpp-python's server penalizes repeats by default; codekiln does not
    remote = make_model(
        f"openai:{SERVER_ALIAS}@{llama_server}", mode="raw", format="hermes", max_tokens=24, extra_body=plain
    )
    local = EmbeddedModel(format="hermes", n_ctx=SERVER_CTX, max_tokens=24)
    got, want = remote.chat(MESSAGES, [BASH]), local.chat(MESSAGES, [BASH])
    assert got.text == want.text
    assert got.usage.prompt_tokens == len(local.tokenize(local.render(MESSAGES, [BASH])))
    assert got.usage.completion_tokens == want.usage.completion_tokens
    assert got.logprobs is not None and len(got.logprobs) == got.usage.completion_tokens
    assert got.logprobs == pytest.approx(want.logprobs, abs=1e-3)
    assert got.format == "hermes" and got.message == want.message and got.parse_error == want.parse_error


def test_unserved_model_name(llama_server: str) -> None:
    with pytest.raises(ModelError, match=f"'gpt-9' is not served .*{SERVER_ALIAS}") as info:
        make_model(f"openai:gpt-9@{llama_server}").chat(MESSAGES)
    assert f"openai:{SERVER_ALIAS}@" in (info.value.hint or "")


@pytest.mark.parametrize("mode", ["native", "raw"])
def test_too_long_context(llama_server: str, mode: str) -> None:
    huge = [{"role": "user", "content": "word " * (SERVER_CTX * 2)}]
    model = make_model(f"openai:{SERVER_ALIAS}@{llama_server}", mode=mode, max_tokens=8)
    with pytest.raises(ContextTooLongError, match="context window") as info:
        model.chat(huge)
    assert not info.value.infra and "n_ctx" in (info.value.hint or "")


def test_server_down(closed_port: int) -> None:
    model = make_model(f"openai:{SERVER_ALIAS}@http://127.0.0.1:{closed_port}/v1", retries=1, backoff=0.01)
    with pytest.raises(ModelError, match="cannot reach") as info:
        model.chat(MESSAGES)
    assert "codekiln model serve" in (info.value.hint or "")


def test_model_serve_command(gguf: Path, free_port: int, tmp_path: Path) -> None:
    """`codekiln model serve` starts the embedded model's server; the openai backend talks to it."""
    code = "from codekiln.cli.models import app; app()"
    argv = [
        sys.executable,
        "-c",
        code,
        "serve",
        "--port",
        str(free_port),
        "--n-ctx",
        "512",
        "--alias",
        "tiny",
    ]
    with (tmp_path / "serve.log").open("wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        model = make_model(
            f"openai:tiny@http://127.0.0.1:{free_port}/v1", retries=8, backoff=0.5, max_tokens=4
        )
        response = model.chat([{"role": "user", "content": "Hi"}])
        assert response.usage.completion_tokens > 0 and response.model == "openai:tiny"
    finally:
        kill_group(proc)
        proc.wait(timeout=10)
    assert "serving SmolLM2-135M-Instruct.Q4_1.gguf as 'tiny'" in (tmp_path / "serve.log").read_text()
