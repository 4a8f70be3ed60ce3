"""The guarded test process's main module (`grading.guard`; it runs inside the sandbox, shipped as source
beside the guard plugin as `<plugin module>_main`): `python -P -s -m <plugin module>_main ARGS`.

It runs pytest as `python -P -s -m pytest ARGS` does (`runpy`: pytest's `__main__` as the `__main__`
module, `sys.argv[0]` its file), then ends the process as the interpreter's exit does for Python code,
in its order (the threads joined and `threading`'s exit hooks run, then the `atexit` functions, then
stdout and stderr flushed), with the same exit status, but without the interpreter's teardown: every
module and object of pytest and the suite freed one by one (~0.03-0.06 CPU s of a 22-test graded
run here), which no result is read from (the guard writes its files and prints their hashes when the
session ends). What a test sees differs only in `sys.orig_argv` and a few more frames below pytest's.

Before pytest is imported, a finder refuses every top-level module that would come from the working
tree (the current directory; a venv inside it excepted) until the guard plugin is imported
(`StartupWindow`): a src layout's editable install puts the tree on `sys.path`, and Python's and
pytest's start-up look for modules that do not exist (`copy`'s Jython probe `org`, `subprocess`'s
`msvcrt`), so a new `src/org/__init__.py` would run before the plugin's hooks exist, free to read or
rewrite the tests. Refused, the probe takes its `ImportError` branch, as it does with no such module;
the tree's modules import as before once the plugin is loaded (its hooks armed).

A status other than an int from 0 to 255 (pytest's are 0-5), a Python without `threading._shutdown`,
an exception other than `SystemExit`, or a standard stream that cannot be flushed leave the exit to the
interpreter, as before. Imports only the standard library.
"""

from __future__ import annotations

import atexit
import builtins
import importlib.machinery
import os
import runpy
import sys
import threading
import types
from collections.abc import Sequence

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


class StartupWindow:
    """A `sys.meta_path` finder, just before the path finder: until `plugin` is in `sys.modules`, a
    top-level module the path finder would find inside `tree` (outside `keep`) is not found."""

    def __init__(self, plugin: str, tree: str, keep: tuple[str, ...]) -> None:
        self.plugin, self.tree, self.keep = plugin, os.path.realpath(tree) + os.sep, keep
        self.refused: list[str] = []

    def inside(self, where: str | None) -> bool:
        real = os.path.realpath(where or os.curdir) + os.sep  # a folder on `sys.path`, or a file
        return real.startswith(self.tree) and not real.startswith(self.keep)

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if path is not None or self.plugin in sys.modules:  # a submodule (its package let through);
            return None  # it stays in `sys.meta_path`: removed while the import system walks it, it
        # would make the walk skip the path finder after it
        spec = importlib.machinery.PathFinder.find_spec(name)
        if spec is None:
            return None
        where = [spec.origin, *(spec.submodule_search_locations or ())]
        if not any(self.inside(w) for w in where if isinstance(w, str)):
            return spec
        # the tree's: what the path outside the tree holds (a tree on PYTHONPATH, before the standard
        # library, hides none of it), else not found at all (the path finder after this one would)
        outside = importlib.machinery.PathFinder.find_spec(name, [p for p in sys.path if not self.inside(p)])
        if outside is not None:
            return outside
        self.refused.append(name)
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)

    @classmethod
    def install(cls, main: str) -> StartupWindow:
        """Before the path finder, for the plugin of the main module named `main` (`<plugin>_main`)."""
        keep = tuple(os.path.realpath(p) + os.sep for p in {sys.prefix, sys.base_prefix, sys.exec_prefix})
        window = cls(main.removesuffix("_main"), os.getcwd(), keep)
        finders = [type(f) if not isinstance(f, type) else f for f in sys.meta_path]
        at = finders.index(importlib.machinery.PathFinder) if importlib.machinery.PathFinder in finders else 0
        sys.meta_path.insert(at, window)
        return window


# The names the interpreter gives the main module that `runpy` does not: this module's own, fresh.
_GIVEN = {"__builtins__": builtins, **({"__annotations__": {}} if "__annotations__" in globals() else {})}
if __name__ == "__main__":  # run as `-m`; imported (a check that every module imports), nothing runs
    if __spec__ is not None:  # `-m <plugin>_main`
        StartupWindow.install(__spec__.name)
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
