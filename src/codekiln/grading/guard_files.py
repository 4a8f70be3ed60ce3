"""Reading a guarded run's files back from the sandbox, within bounds: they lie where code under test
can rewrite them, at any size (a sparse gigabyte costs the sandbox's disk nothing), so the results
file is read only up to `RESULTS_LIMIT` and the JUnit report is only hashed, in chunks. A file that
cannot be read is None (the caller counts it as evidence), never an exception out of the grader, unless
the sandbox itself was closed under the read (`SandboxClosed`: the host's doing, not the code's).

`plain_tables` reads the trusted files before a run, for the guard's literal tables."""

from __future__ import annotations

import ast
import errno
import hashlib
from collections.abc import Iterable

from codekiln.core.errors import CodekilnError, NotFollowed, SandboxClosed
from codekiln.core.protocols import Sandbox
from codekiln.grading import guard_plugin_literals as literals


def read_or_none(sandbox: Sandbox, path: str) -> bytes | None:
    try:
        return sandbox.read_file(path)
    except (OSError, ValueError, CodekilnError) as err:
        _raise_if_closed(sandbox, err)
        return None


def _raise_if_closed(sandbox: Sandbox, err: Exception) -> None:
    """Return for a file that could not be read (the caller gives None), unless the sandbox itself was
    closed (by its owner on the host, which code under test cannot do): then nothing read back says
    anything about the run, and the caller gets `SandboxClosed`, never evidence. A driver that stopped early closed the sandbox of a
    grade still running, whose results file then read as gone (`tampered` on an honest gold patch)."""
    if isinstance(err, SandboxClosed):
        raise err
    if getattr(sandbox, "closed", False):
        raise SandboxClosed("the sandbox was closed while its files were read back") from err


RESULTS_LIMIT = 64 << 20
"""The most bytes of a guard results file the grader reads. The plugin's own file holds a test id and
a status per test and failure messages within `guard_plugin.MESSAGE_BUDGET`: a few MB for the largest
suites seen (62,423 tests). What code under test writes there can be anything, and JSON of small
objects (`[{},{},...]`) takes ~24 times its size in the grader's memory once parsed."""


def read_results(sandbox: Sandbox, path: str) -> tuple[bytes | None, str]:
    """The results file (None: absent or unreadable) and, when it is over `RESULTS_LIMIT` or is not a
    regular file, why it was not read (evidence: the plugin never writes one so large, and writes a
    regular file). A symlink is never followed: one to /dev/zero is read forever."""
    try:
        return sandbox.read_file(path, max_bytes=RESULTS_LIMIT, follow=False), ""
    except OSError as err:
        if err.errno == errno.EFBIG:
            return None, f"the guard's results file holds more than {RESULTS_LIMIT:,} bytes (not read)"
        _raise_if_closed(sandbox, err)
        return None, _not_regular(err, "results file")
    except (ValueError, CodekilnError) as err:
        _raise_if_closed(sandbox, err)
        return None, ""


def report_digest(sandbox: Sandbox, path: str) -> tuple[str | None, str]:
    """The JUnit report's sha256 (None: absent or unreadable) and, when a symlink or anything but a
    regular file is at `path`, evidence (it is not read: see `read_results`)."""
    try:
        return sandbox.file_digest(path, follow=False), ""
    except (OSError, ValueError, CodekilnError) as err:
        _raise_if_closed(sandbox, err)
        return None, _not_regular(err, "JUnit report")


def _not_regular(err: Exception, what: str) -> str:
    if isinstance(err, NotFollowed):
        return f"the guard's {what} is a symlink (not followed): code under test put it there"
    if isinstance(err, PermissionError) and err.errno == errno.EPERM:
        return f"the guard's {what} is not a regular file (a FIFO, a device): code under test put it there"
    return ""


PLAIN_READ_LIMIT = 8 << 20
"""The most bytes of a trusted file `plain_tables` parses; a larger one is parsed by the guard itself."""
_PLAIN: dict[str, bool] = {}  # sha256 (hex) of a file's bytes -> they bind no table the guard would hold


def plain_tables(sandbox: Sandbox, paths: Iterable[str]) -> list[str]:
    """The sha256 digests (hex) of the files at `paths` (the guard's trusted test files and support
    modules, as it will read them) when none of them binds a literal table: `literals.literals` finds
    no candidate in them, as `guard_plugin_tables.Tables` would in the run; else [] (the guard then
    analyses every file itself, whatever it is given). Each content is parsed once per process, and
    none once a file known to bind a table is among them (a grade's canaries make one module's content
    new in every run). Only for a venv of this interpreter's Python (`Isolation.bytecode`: the same
    `ast`). A file that cannot be read is left out (the guard cannot read it either); one over
    `PLAIN_READ_LIMIT` or that does not parse counts as binding a table."""
    digests: dict[str, str] = {}
    for path in paths:
        try:
            digests[path] = sandbox.file_digest(path, follow=False)
        except (OSError, ValueError, CodekilnError) as err:
            _raise_if_closed(sandbox, err)
    if any(_PLAIN.get(digest) is False for digest in digests.values()):
        return []
    for path, digest in digests.items():
        if digest not in _PLAIN:
            try:
                data = sandbox.read_file(path, max_bytes=PLAIN_READ_LIMIT, follow=False)
                same = hashlib.sha256(data).hexdigest() == digest  # else changed between the reads
                _PLAIN[digest] = same and not literals.literals(ast.parse(data, filename=path))
            except (OSError, ValueError, SyntaxError, RecursionError, MemoryError, CodekilnError) as err:
                _raise_if_closed(sandbox, err)
                _PLAIN[digest] = False
        if not _PLAIN[digest]:
            return []
    return list(digests.values())


__all__ = [
    "PLAIN_READ_LIMIT",
    "RESULTS_LIMIT",
    "plain_tables",
    "read_or_none",
    "read_results",
    "report_digest",
]
