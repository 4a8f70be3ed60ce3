"""`codekiln rollout --executor ray` on the real two-node local cluster (tests/conftest.py, shared with the
synth and mine tests on Ray), over the recorded real toolz tasks: each episode is a Ray task that runs
its sandboxes, model calls and grading on a node and returns a plain record; the driver alone writes.

- the same records as a local run (the oracle, through the CLI, with the per-node summary), though a
  worker is killed mid-episode: Ray retries that episode, nothing is lost or written twice;
- a served model (an OpenAI-compatible server on loopback) whose client each worker makes from the
  spec, and whose agent runs a command that needs more memory than its sandbox holds: the agent sees
  the MemoryError, the episode is graded, the worker lives.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codekiln.cli.rollout import app
from codekiln.core.executor import ExecutorConfig
from codekiln.core.records import iter_jsonl
from codekiln.rollouts import RolloutConfig, run_rollouts
from codekiln.rollouts.engine import EPISODES, ROLLOUTS
from codekiln.testing.ray_cluster import LocalRayCluster, kill_during

pytestmark = pytest.mark.root  # episodes and grading in bwrap sandboxes

UNIT = "codekiln:rollouts"  # the title of a Ray worker running an episode
VOLATILE = {"created", "started_at"}  # and every *_s duration


def steady(value: Any) -> Any:
    """A record without what differs between any two runs: when it was made and how long things took."""
    if isinstance(value, dict):
        return {k: steady(v) for k, v in value.items() if k not in VOLATILE and not k.endswith("_s")}
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def records(out: Path) -> dict[tuple[str, int], dict[str, Any]]:
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for row in iter_jsonl(out / ROLLOUTS):
        key = (row["instance_id"], row["sample"])
        assert key not in found, f"episode {key} was written twice"
        found[key] = steady(row)
    return found


def config(tasks_dir: Path, out: Path, where: ExecutorConfig | None = None, **kw: Any) -> RolloutConfig:
    return RolloutConfig.model_validate(
        {"tasks": tasks_dir, "out": out, "workers": 2, "executor": where or ExecutorConfig(), **kw}
    )


@pytest.fixture(scope="module")
def local_oracle(
    ray_cluster_starting: LocalRayCluster, tasks_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, int], dict[str, Any]]:
    """The oracle's rollouts with the local executor (while the cluster starts): what Ray must write."""
    out = tmp_path_factory.mktemp("local-oracle")
    stats = run_rollouts(config(tasks_dir, out, model="oracle"))
    assert stats.resolved == stats.graded == stats.total and set(stats.per_node) == {"local"}
    return records(out)


@pytest.fixture(scope="module")
def cluster(
    ray_cluster_starting: LocalRayCluster, local_oracle: dict[tuple[str, int], dict[str, Any]]
) -> LocalRayCluster:
    return ray_cluster_starting.ready()


def test_rollouts_on_two_nodes_write_the_records_of_a_local_run_though_a_worker_is_killed(
    cluster: LocalRayCluster,
    local_oracle: dict[tuple[str, int], dict[str, Any]],
    tasks_dir: Path,
    tmp_path: Path,
) -> None:
    argv = ["--tasks", str(tasks_dir), "--out", str(tmp_path), "--model", "oracle", "--workers", "2",
            "--executor", "ray", "--ray-address", cluster.address]  # fmt: skip
    with kill_during(cluster, UNIT) as killed:  # the first episode seen running loses its worker
        result = CliRunner().invoke(app, argv)
    assert len(killed) == 1, "no episode was seen running"
    assert result.exit_code == 0, result.output
    assert "episodes per node" in result.output and "lost" not in result.output
    assert result.output.strip().splitlines()[-1] == f"resolved: {len(local_oracle)}/{len(local_oracle)}"
    assert records(tmp_path) == local_oracle  # the killed episode was run again, and written once
    assert not list((tmp_path / EPISODES).rglob("*.partial.jsonl"))  # the driver wrote no step files


HOG = "python -c 'x = bytearray(6000 * 2**20)'"  # over the sandbox's 4096 MB per process


def _call(id_: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": id_, "type": "function", "function": function}


@contextmanager
def agent_server() -> Iterator[str]:
    """An OpenAI-compatible server on loopback whose agent runs HOG on its first turn of an episode
    and submits on the next (it counts the assistant turns in the request); yields its /v1 URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._send({"object": "list", "data": [{"id": "agent"}]})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            turn = sum(m.get("role") == "assistant" for m in request["messages"])
            call = _call("c1", "bash", {"command": HOG}) if turn == 0 else _call("c2", "submit", {})
            message = {"role": "assistant", "content": None, "tool_calls": [call]}
            self._send({"choices": [{"message": message, "finish_reason": "tool_calls"}],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 5}})  # fmt: skip

        def _send(self, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


def test_a_served_model_called_from_the_worker_and_a_command_over_its_sandbox_memory(
    cluster: LocalRayCluster, tasks_dir: Path, tmp_path: Path
) -> None:
    """The model is a URL: each worker makes its own client from the spec and calls the server."""
    runs = {}
    with agent_server() as url:
        for kind in ("local", "ray"):
            where = ExecutorConfig(kind=kind, address=cluster.address if kind == "ray" else None)
            run = config(tasks_dir, tmp_path / kind, where, model=f"openai:agent@{url}", limit=1)
            stats = run_rollouts(run)
            assert stats.errors == [] and stats.masked == 0 and stats.graded == 1
            assert set(stats.per_node) == {"local"} if kind == "local" else "local" not in stats.per_node
            runs[kind] = records(tmp_path / kind)
    assert runs["ray"] == runs["local"]
    for row in runs["ray"].values():
        hog = row["trajectory"]["steps"][0]["observations"][0]
        assert not hog["ok"] and "MemoryError" in hog["text"]
        assert row["trajectory"]["exit_reason"] == "submitted"
        assert row["grade"]["outcome"] == "unresolved" and not row["reward"]["masked"]
