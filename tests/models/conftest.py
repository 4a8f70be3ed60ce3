"""Fixtures for the model tests: the embedded GGUF, a real llama-cpp-python OpenAI server, a free port."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from codekiln.core.proc import kill_group

SERVER_CTX = 2048
SERVER_ALIAS = "smollm2"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def free_port() -> int:
    """A localhost port nothing listens on (at the time of asking), for a server the test starts."""
    return _free_port()


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A localhost port where a connection is refused for the whole test: bound, so no other process
    can start listening there meanwhile (a port that was only free when asked can be), never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def gguf() -> Path:
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (the embedded extra)")
    from codekiln.models.embedded import embedded_gguf

    return embedded_gguf()


@pytest.fixture(scope="session")
def llama_server(gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m llama_cpp.server` on the embedded GGUF, on a free localhost port; yields the base URL.

    It uses llama-cpp-python's `chatml-function-calling` chat format, so native mode gets real tool calls.
    """
    pytest.importorskip("uvicorn", reason="needs llama-cpp-python[server]")
    port = _free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--n_ctx", str(SERVER_CTX), "--model_alias", SERVER_ALIAS]
    argv += ["--chat_format", "chatml-function-calling", "--verbose", "False"]
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                    if json.loads(resp.read()).get("data"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer /v1/models within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        kill_group(proc)
        proc.wait(timeout=10)
