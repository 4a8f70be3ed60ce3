"""A stand-in OpenAI-compatible server for the model-written bug tests: it answers /v1/chat/completions
with the output a test scripted for the function named in the prompt, optionally slowly, counts the
requests in flight, and can go down (drop every connection) and come back. Imported by the tests (not a
conftest)."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from codekiln.tasks.frontend.entities import Entity

_DEF_RE = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)", re.M)


def fenced(code: str, change: str = "changed it") -> str:
    """A model's answer: the code in a python block, then the Change line."""
    return f"Here is the function.\n```python\n{code.rstrip()}\n```\nChange: {change}\n"


def asked_function(user: str) -> tuple[str, str]:
    """(strategy, function name) a prompt asks for: the function is the last code block's first def;
    ("statement", "") for a request to write an issue."""
    if "issue report" in user:
        return "statement", ""
    block = user.rsplit("```python", 1)[-1]
    m = _DEF_RE.search(block)
    strategy = "lm_rewrite" if "Implement this function" in user else "lm_modify"
    return strategy, m.group(1) if m else ""


class FakeServer:
    """Serves `answer(strategy, function)` as chat completions on a free localhost port."""

    def __init__(self, answer: Callable[[str, str], str], *, delay: float = 0.0, up_for: int | None = None):
        self.answer = answer
        self.delay = delay
        self.up_for = up_for
        """Answer this many completions, then drop every connection (down) until `up_for` is raised."""
        self.lock = threading.Lock()
        self.inflight = 0
        self.max_inflight = 0
        self.answered: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._send({"data": [{"id": "fake"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                with server.lock:
                    if server.up_for is not None and len(server.answered) >= server.up_for:
                        self.close_connection = True  # down: no answer at all
                        return
                    server.inflight += 1
                    server.max_inflight = max(server.max_inflight, server.inflight)
                try:
                    time.sleep(server.delay)
                    user = body["messages"][-1]["content"]
                    strategy, name = asked_function(user)
                    text = server.answer(strategy, name)
                    with server.lock:
                        server.answered.append((strategy, name))
                    self._send(
                        {
                            "choices": [
                                {"message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                            ],
                            "usage": {"prompt_tokens": len(user) // 4, "completion_tokens": len(text) // 4},
                        }
                    )
                finally:
                    with server.lock:
                        server.inflight -= 1

            def _send(self, obj: object) -> None:
                data = json.dumps(obj).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:
                return None

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @contextmanager
    def running(self) -> Iterator[FakeServer]:
        thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


def toolz_answers(entities: dict[str, Entity]) -> dict[tuple[str, str], str]:
    """Scripted answers for toolz 1.2.0's itertoolz, one per path of the cheap checks and beyond:
    a good bug (take), a no-op rewrite (first), unparsable output (second), a signature change (nth),
    and a rewrite that changes behaviour (take: drops one element)."""
    take, first, nth = entities["take"].code, entities["first"].code, entities["nth"].code
    return {
        ("lm_modify", "take"): fenced(
            take.replace("islice(seq, n)", "islice(seq, n + 1)"), "one element too many"
        ),
        ("lm_rewrite", "take"): fenced(
            take.replace("return itertools.islice(seq, n)", "return itertools.islice(seq, 1, n)")
        ),
        ("lm_modify", "first"): fenced(
            first.replace("    return next(iter(seq))", "    return next(iter(seq))  # same")
        ),
        ("lm_rewrite", "first"): fenced(first),
        ("lm_modify", "second"): "```python\ndef second(seq:\n    return seq[1]\n```",
        ("lm_rewrite", "second"): "I cannot help with that.",
        ("lm_modify", "nth"): fenced(nth.replace("def nth(n, seq):", "def nth(n, seq, default=None):")),
        ("lm_rewrite", "nth"): fenced(nth),
    }


TOOLZ_FUNCTIONS = [f"toolz/itertoolz.py::{name}" for name in ("take", "first", "second", "nth")]
