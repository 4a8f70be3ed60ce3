"""Run programs on inputs, fast and sandboxed: one persistent worker per `Runner`, a cache per (program, input).

    with Runner() as runner:                               # bwrap where it works, else the named backend
        out = runner.run([program], ["(1, 2)", "(3, 4)"])  # {(program.key, "(1, 2)"): "3", ...}

The worker (`exec_worker.py`, run by the sandbox's Python) is started once and answers batches of
programs x inputs over a pipe, so a batch costs one round trip, not a process start per call. Limits
per call: `timeout_s` of wall time and `memory_mb` of address space (see `exec_worker`); the sandbox
adds its own isolation (bwrap: no network, read-only filesystem, an unprivileged uid). Outputs are
normalised texts; errors are texts starting with "!" (`!timeout`, `!memory`, `!crash`, `!raise:Name`,
`!load:Name`). `executions` counts the calls that really ran (cache misses); the cache can be
persisted as JSONL (`cache_path`) so a resumed run never runs a call twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codekiln.core.errors import SandboxError
from codekiln.core.protocols import Limits, Sandbox
from codekiln.core.records import append_jsonl, iter_jsonl
from codekiln.sandbox import SandboxSpec, open_sandbox
from codekiln.sandbox.common import HostSandbox, Spawned

WORKER = Path(__file__).with_name("exec_worker.py")
REQUEST_SLACK_S = 30.0


@dataclass(frozen=True)
class Program:
    """Code defining `entry` (a function); `key` names it in caches and records."""

    code: str
    entry: str

    @property
    def key(self) -> str:
        return hashlib.sha256(f"{self.entry}\0{self.code}".encode()).hexdigest()[:16]


def default_backend() -> str:
    """bwrap when it can run here, else local (tests without root; no isolation)."""
    from codekiln.sandbox.bwrap import problem

    return "bwrap" if problem() is None else "local"


def _worker_snapshot() -> Path:
    """A one-commit git repository holding the worker script: what a sandbox opens on."""
    root = Path(tempfile.mkdtemp(prefix="codekiln-verify-"))
    shutil.copy(WORKER, root / "exec_worker.py")
    env = {"PATH": os.environ.get("PATH", ""), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    env |= {"GIT_AUTHOR_NAME": "codekiln", "GIT_AUTHOR_EMAIL": "codekiln@localhost"}
    env |= {"GIT_COMMITTER_NAME": "codekiln", "GIT_COMMITTER_EMAIL": "codekiln@localhost"}
    for argv in (
        ["git", "init", "-q", "-b", "main"],
        ["git", "add", "-A"],
        ["git", "commit", "-q", "-m", "worker"],
    ):
        subprocess.run(argv, cwd=root, env=env, check=True, capture_output=True, timeout=60)
    return root


class Runner:
    """A sandbox running the execution worker, plus the (program, input) -> output cache."""

    def __init__(
        self,
        *,
        backend: str | None = None,
        timeout_s: float = 1.0,
        memory_mb: int = 512,
        cache_path: Path | None = None,
    ) -> None:
        self.backend = backend or default_backend()
        self.timeout_s, self.memory_mb = timeout_s, memory_mb
        self.cache: dict[tuple[str, str], str] = {}
        self.cache_path = cache_path
        self.executions = 0
        self.lookups = 0
        if cache_path is not None:
            for row in iter_jsonl(cache_path):
                self.cache[(row["p"], row["i"])] = row["o"]
        self._snapshot = _worker_snapshot()
        limits = Limits(timeout_s=None, memory_mb=max(4096, memory_mb * 2), max_procs=128)
        self._sandbox: Sandbox | None = None
        self._worker: Spawned | None = None
        self._spec = SandboxSpec(snapshot=self._snapshot, limits=limits)

    def _python(self) -> str:
        return str(Path(sys.base_prefix) / "bin" / "python3")

    def _start(self) -> Spawned:
        if self._worker is None or self._worker.process.poll() is not None:
            if self._sandbox is None:
                self._sandbox = open_sandbox(self._spec, self.backend)
            sandbox = self._sandbox
            if not isinstance(sandbox, HostSandbox):
                raise SandboxError(
                    f"the {self.backend} backend cannot keep a worker running",
                    hint="use --sandbox bwrap (or local for debugging)",
                )
            script = f"{sandbox.workdir}/exec_worker.py"
            self._worker = sandbox.spawn([self._python(), "-I", "-S", script])
        return self._worker

    def _request(self, payload: dict[str, Any]) -> list[str]:
        worker = self._start()
        assert worker.process.stdin is not None and worker.process.stdout is not None
        n_calls = len(payload["calls"])
        budget = REQUEST_SLACK_S + n_calls * (self.timeout_s + 1.0)
        try:
            worker.process.stdin.write((json.dumps(payload) + "\n").encode())
            worker.process.stdin.flush()
            ready, _, _ = select.select([worker.process.stdout], [], [], budget)
            line = worker.process.stdout.readline() if ready else b""
        except OSError:
            line = b""
        if not line:
            worker.kill()
            self._worker = None
            raise SandboxError(
                f"the execution worker stopped answering ({n_calls} calls, {budget:.0f} s allowed)",
                hint="check that the sandbox backend works: codekiln env test, or pass --sandbox local to debug",
            )
        reply = json.loads(line)
        if "error" in reply:
            raise SandboxError(f"the execution worker refused a request: {reply['error']}")
        outputs: list[str] = reply["outputs"]
        return outputs

    def run(self, programs: Iterable[Program], inputs: Iterable[str]) -> dict[tuple[str, str], str]:
        """Outputs of every program on every input, as {(program.key, input): output}."""
        progs = {p.key: p for p in programs}
        wanted = list(dict.fromkeys(inputs))
        result: dict[tuple[str, str], str] = {}
        calls: list[list[str]] = []
        for key in progs:
            for text in wanted:
                self.lookups += 1
                hit = self.cache.get((key, text))
                if hit is None:
                    calls.append([key, text])
                else:
                    result[(key, text)] = hit
        if calls:
            used = {key for key, _ in calls}
            payload = {
                "programs": {k: {"code": progs[k].code, "entry": progs[k].entry} for k in used},
                "calls": calls,
                "timeout_s": self.timeout_s,
                "memory_mb": self.memory_mb,
            }
            outputs = self._request(payload)
            self.executions += len(calls)
            fresh = {(key, text): out for (key, text), out in zip(calls, outputs, strict=True)}
            self.cache.update(fresh)
            result.update(fresh)
            if self.cache_path is not None:
                append_jsonl(self.cache_path, ({"p": k, "i": i, "o": o} for (k, i), o in fresh.items()))
        return result

    def close(self) -> None:
        if self._worker is not None:
            self._worker.kill()
            self._worker = None
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        shutil.rmtree(self._snapshot, ignore_errors=True)

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
