"""What the guard plugin writes at the end of a session (`grading.guard_plugin`; it runs inside the
sandbox): its results file, the files' hashes and the marker line, made only with functions taken
when this module is imported, before any conftest or code under test runs.

    raw = dumps(data)                  # the results as JSON bytes (ASCII), from a plain dict
    write_file(path, raw)              # written whole; sha256_hex(raw) is what was written
    file_digest(junit_path)            # "-" when the file is absent or unreadable
    print_line("codekiln-guard ...")   # to file descriptor 1, past any Python-level stream
    failure_line(nonce, nodeid, "failed")  # a test's failure, announced as it is logged (`Announcer`)

Code under test shares the test process, and the standard library's modules are its to change:
`json.dump`, `json`'s default encoder (an instance, no function at all), `hashlib.sha256`,
`os.write`. Called through their modules at the end of the session, a replacement saw the results
before they were written and rewrote them, or rewrote the file after it was written and printed a
marker hashing the new bytes: every cross-check agreed with a forgery (a sixth red team's
`report-json-dump`, `report-encoder-swap`, `report-digest-rewrite`). Here every step is a C function
or type bound at import (the encoder is `_json`'s, the hash `_hashlib`'s or `_sha256`'s, the writes
`posix`'s), so nothing later rebinding a module attribute reaches them, and the hash printed is of
the bytes serialized here, not of the file read back.

Shipped beside the plugin as `<plugin module>_report` (`grading.shipped`); like the plugin, it
imports nothing from codekiln.
"""

from __future__ import annotations

from hashlib import sha256 as _sha256
from json import dumps as _json_dumps
from json.encoder import c_encode_basestring_ascii as _c_encode_str  # type: ignore[attr-defined]
from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
from os import O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY
from os import close as _close
from os import open as _open
from os import read as _read
from os import write as _write
from typing import Any

import pytest

_CHUNK = 1 << 20


def _refuse(obj: object) -> object:
    raise TypeError(f"the guard's results hold a {type(obj).__name__}")


def dumps(data: dict[str, object]) -> bytes:
    """`data` (plain dicts, lists, str and int) as JSON, ASCII only, with `_json`'s C encoder bound at
    import; `json.dumps` as it was at import where the interpreter has no C encoder."""
    if _c_make_encoder is None or _c_encode_str is None:
        return bytes(_json_dumps(data), "ascii")
    encode = _c_make_encoder({}, _refuse, _c_encode_str, None, ": ", ", ", False, False, False)
    return bytes("".join(encode(data, 0)), "ascii")


def sha256_hex(data: bytes) -> str:
    return _sha256(data).hexdigest()


def write_file(path: str, data: bytes) -> None:
    """Write `data` to `path` (created or truncated) through `posix` bound at import."""
    fd = _open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[_write(fd, view) :]
    finally:
        _close(fd)


def file_digest(path: str | None) -> str:
    """The sha256 of the file at `path`, read in chunks; "-" when there is none or it cannot be read."""
    if not path:
        return "-"
    try:
        fd = _open(path, O_RDONLY)
    except OSError:
        return "-"
    digest = _sha256()
    try:
        while chunk := _read(fd, _CHUNK):
            digest.update(chunk)
    except OSError:
        return "-"
    finally:
        _close(fd)
    return digest.hexdigest()


def nodeid_key(nodeid: str) -> str:
    """A test's node id as the guard's failure lines name it: 16 hex digits of its sha256 (ASCII, one
    word, whatever the id holds). `grading.guard_check.nodeid_key` is the same function."""
    return _sha256(bytes(nodeid, "utf-8", "surrogatepass")).hexdigest()[:16]


def failure_line(nonce: str, nodeid: str, status: str) -> None:
    """Announce, as it is recorded, that a test failed or errored: a line on file descriptor 1, which
    the grader reads outside the sandbox, so nothing the test process does later takes it back."""
    print_line(f"\ncodekiln-guard-failed {nonce} {status} {nodeid_key(nodeid)}\n")


def print_line(text: str) -> None:
    """`text` written to file descriptor 1 whole."""
    view = memoryview(bytes(text, "utf-8"))
    while view:
        view = view[_write(1, view) :]


def status(report: Any) -> str | None:
    """What a logged report makes of its test (the guard keeps the worst of them); None: nothing."""
    if report.when == "call":  # skipped inside the test, or an expected failure: skipped
        return "passed" if report.passed else "skipped" if report.skipped else "failed"
    if report.failed:  # setup or teardown broke
        return "error"
    return "skipped" if report.skipped and report.when == "setup" else None


class Announcer:
    """A plugin announcing each failure on file descriptor 1 as pytest logs it, before any other
    plugin sees the report (`nonce` None: a run that writes no results, nothing to announce). The
    guard's records are data that code under test can reach and rewrite (a walk of attributes from
    any module finds them), and a report flipped before the guard records it leaves them consistent
    with pytest's; a line that left the process cannot be taken back (`guard_check`)."""

    def __init__(self, nonce: str | None) -> None:
        self.nonce = nonce

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(self, report: Any) -> None:
        outcome = status(report)
        if self.nonce is not None and outcome in ("failed", "error"):
            failure_line(self.nonce, str(report.nodeid), outcome)
