"""What the guard plugin writes at the end of a session (`grading.guard_plugin`; it runs inside the
sandbox): its results file, the files' hashes and the marker line, made only with functions taken
when this module is imported, before any conftest or code under test runs.

    finish(path, data, junit_path)     # the results written, then the marker (what follows, in order):
    raw = dumps(data)                  # the results as JSON bytes (ASCII), from a plain dict
    write_file(path, raw)              # written whole; sha256_hex(raw) is what was written
    file_digest(junit_path)            # "-" when the file is absent, unreadable or not a regular file
    print_line("codekiln-guard ...")   # to the file descriptor 1 held at import, past any Python-level stream
    announcer(nonce)                   # a plugin announcing each failure as it is logged
    clear_paths([junit, out])          # evidence of a link or FIFO at a report path, removed
    end_with(status)                   # the process ends at exit whatever threads are left

Code under test can find the guard's folder and put a symlink to `/dev/zero` (or a FIFO) at its report
files: a reader or a writer that follows it never ends. The guard opens them with `O_NOFOLLOW` and
`O_NONBLOCK` and reads or writes only a regular file; whatever else is there is evidence and removed.
A non-daemon thread left running after the tests kept the interpreter from exiting: once pytest's main
has returned (its exit status final, every line printed), the process ends with that status.

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

import sys
import threading
from collections.abc import Callable, Iterable
from hashlib import sha256 as _sha256
from json import dumps as _json_dumps
from json.encoder import c_encode_basestring_ascii as _c_encode_str  # type: ignore[attr-defined]
from json.encoder import c_make_encoder as _c_make_encoder  # type: ignore[attr-defined]
from os import O_CREAT, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_TRUNC, O_WRONLY, _exit
from os import close as _close
from os import fstat as _fstat
from os import listdir as _listdir
from os import lstat as _lstat
from os import open as _open
from os import read as _read
from os import unlink as _unlink
from os import write as _write
from stat import S_ISLNK, S_ISREG
from sys import addaudithook as _addaudithook
from threading import enumerate as _threads
from threading import main_thread as _main_thread
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


_NOT_FOLLOWED = O_NOFOLLOW | O_NONBLOCK  # a symlink at the path fails the open; a FIFO does not block it


def _regular(fd: int) -> bool:
    try:
        return S_ISREG(_fstat(fd).st_mode)
    except OSError:
        return False


def write_file(path: str, data: bytes) -> None:
    """Write `data` to `path` (created or truncated) through `posix` bound at import; OSError where a
    symlink or anything but a regular file is at `path` (nothing written through it)."""
    fd = _open(path, O_WRONLY | O_CREAT | O_TRUNC | _NOT_FOLLOWED, 0o644)
    try:
        if not _regular(fd):
            raise OSError(f"{path} is not a regular file")
        view = memoryview(data)
        while view:
            view = view[_write(fd, view) :]
    finally:
        _close(fd)


def changed_since(read: dict[str, bytes], digests: dict[str, str]) -> list[str]:
    """The test files whose bytes as the guard read them (`read`: path -> bytes; a missing one: none)
    differ from the grader's digests of them, taken outside this process before it started (`digests`:
    path -> sha256 hex): changed by code run before the guard (the process's start-up), findings."""
    changed = [path for path, digest in digests.items() if sha256_hex(read.get(path, b"")) != digest]
    return [f"{path}: the test file was changed before the guard read it" for path in sorted(changed)]


def file_digest(path: str | None) -> str:
    """The sha256 of the file at `path`, read in chunks; "-" when there is none, it cannot be read, or
    it is not a regular file (a symlink is not followed: one to /dev/zero never ends)."""
    if not path:
        return "-"
    try:
        fd = _open(path, O_RDONLY | _NOT_FOLLOWED)
    except OSError:
        return "-"
    digest = _sha256()
    try:
        if not _regular(fd):
            return "-"
        while chunk := _read(fd, _CHUNK):
            digest.update(chunk)
    except OSError:
        return "-"
    finally:
        _close(fd)
    return digest.hexdigest()


def finish(out: str, data: dict[str, object], junit: str | None) -> None:
    """The session's results written to `out`, then the marker line: serialized, written, hashed and
    printed with functions bound at import, so the hash printed is of these bytes, whatever the
    standard library's modules hold by now."""
    raw = dumps(data)
    write_file(out, raw)
    print_line(
        f"\ncodekiln-guard {data['nonce']} exit={data['exitstatus']} "
        f"results={sha256_hex(raw)} junit={file_digest(junit)}\n"
    )


CLEARED: list[str] = []
"""What `clear_paths` found at the report paths (the guard's evidence)."""


def clear_paths(paths: list[str | None]) -> list[str]:
    """Of the guard's report `paths`, those that hold anything but a regular file (a symlink, a FIFO):
    each is removed, so that nothing writes or reads through it, and named in `CLEARED` (returned)."""
    for path in paths:
        try:
            mode = _lstat(path).st_mode if path else None
        except OSError:
            continue
        if path and mode is not None and not S_ISREG(mode):
            kind = "a symlink" if S_ISLNK(mode) else "a file that is not a regular one"
            CLEARED.append(f"the guard's report file {path} was replaced by {kind} during the run")
            try:
                _unlink(path)
            except OSError:
                pass
    return CLEARED


def end_with(status: Callable[[], int]) -> None:
    """At exit, once pytest's main has returned and the interpreter is about to join the threads left
    running: with any non-daemon thread but the main one alive, stdout and stderr are flushed and the
    process ends at once with `status()` (pytest's exit status, as the process would have exited), so
    a stray thread never holds the run. Registered last, it runs before any other such hook (they run
    in reverse order; `concurrent.futures` joins its workers in one). Regular `atexit` functions do not
    run then: the guard writes nothing at exit (its files and marker are written when the session
    ends). Without `threading._register_atexit` (before Python 3.9) nothing changes."""
    register = getattr(threading, "_register_atexit", None)

    def _end(*, main: Any = _main_thread(), threads: Any = _threads, exit_: Any = _exit) -> None:
        if not any(t is not main and not t.daemon and t.is_alive() for t in threads()):
            return
        try:
            code = int(status())
        except Exception:  # the session's status rewritten into something else: a broken run
            code = 1
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # a stream code under test replaced or closed: what was printed stays
                pass
        exit_(code)

    if register is not None:
        try:
            register(_end)
        except RuntimeError:  # the interpreter is already shutting down
            pass


def message(report: Any) -> str:
    """A failed report's message as the results keep it (its crash line, else its whole text; 2,000
    characters at most)."""
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = getattr(crash, "message", None) or getattr(report, "longreprtext", "") or ""
    return str(text).strip()[:2000]


def repeated_ids(nodeids: Iterable[str]) -> dict[str, int]:
    """The node ids that several collected items share, with how many share each: a conftest collecting
    text cases can name cases alike (docopt-ng 0.9.0: 614 items under 520 ids, `testcases(6)` five
    times). pytest asked for such an id runs every item of it and its summary counts items, while the
    guard records one status per id, its items' worst (`Guard._set`): the report says which ids stand
    for several items, so that the two counts are told apart (`grading.runner`)."""
    counts: dict[str, int] = {}
    for nodeid in nodeids:
        counts[str(nodeid)] = counts.get(str(nodeid), 0) + 1
    return {k: v for k, v in counts.items() if v > 1}


def nodeid_key(nodeid: str, *, sha256: Any = _sha256, bytes_: Any = bytes) -> str:
    """A test's node id as the guard's failure lines name it: 16 hex digits of its sha256 (ASCII, one
    word, whatever the id holds). `grading.guard_check.nodeid_key` is the same function."""
    return sha256(bytes_(nodeid, "utf-8", "surrogatepass")).hexdigest()[:16]


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        st = _fstat(fd)
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


CHANNEL = _identity(1)
"""The file on descriptor 1 at import, before any conftest or code under test runs (device, inode):
the file the grader reads. None: no descriptor 1."""
CHANNEL_LOST = 86
"""The exit status of a process in which no descriptor holds `CHANNEL` any more when the guard has a
line to write (`grading.guard_check.CHANNEL_LOST` is the same number): evidence, whatever it printed."""


def print_line(
    text: str,
    *,
    channel: tuple[int, int] | None = CHANNEL,
    fstat: Any = _fstat,
    listdir: Any = _listdir,
    write: Any = _write,
    int_: Any = int,
    bytes_: Any = bytes,
    view: Any = memoryview,
    errors: Any = (OSError, ValueError),
    exit_: Any = _exit,
    lost: int = CHANNEL_LOST,
) -> None:
    """`text` written whole to `CHANNEL`: descriptor 1 while it holds that file, else the first
    descriptor that does, else 1. Code under test can put another file on descriptor 1 (or on the copy
    pytest's capture puts back there) and relay what is written to it minus the guard's lines; the
    file it relays to is still open in this process, and is found by what it is, not by its number.
    With no descriptor holding it (the relay run by another process), the process ends at once with
    status `lost`: the grader sees that status whatever reaches it."""
    fd = 1
    if channel is not None:
        try:
            st = fstat(1)
            moved = (st.st_dev, st.st_ino) != channel
        except errors:
            moved = True
        try:
            names = listdir("/proc/self/fd") if moved else ()
        except errors:
            names = ()
        for name in names:
            try:
                st = fstat(int_(name))
            except errors:
                continue
            if (st.st_dev, st.st_ino) == channel:
                fd = int_(name)
                break
        else:
            if moved:
                exit_(lost)
    data = view(bytes_(text, "utf-8"))
    while data:
        data = data[write(fd, data) :]


def status(report: Any) -> str | None:
    """What a logged report makes of its test (the guard keeps the worst of them); None: nothing.
    "rerun": an attempt that a plugin retries (pytest-rerunfailures logs it with that outcome and calls
    the test again), not the test's status: the guard keeps what the last attempt makes of it, and the
    attempt is no failure to announce (it is counted instead: `Guard.unpassed_calls`)."""
    if getattr(report, "outcome", None) == "rerun":
        return "rerun"
    if report.when == "call":  # skipped inside the test, or an expected failure: skipped
        return "passed" if report.passed else "skipped" if report.skipped else "failed"
    if report.failed:  # setup or teardown broke
        return "error"
    return "skipped" if report.skipped and report.when == "setup" else None


class Announcer:
    """A plugin announcing each failure on the grader's file (`print_line`) as pytest logs it, before
    any other plugin sees the report: a line that left the process cannot be taken back
    (`grading.guard_check`). The guard's records are data that code under test can reach and rewrite
    (a walk of attributes from any module finds them), and a report flipped before the guard records
    it leaves them consistent with pytest's. Built by `announcer`; it holds nothing a walk can rewrite
    unseen (no instance data, see there)."""

    __slots__ = ()


def announcer(nonce: str | None, guarded: tuple[Any, ...] = ()) -> Announcer:
    """The announcer of a run whose lines carry `nonce` (None: a run that writes no results, nothing
    to announce). Its hook reads no global name and no attribute of its own: the nonce and every
    function it calls are keyword defaults, bound now, so rebinding this module's names or a setting
    found by a walk changes nothing; what is left to change, the code and defaults of those functions
    or the announcer's class, raises an audit event, and `_refuse` (an audit hook, which nothing
    removes) refuses it; so it does for the functions in `guarded` (the test bodies' announcer,
    `guard_plugin_bodies.raised_announcer`)."""
    if nonce is None:
        return Announcer()

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_logreport(
        report: Any, *, nonce: str = nonce, status: Any = status, key: Any = nodeid_key, say: Any = print_line
    ) -> None:
        outcome = status(report)
        if outcome == "failed" or outcome == "error":
            say(f"\ncodekiln-guard-failed {nonce} {outcome} {key(report.nodeid)}\n")

    plugin = type(
        "Announcer",
        (Announcer,),
        {"__slots__": (), "pytest_runtest_logreport": staticmethod(pytest_runtest_logreport)},
    )()
    kept = frozenset(map(id, (plugin, pytest_runtest_logreport, status, nodeid_key, print_line, *guarded)))

    def _refuse(
        event: str, args: Any, *, kept: frozenset[int] = kept, id_: Any = id, error: Any = RuntimeError
    ) -> None:
        if (event == "object.__setattr__" or event == "object.__delattr__") and args and id_(args[0]) in kept:
            raise error(f"the guard's announcer cannot be changed: {args[1]} of {args[0]!r}")

    _addaudithook(_refuse)
    return plugin
