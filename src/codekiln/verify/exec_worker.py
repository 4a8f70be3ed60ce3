"""The in-sandbox execution worker: runs many programs x many inputs per process start.

Copied into the sandbox by file path and run with the sandbox's Python; it imports nothing from
codekiln. It reads one JSON request per line on stdin and answers one JSON line on stdout:

    {"programs": {"<key>": {"code": "...", "entry": "f"}}, "calls": [["<key>", "(1, [2])"], ...],
     "timeout_s": 1.0, "memory_mb": 512}
    -> {"outputs": ["3", "!raise:ValueError", "!timeout", ...]}        # one per call, in order

An input is the `repr` of the argument tuple (Python literals only: `ast.literal_eval` reads it afresh
for every call, so a program that mutates its arguments cannot leak into the next call). Each program
runs in its own forked child: a fresh namespace, its own address-space limit (`memory_mb`), its stdout
and stderr sent to /dev/null. Per call, SIGALRM interrupts Python code after `timeout_s`; a call stuck
in C code (no bytecode boundary) is caught by the parent, which kills the child after the same limit
plus a grace period, records `!timeout`, and forks a fresh child for the calls left. A program that
has timed out on `STRIKES` calls of a request is not run on the rest of that request's inputs: they
are recorded `!timeout` too (a hanging candidate would otherwise cost its limit on every input). A child that dies
(os._exit, a segfault) records `!crash` for the call it was on. Outputs are normalised (`normalise`).
"""

from __future__ import annotations

import ast
import json
import math
import os
import resource
import select
import signal
import sys
import time
from typing import Any

GRACE_S = 0.5
STRIKES = 3


class _CallTimeout(BaseException):
    """Raised by SIGALRM inside a call (a BaseException so candidate code's `except Exception` misses it)."""


def _alarm(signum: int, frame: object) -> None:
    raise _CallTimeout


def _norm(value: Any, depth: int = 0) -> Any:
    if depth > 50:
        return "<deep>"
    if isinstance(value, bool) or value is None or isinstance(value, str | bytes):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return repr(value)
        if value.is_integer() and abs(value) < 1e15:
            return int(value)
        return float(f"{value:.6g}")
    if isinstance(value, list):
        return [_norm(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return tuple(_norm(v, depth + 1) for v in value)
    if isinstance(value, set | frozenset):
        return ("<set>", sorted(repr(_norm(v, depth + 1)) for v in value))
    if isinstance(value, dict):
        return (
            "<dict>",
            sorted((repr(_norm(k, depth + 1)), repr(_norm(v, depth + 1))) for k, v in value.items()),
        )
    return f"<{type(value).__name__}>"


def normalise(value: Any) -> str:
    """A canonical text for a returned value: floats to 6 significant digits (integral floats as ints),
    sets and dicts in sorted order, other objects by type name only (their repr may hold addresses).
    Tuples and lists stay distinct, as `==` keeps them."""
    text = repr(_norm(value))
    return text if len(text) <= 4000 else text[:4000] + "...<cut>"


def _child(code: str, entry: str, inputs: list[str], out_fd: int, timeout_s: float, memory_mb: int) -> None:
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    if memory_mb:
        limit = memory_mb << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGALRM, _alarm)

    def emit(text: str) -> None:
        os.write(out_fd, (json.dumps(text) + "\n").encode())

    namespace: dict[str, Any] = {"__name__": "__candidate__"}
    try:
        exec(compile(code, "<candidate>", "exec"), namespace)
        func = namespace[entry]
    except BaseException as err:
        for _ in inputs:
            emit(f"!load:{type(err).__name__}")
        os._exit(0)
    strikes = 0
    for text in inputs:
        if strikes >= STRIKES:
            emit("!timeout")
            continue
        try:
            args = ast.literal_eval(text)
            signal.setitimer(signal.ITIMER_REAL, timeout_s)
            try:
                result = func(*args)
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            out = normalise(result)
        except _CallTimeout:
            out = "!timeout"
            strikes += 1
        except MemoryError:
            out = "!memory"
        except BaseException as err:
            out = f"!raise:{type(err).__name__}"
        emit(out)
    os._exit(0)


def _run_program(code: str, entry: str, inputs: list[str], timeout_s: float, memory_mb: int) -> list[str]:
    outputs: list[str] = []
    while len(outputs) < len(inputs):
        if outputs.count("!timeout") >= STRIKES:  # a program that hangs: do not pay for every input
            outputs += ["!timeout"] * (len(inputs) - len(outputs))
            break
        todo = inputs[len(outputs) :]
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(read_fd)
            _child(code, entry, todo, write_fd, timeout_s, memory_mb)
        os.close(write_fd)
        buf = b""
        got = 0
        deadline = time.monotonic() + timeout_s + GRACE_S + 1.0  # the first call also pays the load
        ended = None
        while got < len(todo):
            left = deadline - time.monotonic()
            ready, _, _ = select.select([read_fd], [], [], max(0.0, left))
            if not ready:
                ended = "!timeout"
                break
            chunk = os.read(read_fd, 65536)
            if not chunk:
                ended = "!crash"
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                outputs.append(json.loads(line))
                got += 1
                deadline = time.monotonic() + timeout_s + GRACE_S
        if ended is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            outputs.append(ended)
        os.close(read_fd)
        os.waitpid(pid, 0)
    return outputs


def handle(request: dict[str, Any]) -> dict[str, Any]:
    """Run one request's calls; outputs in call order."""
    programs = request["programs"]
    timeout_s = float(request.get("timeout_s", 1.0))
    memory_mb = int(request.get("memory_mb", 512))
    by_program: dict[str, list[int]] = {}
    for i, (key, _text) in enumerate(request["calls"]):
        by_program.setdefault(key, []).append(i)
    outputs = [""] * len(request["calls"])
    for key, indices in by_program.items():
        program = programs[key]
        inputs = [request["calls"][i][1] for i in indices]
        results = _run_program(program["code"], program["entry"], inputs, timeout_s, memory_mb)
        for i, out in zip(indices, results, strict=True):
            outputs[i] = out
    return {"outputs": outputs}


def main() -> None:
    sys.setrecursionlimit(10000)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as err:  # a malformed request: say so, keep serving
            reply = {"error": f"{type(err).__name__}: {err}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
