"""The guard plugin's watch on tracing and heap walks (`grading.guard_plugin`; it runs inside the sandbox).

    trace_hooks()                  # ["trace"] when a trace function is set in this thread
    calls = TraceCalls(workdir, watch, tests)   # an audit hook: every sys.settrace/setprofile made by
                                   # the graded tree, and every gc walk of objects it starts (refused: calls.walks)

A trace function set while a test runs can rewrite the test's locals and be removed as it returns,
unseen by the checks the plugin makes at set times (`guard_plugin_machinery`); a walk of the
interpreter's objects reaches every record the plugin keeps. The audit hook installed here, which
nothing can remove, sees both as they happen.

Shipped beside the plugin as `<plugin module>_trace` (`grading.shipped`); like the plugin, it imports
nothing from codekiln (the watch it is given is `guard_plugin_machinery.Machinery`).
"""

from __future__ import annotations

import functools
import sys
import threading
import types
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codekiln.grading.guard_plugin_machinery import Machinery


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a type made by a class statement (or type()) at run time


def trace_hooks(kept: tuple[Any, ...] = ()) -> list[str]:
    """The trace and profile functions set now in the thread the tests run in, but a coverage.py C
    tracer (a project's `--cov`): a type compiled into an extension module cannot be made, nor
    renamed, by code under test. Nothing else of a graded run traces, and a trace function can
    rewrite a test's locals. (Hooks for new threads are not read: coverage sets a Python one.) `kept`:
    the guard's own profile functions (`guard_plugin_tables`, set for a test's call), not counted."""
    found = []
    for kind, get in (("trace", sys.gettrace), ("profile", sys.getprofile)):
        hook = get()
        of = type(hook)
        if any(hook is k for k in kept):  # the guard's own (`guard_plugin_tables`)
            continue
        if hook is not None and (of.__flags__ & _HEAPTYPE or not of.__module__.startswith("coverage")):
            found.append(kind)
    return found


class TraceCalls:
    """Every trace or profile function set while a frame of the graded tree is on the calling thread's
    stack, as "event from file:line". `sys.settrace` / `sys.setprofile` are replaced (`_entry`) to see
    what they are given, unseen by the tracers they set: putting back the function already set (doctest's `run` does, in a test) is no new
    trace. An audit hook (which nothing can remove) sees the other ways in, the original functions and
    the C API, and notes those the graded tree calls itself. Only coverage.py and debuggers trace a
    test run, from pytest's hooks or read-only code (a C tracer leaves locals alone; one left
    installed is `trace_hooks`'s business)."""

    EVENTS = frozenset({"sys.settrace", "sys.setprofile"})
    WALKS = frozenset({"gc.get_objects", "gc.get_referrers", "gc.get_referents"})

    def __init__(
        self,
        workdir: str,
        watch: Machinery | None = None,
        tests: frozenset[str] = frozenset(),
        kept: tuple[Any, ...] = (),
    ) -> None:
        self.workdir = workdir.rstrip("/") + "/"
        self.watch = watch
        self.tests = tests  # the test files (their own leak checks walk the heap)
        self.kept = kept  # the guard's own profile functions (`guard_plugin_tables`): removing one is noted
        self.calls: list[str] = []
        self.walks: list[str] = []
        self._inside: set[int] = set()  # threads inside an entry, calling the original
        self._entries: dict[str, tuple[Callable[[Any], None], Callable[[], Any], str]] = {}
        if self.workdir != "/":
            sys.settrace = self._entry(sys.settrace, sys.gettrace, "sys.settrace")
            sys.setprofile = self._entry(sys.setprofile, sys.getprofile, "sys.setprofile")
            sys.addaudithook(self._hook)

    def _entry(self, original: Callable[[Any], None], current: Callable[[], Any], event: str) -> Any:
        """What replaces `sys.settrace` / `sys.setprofile`: a builtin that runs no frame of its own and
        hands its argument to the audit hook, under an event of the guard's (`_set`). A wrapper written
        in Python would be seen by the very function it installs or removes (its `return`, its calls),
        and a suite that checks the exact events of its own tracer (greenlet's tracing tests) fails;
        CPython runs audit hooks with tracing off. The builtin is `get` of a read-only view
        (`MappingProxyType`) of an object whose own `get` is `sys.audit` with the event bound (a
        `partial`, no descriptor, so called with the argument and get's default alone): a builtin
        method, so a tracer sees the `c_call` the original's call shows; it returns None as the
        original does (greenlet puts back what `sys.setprofile` returned), and hashes nothing (an
        unhashable tracer is set as before)."""
        name = f"codekiln.guard.{event}"
        self._entries[name] = (original, current, event)
        call = functools.partial(sys.audit, name)
        entry = type("TraceEntry", (), {"__getitem__": call, "get": call, "__slots__": ()})
        return types.MappingProxyType(entry()).get

    def _set(self, name: str, args: tuple[Any, ...]) -> None:
        """An entry's call (`_entry`), in the audit hook: note a new trace or profile function set
        from the graded tree, then set it with the original function."""
        original, current, event = self._entries[name]
        function, now = args[0], current()
        if function is not None and function is not now and not self._readonly_tracer(function):
            self._note(event, sys._getframe(2))  # this, the hook, then the entry's caller
        elif function is None and any(now is k for k in self.kept):  # the guard's, put off by library code
            self._note(event, sys._getframe(2), self.tests)
        me = threading.get_ident()
        self._inside.add(me)
        try:
            original(function)
        finally:
            self._inside.discard(me)

    def _readonly_tracer(self, function: Any) -> bool:
        """A tracer that is all read-only code (Hypothesis's explain-phase tracer, coverage's Python
        one): a function of the venv or interpreter, or a method of an object whose class is theirs and
        whose every function, on the instance and its classes, is too (a subclass, or `bdb.Bdb` given a
        `user_line` of the tree's, would hand frames to code under test)."""
        watch = self.watch
        if watch is None or not watch.from_readonly(function):
            return False
        owner = getattr(function, "__self__", None)
        if owner is None or isinstance(owner, types.ModuleType):
            return True
        spaces = [getattr(owner, "__dict__", {}), *(vars(c) for c in type(owner).__mro__)]
        return watch.readonly_object(type(owner)) and all(
            watch.from_readonly(v)
            for space in spaces
            for v in list(space.values())
            if isinstance(v, types.FunctionType | types.MethodType)
        )

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        # Not through the wrappers: the C API (coverage's C tracer, cProfile), or the original
        # functions, which only the wrappers' closures hold (the static scan flags reading those).
        # Judged by the immediate Python caller only: a profiler run by read-only code is no new trace.
        if event in self._entries:
            self._set(event, args)
            return
        if event in self.WALKS:
            self._walk(event, sys._getframe(1))
        if event not in self.EVENTS or threading.get_ident() in self._inside:
            return
        frame = sys._getframe(1)
        if frame.f_code.co_filename.startswith(self.workdir):
            self.calls.append(f"{event} (not through sys) from {frame.f_code.co_filename}:{frame.f_lineno}")

    def _walk(self, event: str, frame: types.FrameType | None) -> None:
        """Refuse (raise out of) a walk of the interpreter's objects made with a frame of the graded
        tree's code that is not a test file anywhere on the stack, or off the main thread; note it. Only
        in a run told its test files (a graded one): others run the suite as it is."""
        if not self.tests:
            return
        where = "a thread other than the main one"
        while frame is not None:
            name = frame.f_code.co_filename
            if name.startswith(self.workdir) and name not in self.tests:
                where = f"{name}:{frame.f_lineno}"
                break
            frame = frame.f_back
        else:
            if threading.current_thread() is threading.main_thread():
                return
        self.walks.append(f"{event} from {where}")
        raise RuntimeError(f"{event} is refused to code under test while it is graded")

    def _note(self, event: str, frame: types.FrameType | None, past: frozenset[str] = frozenset()) -> None:
        while frame is not None:
            if frame.f_code.co_filename.startswith(self.workdir) and frame.f_code.co_filename not in past:
                self.calls.append(f"{event} from {frame.f_code.co_filename}:{frame.f_lineno}")
                return
            frame = frame.f_back
