"""The guard plugin's watch on the tests' source read by the code under test (`grading.guard_plugin`; it
runs inside the sandbox).

    reads = TestReads(workdir, trusted, support, readonly)   # an audit hook, from the plugin's import on
    reads.found                    # ["tests/t.py opened from pkg/m.py:12 during tests/t.py::test_a", ...]
    reads.unreported()             # REPORTED + the first finding of each test (or of none) not reported yet
    reads.evict()                  # the held files' lines dropped from `linecache` (before each test)

A patch that leaves a bug in place can read the hidden tests as text (glob them, `ast`-parse them, keep
a table from each call's literal arguments to the literal it is compared with) and answer from it: no
test id, no frame, no import of a test module, and the tests' code is unchanged. The rule: **a held
file opened while a frame of the graded tree's library code is on the stack is tampering.** Held
files are the tests' Python source: every trusted file (`grading.guard.trusted_sources`) or held
support module (`grading.support`) that is a test module (`test_*.py`, `*_test.py`), a `conftest.py`
or lives under a `tests`/`test` folder, and the bytecode Python or pytest caches for any of them
(`__pycache__/<name>.*.pyc`). Data files beside the tests (`tests/data.txt` handed to a parser) are
not held; a `.py` file under tests/ handed to the library as data is (such a gold fails validation,
which runs this same guard, and never becomes a task). Support modules that are the library's own
(`demo/core.py`, a package's `testing` helpers such as `xarray.testing`) are not held: the library
imports them. Library code is every file of the working tree but the held files and the environment's
(`machinery.READONLY`: a venv inside the tree), so a library module beside a test module
(`pkg/test_mod.py` next to `pkg/mod.py`, doctest folders) or a support module the fix may change
counts as library.

Why honest code passes: tasks are validated by the same guarded grader, so a library that reads its
callers' source by nature (`inspect.getsource` of a test's callback) fails its gold and is never a
task; only a fix that newly reads the tests is caught. The lines of the stack read for a report count
too (`traceback.extract_stack`, `inspect.stack`, `logging`'s `stack_info`, coverage.py's Collector
started from library code): the calling test's line holds the value it expects. The test's own frames alone (a test reading its
own file) and pytest's reads (collection, assertion rewriting, reports, warnings) have no library frame
on the stack. It is armed from the plugin's import, before any conftest or test module: a library
module that reads the tests while pytest imports it (a table built at import time) has its module
frame on the stack and is caught too.

Every road to the bytes opens them: `open`, `io.open_code`, `io.FileIO`, `os.open` (and so `mmap` of
its fd), `pathlib`, `linecache`/`tokenize`/`inspect.getsource` (cache misses), a loader's `get_data`.
The open is refused (PermissionError) as well as noted, with one exception: an open made by
`linecache` (a traceback's or a log record's lines, `inspect.getsource`) is refused and not noted, so
the lines come out empty: a fix that formats a raising callback's traceback (`traceback.format_exc`,
`logger.exception`) reads nothing of the tests and is no tampering. `linecache` serves lines it cached
earlier (pytest's traceback of a failed test) without an open: `evict` drops the held files before
each test's setup and call. A thread other than the main one (pytest runs every test in the main
thread) opening a held file is library code's doing whatever its stack holds: a worker thread handed
`Path.read_text` by library code has only the standard library's frames.

The tests' code read as data: the compiled constants of a collected test function hold its
expected values (`dis.get_instructions(test_fn)`), whatever road led to the function (a walk of the
class tree, a module found by a computed name). Every read of a function's `__code__` raises the
audit event `object.__getattr__`; once collection is over, a read of a collected test function's
code (or of a function it wraps) while library code is on the stack, or from another thread, is
refused and noted too.

Put off: any deferral takes the library's frame off the stack (a `weakref.finalize`, a `gc.callbacks`
entry, a signal handler, `atexit`, a profile function, a `__del__`, each run from C with a callable
of the standard library alone: the nineteenth red team's `deferred-read` and `deferred-code`). So
once collection is over, a read of a held file or of a collected test function's code with no library
frame on the stack must also show it is pytest's own: each frame from the read out to pluggy calling
a hook (or to a test's own code) is being called, by name, by the frame below it
(`grading.guard_plugin_callers`). A deferred callback's caller is not calling it: refused and noted.
Where `_hide` empties the held files at the plugin's load (`early`: the grader's and the verifiers'
runs), pytest reads nothing of them from disk and the rule applies from then on, collection included
(the twenty-first red team's read put off into pytest's `__test__` lookup); else, before collection
ends (conftests, test modules imported and rewritten) pytest's and pluggy's frames vouch for a read; a test kept in a task reads nothing of the tests on its clean run
(`tasks.validation.own_reads` runs this same guard), so the rule costs honest tasks nothing. Helpers and callbacks defined in the test modules are not held: the tests hand
them to the library, which may read their signatures. A relative name opened against a directory descriptor (`os.open(name, dir_fd=fd)`:
the audit event carries no `dir_fd`) is judged by its base name. A link made to a held file
(`os.symlink`, `os.link`) from library code is noted as its read. A child process is outside this
process's hooks (`subprocess.run(["cat", path])`, a child Python reading the files or this process's
memory through `/proc`): closed by `_hide`, which empties the held files at the plugin's load and
makes this process non-dumpable (`tests/audit/test_guard_child_reads.py`). Closed elsewhere: `ctypes`
calling libc's `open` (no audit event; the scan's native-module rule), a `sitecustomize.py` run before
the plugin loads (`grading.pathrules`).

Each finding names the test it happened in (` during NODEID`, from the test's setup to its end;
none at collection or between tests): a test whose clean run (the snapshot, no bug) reads its own file
through the library (`count_lines(__file__)`) is left out of the task's tests by validation
(`tasks.validation.own_reads`) and the library's other tests still make tasks.

Cost: the hook returns at once for every event but `open`, `os.symlink`, `os.link` and a
function's `__code__` read (one set lookup); for an open it
walks the stack only when the path names a held file, or a relative one a held base name, or (any
other) resolves to one (one `os.stat`, only for `.py`/`.pyc` names outside the interpreter's and the
venv's folders: a link under another name is caught when it is made).

Shipped beside the plugin as `<plugin module>_reads` (`grading.shipped`); it imports nothing from
codekiln.
"""

from __future__ import annotations

import importlib
import linecache
import os
import sys
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import guard_plugin_callers as callers
else:  # shipped beside it as `<plugin module>_callers` (`grading.shipped`)
    callers = importlib.import_module(f"{__name__.removesuffix('_reads')}_callers")

_TEST_DIRS = frozenset({"tests", "test"})
REPORTED = "code under test read the tests' source: "
MAX_REPORTED = 100
"""The most findings handed out (`unreported`): one per test, so many tests reading cannot flood the report."""


def held_files(workdir: str, trusted: Iterable[str], support: Iterable[str]) -> list[str]:
    """The tests' Python source among the trusted files and the support modules (see the module doc)."""
    out = []
    for path in [*trusted, *support]:
        rel = os.path.relpath(path, workdir)
        name = os.path.basename(rel)
        test_module = name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
        if test_module or _TEST_DIRS.intersection(rel.split(os.sep)[:-1]):
            out.append(path)
    return out


class TestReads:
    """An audit hook (which nothing can remove) noting and refusing every open of a held file made
    while library code of the working tree is on the stack."""

    __test__ = False  # not a test class, whatever collects it

    def __init__(
        self, workdir: str, trusted: Iterable[str], support: Iterable[str], readonly: tuple[str, ...]
    ) -> None:
        self.workdir = workdir.rstrip("/") + "/"
        self.readonly = readonly
        self.found: list[str] = []
        self.current = ""  # the node id of the test running, from its setup to its end
        self.first: dict[str, str] = {}  # the first finding of each test ("": none running)
        self.reported = 0
        self.held = frozenset(os.path.normpath(p) for p in held_files(workdir, trusted, support))
        self.names = frozenset(os.path.basename(p) for p in self.held)
        # (folder, module name) of each held file: its bytecode is `folder/__pycache__/name.*.pyc`
        self.stems = frozenset((os.path.dirname(p), os.path.basename(p)[:-3]) for p in self.held)
        self.inodes = set()
        for path in self.held:
            try:
                st = os.stat(path)
            except OSError:
                continue
            self.inodes.add((st.st_dev, st.st_ino))
        self.functions: set[int] = set()  # ids of the collected test functions, once collected
        self.collected = False  # collection over: a read must show it is pytest's own (`callers`)
        self.early = False  # the held files emptied at the plugin's load (`_hide`): the same from then on
        self._busy = 0  # the thread inside `callers.put_off`, whose reads of functions' code raise the event
        self.callers = callers.Callers(self.held, readonly)
        self._updatecache = linecache.updatecache.__code__
        # pytest's own code reading for its reports, even below a plugin's hook wrapper in the tree
        runner = (sys.modules.get(m) for m in ("_pytest", "pluggy"))
        self.runner = tuple(os.path.dirname(m.__file__) + os.sep for m in runner if m and m.__file__)
        if self.workdir != "/" and self.held:
            sys.addaudithook(self._hook)

    def evict(self) -> None:
        cache = linecache.cache
        for path in self.held:
            cache.pop(path, None)

    def pytest_runtest_setup(self, item: Any) -> None:
        self.current = item.nodeid
        self.evict()

    def pytest_runtest_logfinish(self) -> None:
        self.current = ""

    def unreported(self) -> list[str]:
        """The first finding of each test not reported yet (at most `MAX_REPORTED` in all), as reported."""
        out = list(self.first.values())[self.reported : MAX_REPORTED]
        self.reported += len(out)
        return [f"{REPORTED}{f}" for f in out]

    def pytest_runtest_call(self) -> None:
        self.evict()

    def pytest_collection_finish(self, session: Any) -> None:
        """Hold the collected test functions' code: each item's cached function and what it wraps."""
        self.collected = True
        self.evict()
        for item in session.items:
            fn = item.__dict__.get("_obj")
            for _ in range(8):
                fn = getattr(fn, "__func__", fn)
                if type(fn).__name__ != "function":
                    break
                self.functions.add(id(fn))
                fn = fn.__dict__.get("__wrapped__")

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if self._busy == threading.get_ident():
            return
        if event == "open":
            if not isinstance(args[0], int) and self._is_held(args[0]):
                self._check(str(args[0]), "opened")
        elif event == "object.__getattr__":
            if args[1] == "__code__" and id(args[0]) in self.functions:
                self._check(f"{args[0].__module__}.{args[0].__qualname__}", "code read", args[0])
        elif event in ("os.symlink", "os.link") and self._is_held(args[0]):
            self._check(str(args[0]), "linked")

    def _is_held(self, file: Any) -> bool:
        try:
            path = os.fsdecode(file)
        except TypeError:
            return False
        if not path.endswith((".py", ".pyc")):
            return False
        relative = not os.path.isabs(path)
        full = os.path.normpath(os.path.join(os.getcwd(), path) if relative else path)
        if full in self.held:
            return True
        if full.startswith(self.readonly):  # the interpreter's and the venv's own modules, imported
            return False
        if relative and os.path.basename(path) in self.names and not os.path.exists(full):
            return True  # a name opened against a directory descriptor, or nowhere
        folder, name = os.path.split(full)
        if os.path.basename(folder) == "__pycache__" and name.endswith(".pyc"):  # bytecode of a held file
            return (os.path.dirname(folder), name.split(".", 1)[0]) in self.stems
        try:
            st = os.stat(full)
        except (OSError, ValueError):
            return False
        return (st.st_dev, st.st_ino) in self.inodes

    def _check(self, path: str, how: str, function: Any = None) -> None:
        reader: Any = sys._getframe(2)  # this, the hook, then the caller of the audited function
        by_linecache, culprit, frame = False, "", reader
        while frame is not None:
            code = frame.f_code
            name = code.co_filename
            by_linecache = by_linecache or code is self._updatecache
            if not (self.collected or self.early) and self.runner and name.startswith(self.runner):
                return  # pytest reads for itself (collection, rewriting), whatever called it
            if name.startswith(self.workdir) and not name.startswith(self.readonly) and name not in self.held:
                culprit = f"{name}:{frame.f_lineno}"
                break
            frame = frame.f_back
        if not culprit and threading.current_thread() is not threading.main_thread():
            culprit = f"thread {threading.current_thread().name!r}"
        if not culprit and (self.collected or self.early):
            self._busy = threading.get_ident()
            try:
                culprit = self.callers.put_off(reader, path, function)
            except Exception as error:  # fail closed
                culprit = f"an unrecognised reader ({type(error).__name__})"
            finally:
                self._busy = 0
        if not culprit:
            return
        if not by_linecache:
            found = f"{path} {how} from {culprit}" + (f" during {self.current}" if self.current else "")
            self.found.append(found)
            self.first.setdefault(self.current, found)
        raise PermissionError(f"{path}: the tests' source is not for code under test to read")
