"""The tests' source out of every child process's reach from the plugin's load on (`grading.guard_plugin`;
it runs inside the sandbox).

    hide = Hide(reads, kept, on)  # at the plugin's import, before any conftest or test module (`on`:
                                  # the settings' "hide"): `reads.held` read into `kept`, emptied on
                                  # disk, the process made non-dumpable, `reads`' callers rule armed
    hide.undumpable               # True once the kernel took it (False: ctypes or prctl unavailable)
    ...pytest collects...         # every held module imported from `kept` (rewritten where pytest would)

The audit hook of `_reads` sees the test process's own opens only: library code that spawns a child
(`subprocess.run(["cat", path])`, a child Python opening the file) reads the hidden tests outside it,
and a child of the same user reads this process's memory (`/proc/<ppid>/mem`: the trusted bytes, the
rewritten tests' constants) or its open files (`/proc/<ppid>/fd/N`). So, when the settings ask
(`"hide"`: the grader's `grading.runner` and the exported verifiers):

1. At import, before any conftest or code under test runs: `prctl(PR_SET_DUMPABLE, 0)` (through
   `ctypes`, the C library's own `prctl`). The kernel then refuses `/proc/<pid>/mem`, `/fd`, `/environ`
   and `ptrace` of this process to every other process without `CAP_SYS_PTRACE` (which the bwrap
   sandbox and a Harbor container's default capabilities do not grant). An exec'd child starts
   dumpable again, which is its own business: it holds nothing of the tests.
2. At the same moment (the launcher, `_main`, holds the tree's modules off until the plugin is
   imported, so no code of the tree has run yet), each held file (the tests' Python source:
   `_reads.held_files`) is read into `kept` and replaced by an empty one: unlinked, then created anew
   (a new inode: the old one may be a tree cache's hard link). It stays a file: pytest's walk of the
   file system still finds the test modules and conftests, and pytest looks for some after collection
   (a test package's `__init__.py`, imported again at its setup). A read put off into collection (a
   `__getattr__` that pytest's `__test__` lookup runs) or a child spawned by the library at import
   finds them empty (the twenty-first red team). Data files beside the tests are not held and stay.
   The grader puts the bytes back from outside the sandbox after the run, from what it read before
   (`grading.hidden_tests`, a run killed at its limit too); an exported verifier's tree is thrown away
   after its one run.

Every held module is imported from `kept` by a finder placed first on `sys.meta_path` (for those paths
alone), by the path the import system would have found it at: where pytest's assertion rewriting hook
would take the module (its own rules: `python_files`, conftests, `register_assert_rewrite`, `--assert`;
a module marked `PYTEST_DONT_REWRITE` is compiled as is), its spec is the hook's, and the hook's
`_rewrite_test` reads `kept` (`_bodies`); any other import runs the kept bytes (`_Loader`). A package is also found when asked for in its own
folder (pytest's `--import-mode importlib` asks so for a test package's `__init__.py`). The loader
gives no `get_source`/`get_data`, so the text stays unreadable to library code (`linecache` gets
nothing). A test that reads its own file (`open(__file__)`, a `python -m pytest` child on a test file)
or a conftest that reads a test module reads it empty and fails, on the clean snapshot the same way:
validation runs this guard, so such a task's gold does not resolve and it is never made.

pytest's report of a failed test shows the test's lines: they are put in `linecache` from memory while
pytest makes the report of a phase that raised (`pytest_runtest_makereport`) and dropped after it; a
module that failed to collect has its report made again with them (`pytest_make_collect_report`).

Cost: one `prctl` call at start, and one read, one unlink and one create per held file. The grader's
side costs one host read and write per held file.

Shipped beside the plugin as `<plugin module>_hide` (`grading.shipped`); it imports nothing from
codekiln.
"""

from __future__ import annotations

import ctypes
import importlib.abc
import importlib.util
import io
import linecache
import os
import sys
import tokenize
from typing import Any

import pytest

PR_SET_DUMPABLE = 4


def make_undumpable() -> bool:
    """`prctl(PR_SET_DUMPABLE, 0)` for this process; whether the kernel took it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


class _Loader(importlib.abc.Loader):
    """Runs a held module from the bytes kept in memory; no `get_source`, no `get_data`."""

    def __init__(self, source: bytes, path: str) -> None:
        self._code = compile(source, path, "exec", dont_inherit=True)

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        exec(self._code, module.__dict__)


class _Finder:
    """Finds a held module (emptied on disk at the plugin's load) where the path finder would have found
    it: pytest's assertion rewriting takes it where it would (its `_rewrite_test` fed the kept bytes,
    `_bodies`), any other import runs the kept bytes (`_Loader`)."""

    def __init__(self, kept: dict[str, bytes]) -> None:
        self.kept = kept

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        tail = name.rpartition(".")[2]
        for folder in path if path is not None else sys.path:
            if not isinstance(folder, str):
                continue
            base = os.path.abspath(folder or ".")
            files = [(f"{tail}.py", False), (os.path.join(tail, "__init__.py"), True)]
            if os.path.basename(base) == tail:  # a package asked for in its own folder: pytest's
                files.append(("__init__.py", True))  # `--import-mode importlib` imports a test package so
            for file, package in files:
                full = os.path.normpath(os.path.join(base, file))
                if full in self.kept:
                    return self._rewritten(
                        name, path, target, full
                    ) or importlib.util.spec_from_file_location(
                        name,
                        full,
                        loader=_Loader(self.kept[full], full),
                        submodule_search_locations=[os.path.dirname(full)] if package else None,
                    )
        return None

    @staticmethod
    def _rewritten(name: str, path: Any, target: Any, full: str) -> Any:
        """pytest's assertion rewriting hook's spec for `full`, where it would rewrite it (its rules:
        `python_files`, conftests, `register_assert_rewrite`, `--assert`); else None."""
        for finder in list(sys.meta_path):
            if type(finder).__name__ != "AssertionRewritingHook":
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and os.path.normpath(str(spec.origin)) == full:
                return spec
        return None

    def invalidate_caches(self) -> None:
        return None


def _lines(data: bytes) -> list[str]:
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
    except SyntaxError:
        encoding = "utf-8"
    return data.decode(encoding, "replace").splitlines(keepends=True)


class Hide:
    """A pytest plugin: the held files emptied at its making, the plugin's load, before any conftest or
    test module is imported (see the module doc), and served from memory from then on."""

    __test__ = False  # not a test class, whatever collects it

    def __init__(self, reads: Any, kept: dict[str, bytes], on: Any = True) -> None:
        self.held = sorted(reads.held) if on else []
        self.hidden: list[str] = []
        self.lines: dict[str, list[str]] = {}  # each emptied file's lines, for pytest's failure reports
        self.undumpable = make_undumpable() if self.held else False
        for path in self.held:
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
                # a new empty file, not the old inode truncated: it may be a tree cache's link
                os.unlink(path)
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
            except FileNotFoundError:
                continue
            except OSError as error:  # whole on disk for any child to read: the tree made it so
                reads.first.setdefault(
                    "", f"{path} could not be emptied at the guard's load: {error.strerror}"
                )
                continue
            kept[path] = data
            self.lines[path] = _lines(data)
            self.hidden.append(path)
        if kept:  # pytest's `_rewrite_test` reads them from `kept` (`_bodies`: a trusted file's, the same)
            sys.meta_path.insert(0, _Finder(kept))
        reads.early = bool(self.hidden)  # the reads watch's callers rule applies from now on, not from
        # the end of collection: pytest reads nothing of the held files from disk any more

    @pytest.hookimpl(hookwrapper=True)
    def pytest_make_collect_report(self, collector: Any) -> Any:
        """A module that failed to collect: its report made again with the tests' lines served from memory
        (pytest made it from the emptied files: `???` for each line), then dropped. The collection itself
        runs without them (library code it imports reads nothing); pytest keeps the call on the report."""
        outcome = yield
        report = outcome.get_result()
        excinfo = getattr(getattr(report, "call", None), "excinfo", None)
        if not self.lines or excinfo is None or report.outcome != "failed":
            return
        for path, lines in self.lines.items():
            linecache.cache[path] = (sum(map(len, lines)), None, lines, path)  # no mtime: never rechecked
        try:
            again = collector.repr_failure(excinfo)
            report.longrepr = again if hasattr(again, "toterminal") else type(report.longrepr)(again)
        except Exception:  # the report pytest made stands
            pass
        finally:
            for path in self.lines:
                linecache.cache.pop(path, None)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, call: Any) -> Any:
        """pytest draws a failure's report from the tests' lines (`linecache`): served from memory while
        it does (the reads hook evicts them before each test's setup and call, as it did the lines
        pytest read from the file before), dropped after."""
        shown = self.lines if call.excinfo is not None else {}
        for path, lines in shown.items():
            linecache.cache[path] = (sum(map(len, lines)), None, lines, path)  # no mtime: never rechecked
        yield
        for path in shown:
            linecache.cache.pop(path, None)
