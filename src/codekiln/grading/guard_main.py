"""The guarded test process's main module (`grading.guard`; it runs inside the sandbox, shipped as source
beside the guard plugin as `<plugin module>_main`): `python -P -s -m <plugin module>_main ARGS`.

It runs pytest as `python -P -s -m pytest ARGS` does (`runpy`: pytest's `__main__` as the `__main__`
module, `sys.argv[0]` its file), then ends the process as the interpreter's exit does for Python code,
in its order (the threads joined and `threading`'s exit hooks run, then the `atexit` functions, then
stdout and stderr flushed), with the same exit status, but without the interpreter's teardown: every
module and object of pytest and the suite freed one by one (~0.03-0.06 CPU s of a 22-test graded
run here), which no result is read from (the guard writes its files and prints their hashes when the
session ends). What a test sees differs only in `sys.orig_argv` and a few more frames below pytest's.

A status other than an int from 0 to 255 (pytest's are 0-5), a Python without `threading._shutdown`,
an exception other than `SystemExit`, or a standard stream that cannot be flushed leave the exit to the
interpreter, as before. Imports only the standard library.
"""

from __future__ import annotations

import atexit
import builtins
import os
import runpy
import sys
import threading

# Taken before any test runs: code under test that replaces them later does not change how this ends.
_EXIT, _EXITFUNCS, _THREADS = os._exit, atexit._run_exitfuncs, getattr(threading, "_shutdown", None)


def _flushed() -> bool:
    """Flush stdout and stderr as the interpreter's exit does (a closed or missing one is skipped)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is None or getattr(stream, "closed", False):
            continue
        try:
            stream.flush()
        except Exception:  # the interpreter's exit flushes once more and decides the status
            return False
    return True


# The names the interpreter gives the main module that `runpy` does not: this module's own, fresh.
_GIVEN = {"__builtins__": builtins, **({"__annotations__": {}} if "__annotations__" in globals() else {})}
if __name__ == "__main__":  # run as `-m`; imported (a check that every module imports), nothing runs
    try:
        runpy.run_module("pytest", _GIVEN, run_name="__main__", alter_sys=True)
        _status = 0
    except SystemExit as stop:
        _status = 0 if stop.code is None else stop.code  # type: ignore[assignment]  # (no annotation here:
        # one would give this module `__annotations__` of its own, read above)
    if not isinstance(_status, int) or not 0 <= int.__int__(_status) <= 255 or _THREADS is None:
        raise SystemExit(_status)  # pytest's ExitCode is an int: its value, read as the interpreter reads it
    _THREADS()
    _EXITFUNCS()
    if not _flushed():
        raise SystemExit(_status)
    _EXIT(int.__int__(_status))
