"""One process-wide "stop now" flag for Ctrl-C, that every waiting subprocess loop can select on.

    interrupt.request()           # the CLI's SIGINT handler: the run is being interrupted
    interrupt.requested()         # True from then on
    sel.register(interrupt.fd(), selectors.EVENT_READ)   # a wait that wakes at once on it

A pipe that is written once and never drained: after `request()` its read end stays readable, so every
selector in every thread that watches it wakes immediately, now and later. Worker threads of a stage
use it to end their sandboxed commands at once (the driver thread got the KeyboardInterrupt and writes
nothing more), so an interrupted run stops in well under a second instead of finishing each running
batch. It is never cleared: an interrupted process is ending.
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()
_pipe: tuple[int, int] | None = None
_requested = threading.Event()


def fd() -> int:
    """The read end of the pipe: readable once an interrupt was requested."""
    global _pipe
    with _lock:
        if _pipe is None:
            _pipe = os.pipe()
            os.set_blocking(_pipe[1], False)
            if _requested.is_set():  # requested before anyone watched
                os.write(_pipe[1], b"!")
        return _pipe[0]


def request() -> None:
    """Mark the process as interrupted and wake every wait that watches `fd()` (safe in a signal handler)."""
    _requested.set()
    write_end = _pipe[1] if _pipe is not None else None
    if write_end is not None:
        try:
            os.write(write_end, b"!")
        except (BlockingIOError, OSError):  # full (already readable) or closed: nothing to wake
            pass


def requested() -> bool:
    """Whether `request()` was called in this process."""
    return _requested.is_set()
