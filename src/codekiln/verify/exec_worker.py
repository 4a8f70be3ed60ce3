"""The in-sandbox execution worker: runs many programs x many inputs per process start.

Copied into the sandbox by file path and run with the sandbox's Python; it imports nothing from
codekiln. It reads one JSON request per line on stdin and answers one JSON line on stdout:

    {"programs": {"<key>": {"code": "...", "entry": "f"}}, "calls": [["<key>", "(1, [2])"], ...],
     "timeout_s": 1.0, "memory_mb": 512}
    -> {"outputs": ["3", "!raise:ValueError", "!timeout", ...]}        # one per call, in order

An input is the `repr` of the argument tuple (Python literals only: `ast.literal_eval` reads it afresh
for every call, so a program that mutates its arguments cannot leak into the next call). Each program
runs in its own forked child: its own namespace, its own address-space limit (`memory_mb`), its stdout
and stderr sent to /dev/null. The child stays alive across requests (up to `MAX_LIVE` programs, least
recently used ones ended first), so a search that sends a few inputs at a time pays for no fork or
compile: a program's module-level state persists from one of its calls to the next, as it would
in one test run. Per call, SIGALRM interrupts Python code after `timeout_s`; a call stuck in C code
(no bytecode boundary) is caught by the parent, which kills the child after the same limit plus a
grace period, records `!timeout`, and starts a fresh child for the calls left. A program that has
timed out on `STRIKES` calls (over the worker's life) is not run again: its later calls are
recorded `!timeout` too (a hanging candidate would otherwise cost its limit on every input, and a
search sends it many small batches). A child that dies
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


def _child(code: str, entry: str, in_fd: int, out_fd: int, memory_mb: int) -> None:
    """A program's process: load it once, then answer batches (one JSON line [timeout_s, inputs])
    with one JSON line per input, until its pipe closes."""
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
    load_error = None
    try:
        exec(compile(code, "<candidate>", "exec"), namespace)
        func = namespace[entry]
    except BaseException as err:
        load_error = f"!load:{type(err).__name__}"
    with os.fdopen(in_fd, "rb") as requests:
        for line in requests:
            timeout_s, strikes, inputs = json.loads(line)
            for text in inputs:
                if load_error or strikes >= STRIKES:
                    emit(load_error or "!timeout")
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


class _Program:
    """A live child process holding one loaded program."""

    def __init__(self, code: str, entry: str, memory_mb: int) -> None:
        to_child, self._child_in = os.pipe()
        self._out, from_child = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._child_in)
            os.close(self._out)
            for other in list(_LIVE.values()):  # the parent's pipes to other programs are not ours
                other.close_fds()
            _child(code, entry, to_child, from_child, memory_mb)
        os.close(to_child)
        os.close(from_child)
        self._buf = b""

    def close_fds(self) -> None:
        for fd in (self._child_in, self._out):
            try:
                os.close(fd)
            except OSError:
                pass

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.close_fds()
        os.waitpid(self.pid, 0)

    def run(self, inputs: list[str], timeout_s: float, strikes: int) -> tuple[list[str], str | None]:
        """Outputs of a batch, and why it stopped early ("!timeout", "!crash") or None."""
        os.write(self._child_in, (json.dumps([timeout_s, strikes, inputs]) + "\n").encode())
        outputs: list[str] = []
        deadline = time.monotonic() + timeout_s + GRACE_S + 1.0  # the first call may also pay the load
        while len(outputs) < len(inputs):
            while b"\n" in self._buf and len(outputs) < len(inputs):
                line, self._buf = self._buf.split(b"\n", 1)
                outputs.append(json.loads(line))
                deadline = time.monotonic() + timeout_s + GRACE_S
            if len(outputs) == len(inputs):
                break
            ready, _, _ = select.select([self._out], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                return outputs, "!timeout"
            chunk = os.read(self._out, 65536)
            if not chunk:
                return outputs, "!crash"
            self._buf += chunk
        return outputs, None


_LIVE: dict[str, _Program] = {}
MAX_LIVE = 24  # well under the sandbox's process limit (Runner asks for 128)
_STRUCK: dict[str, int] = {}  # program key -> timeouts so far, over the worker's life


def _run_program(
    key: str, code: str, entry: str, inputs: list[str], timeout_s: float, memory_mb: int
) -> list[str]:
    outputs: list[str] = []
    while len(outputs) < len(inputs):
        struck = _STRUCK.get(key, 0) + outputs.count("!timeout")
        if struck >= STRIKES:  # a program that hangs: do not pay for every input
            outputs += ["!timeout"] * (len(inputs) - len(outputs))
            break
        program = _LIVE.pop(key, None)
        if program is None:
            if len(_LIVE) >= MAX_LIVE:  # the least recently used goes
                _LIVE.pop(next(iter(_LIVE))).kill()
            try:
                program = _Program(code, entry, memory_mb)
            except BlockingIOError:  # the process limit: end every live program, then try once more
                while _LIVE:
                    _LIVE.pop(next(iter(_LIVE))).kill()
                program = _Program(code, entry, memory_mb)
        try:
            done, ended = program.run(inputs[len(outputs) :], timeout_s, struck)
        except BrokenPipeError:
            done, ended = [], "!crash"
        outputs += done
        if ended is None:
            _LIVE[key] = program  # most recently used last
        else:
            program.kill()
            outputs.append(ended)
    _STRUCK[key] = _STRUCK.get(key, 0) + outputs.count("!timeout")
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
        results = _run_program(key, program["code"], program["entry"], inputs, timeout_s, memory_mb)
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
