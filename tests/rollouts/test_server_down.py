"""`codekiln rollout` against an OpenAI-compatible server that is down: the real CLI probes the endpoint
before the first episode, and stops a run whose every episode failed for the same infrastructure cause
(it used to mask every episode and exit 0 after the whole run)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from codekiln.core.records import append_jsonl
from codekiln.envs import build_env
from codekiln.rewards import Reward
from codekiln.rollouts.infra import STREAK, infra_stop_cause
from codekiln.rollouts.records import Rollout
from codekiln.tasks.records import TaskRecord


def _codekiln(*argv: str) -> subprocess.CompletedProcess[str]:
    code = "import sys; from codekiln.cli import main; sys.argv[0] = 'codekiln'; main()"
    return subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=300, env=dict(os.environ)
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends: nothing listens there


def _tasks(path: Path, environment_id: str) -> Path:
    task = TaskRecord(
        instance_id="tiny__1", repo="tiny", base_commit="0" * 40, patch="", FAIL_TO_PASS=["tests/test_tiny.py::test_ok"],
        environment_id=environment_id,
    )  # fmt: skip
    append_jsonl(path, [task])
    return path


def test_a_closed_port_is_refused_before_the_first_episode(tmp_path: Path) -> None:
    port = _closed_port()
    tasks = _tasks(tmp_path / "tasks.jsonl", "0" * 16)
    url = f"http://127.0.0.1:{port}/v1"
    res = _codekiln("rollout", "-t", str(tasks), "-o", str(tmp_path / "run"), "-m", f"openai:m@{url}",
                    "--option", "retries=0")  # fmt: skip
    assert res.returncode == 1, res.stdout + res.stderr
    assert (
        f"error: model 'openai:m@{url}' failed its check before the first episode: cannot reach {url}/models"
        in res.stderr
    )
    assert "python -m llama_cpp.server" in res.stderr
    assert not (tmp_path / "run" / "rollouts.jsonl").exists()


class _ModelsOnce(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps({"data": [{"id": "m"}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.mark.root  # builds an environment in bwrap sandboxes
def test_a_server_that_dies_after_the_probe_stops_the_run(tmp_path: Path) -> None:
    root = tmp_path / "tiny"
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / "__init__.py").write_text("VALUE = 1\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_tiny.py").write_text(
        "from tiny import VALUE\n\n\ndef test_ok():\n    assert VALUE == 1\n"
    )
    (root / "pyproject.toml").write_text('[project]\nname = "tiny-rollout"\nversion = "0.1"\n')
    env = build_env(str(root))
    tasks = _tasks(tmp_path / "tasks.jsonl", env.id)
    server = HTTPServer(("127.0.0.1", 0), _ModelsOnce)
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"

    def serve_once() -> None:  # answers the probe, then the port is closed: the server "went down"
        server.handle_request()
        server.server_close()

    thread = threading.Thread(target=serve_once, daemon=True)
    thread.start()
    out = tmp_path / "run"
    res = _codekiln("rollout", "-t", str(tasks), "-o", str(out), "-m", f"openai:m@{url}", "-n", "6",
                    "--option", "retries=0")  # fmt: skip
    thread.join(5)
    assert res.returncode == 1, res.stdout + res.stderr
    assert (
        f"error: stopped: all {STREAK} episodes of this run so far failed for the same infrastructure reason"
        in res.stderr
    )
    assert f"cannot reach {url}/chat/completions" in res.stderr
    assert "start the model server" in res.stderr
    assert not (out / "rollouts.jsonl").exists()  # nothing scored: the rerun after the fix redoes them


def _rollout(sample: int, reason: str) -> Rollout:
    reward = Reward(value=None, masked=True, mask_reason=reason) if reason else Reward(value=1.0)
    return Rollout(instance_id="t", sample=sample, seed=0, model="m", scaffold="swe", reward=reward)


def test_the_stop_rule() -> None:
    down = "model_error: cannot reach http://127.0.0.1:9/v1/chat/completions"
    same = [_rollout(i, down) for i in range(STREAK)]
    assert infra_stop_cause(same[:-1]) is None  # not enough yet
    assert infra_stop_cause(same) == down
    assert infra_stop_cause(same[:1], ended=True) == down  # every episode of a short run
    assert infra_stop_cause([*same[:2], _rollout(2, "sandbox_error: x")]) is None
    assert infra_stop_cause([_rollout(0, ""), *same]) is None  # one episode worked
    assert infra_stop_cause([], ended=True) is None
