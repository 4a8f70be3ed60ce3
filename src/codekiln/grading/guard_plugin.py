"""codekiln's pytest plugin for every test run it grades or records (it runs inside the sandbox).

Loaded as `-p codekiln_guard_<nonce>` from a directory the grader writes fresh for each run. It imports
nothing from codekiln (the test process has only the environment's packages) and does three things:

1. Records every test under the node id pytest itself uses (`report.nodeid`), so an id always reruns
   exactly that test: inherited test methods, tests imported into another module and data-driven
   tests keep distinct ids (rebuilding ids from JUnit's `file` attribute merged them).
2. Writes those results (status, failure message, collection errors, pytest's own counts, the
   plugins registered during the session) to a JSON file named in its settings file.
3. Prints one marker line at the very end of the session:
   `codekiln-guard <nonce> exit=<status> results=<sha256> junit=<sha256>`, which the grader checks
   against the process's exit code and the files it reads back (see `grading.guard`).

Its settings reach it through `$CODEKILN_GUARD`, the path of a JSON file that it reads and deletes at
import, before any conftest or test module runs: the nonce is gone from the filesystem by the time
code under test runs. Code under test shares this process and can still forge all of it (that is why
the grader also plants canary tests and scans patches); the marker only makes forgery take effort
aimed at codekiln rather than at pytest.

The grader ships it compiled when the venv runs the grader's own Python (`grading.guard.plugin_files`),
else as this source, whose statements pytest leaves as written: PYTEST_DONT_REWRITE (it has no asserts).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import itertools
import json
import marshal
import operator
import os
import re
import sys
import sysconfig
import types
from typing import Any

import pytest

_RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}
_SETTINGS: dict[str, Any] = {}


def _load_settings() -> None:
    path = os.environ.pop("CODEKILN_GUARD", "")
    if not path:
        return
    try:
        with open(path, encoding="utf-8") as fh:
            _SETTINGS.update(json.load(fh))
        os.unlink(path)
    except (OSError, ValueError):
        return


_load_settings()
# The test files' sources, read now, before any conftest or code under test runs: what each test's
# code is checked against when it is called (`Guard.check_item`).
_TRUSTED: dict[str, bytes] = {}
for _path in _SETTINGS.get("trusted", []):
    try:
        with open(_path, "rb") as _fh:
            _TRUSTED[_path] = _fh.read()
    except OSError:
        pass
# What pytest compiled from those bytes, per file: the module code objects (kept, so that the ids of
# every code object inside them stay theirs) and those ids; their keys (`_key`) only when asked.
_COMPILED: dict[str, list[types.CodeType]] = {}
_COMPILED_IDS: dict[str, set[int]] = {}
# Rewritten test code that an earlier run on the clean snapshot made (`grading.guard.RewriteCache`), by
# path: (sha256 of the source, enable_assertion_pass_hook, code). Read now, like the settings; used
# only for a trusted source whose bytes have that hash, so it is exactly what rewriting them makes.
_REWRITTEN: dict[str, tuple[str, bool, types.CodeType]] = {}
if _SETTINGS.get("rewrites"):
    try:
        with open(_SETTINGS["rewrites"], "rb") as _fh:
            _REWRITTEN.update(marshal.load(_fh))
        os.unlink(_SETTINGS["rewrites"])
    except (OSError, ValueError, EOFError, TypeError):
        _REWRITTEN.clear()
_WATCHED = ("pytest", "_pytest", "pluggy", "unittest", "builtins", "doctest")


# One entry per namespace watched: (module name, class name or "", attribute names, their values at
# start-up). The values themselves are kept (not their ids): an id can be reused once an object is gone.
_Watched = tuple[str, str, tuple[str, ...], tuple[Any, ...]]
_WATCHED_VALUES = (type, types.FunctionType, types.BuiltinFunctionType)
_WATCHED_MEMBERS = (classmethod, staticmethod, property)


def _machinery() -> list[_Watched]:
    """The test machinery's functions and classes, and their classes' attributes, as they are now:
    the modules of pytest, pluggy, unittest and doctest, and the builtins."""
    out: list[_Watched] = []
    for name, module in list(sys.modules.items()):
        if module is None or name.split(".", 1)[0] not in _WATCHED:
            continue
        top: dict[str, Any] = {}
        for attr, value in list(vars(module).items()):
            if isinstance(value, _WATCHED_VALUES):
                top[attr] = value
            if isinstance(value, type) and getattr(value, "__module__", None) == name:
                members = {
                    member: inner
                    for member, inner in list(vars(value).items())
                    if callable(inner) or isinstance(inner, _WATCHED_MEMBERS)
                }
                if members:
                    out.append((name, attr, tuple(members), tuple(members.values())))
        if top:
            out.append((name, "", tuple(top), tuple(top.values())))
    return out


class _Snapshot:
    """The machinery as the last check found it, flat, so that the next check can tell in a few passes
    in C whether anything at all changed since: per namespace watched, the live namespace (a module's
    `__dict__`, a class's mapping proxy) and an `itemgetter` of its watched names; all their values in
    one tuple, compared by identity. Taken only when that check found no change (`_machinery_changes`),
    and the same state gives the same verdict: the modules must still be the objects in `sys.modules`
    and own the same `__dict__` (a class is itself a watched value of its module, so its namespace is
    found again too); only the excused replacements (`excused`) are judged again, by their code."""

    def __init__(self, watched: list[_Watched], excused: list[Any]) -> None:
        modules = {name: sys.modules.get(name) for name, _, _, _ in watched}
        self.names, self.modules = tuple(modules), tuple(modules.values())
        self.dicts = tuple(map(_namespace, self.modules))
        self.excused = excused
        spaces, getters = [], []
        for name, owner, attrs, _ in watched:
            holder = _namespace(modules[name])
            if owner:
                cls = holder.get(owner)
                holder = _namespace(cls) if isinstance(cls, type) else {}
            spaces.append(holder)
            getters.append(operator.itemgetter(*attrs, attrs[0]))  # 2+ names: it always gives a tuple
        self.spaces, self.getters = tuple(spaces), tuple(getters)
        self.values = self._now()

    def _now(self) -> tuple[Any, ...]:
        return tuple(
            itertools.chain.from_iterable(map(operator.itemgetter.__call__, self.getters, self.spaces))
        )

    def same(self) -> bool:
        try:
            return (
                not any(map(operator.is_not, map(sys.modules.get, self.names), self.modules))
                and not any(map(operator.is_not, map(_namespace, self.modules), self.dicts))
                and not any(map(operator.is_not, self._now(), self.values))
                and all(map(_from_readonly, self.excused))
            )
        except Exception:  # a name gone, a namespace that cannot be read: the full check names it
            return False


_MACHINERY: list[_Watched] = []
_SNAPSHOT: list[_Snapshot] = []
_PATHS = sysconfig.get_paths()
_READONLY = tuple(
    p.rstrip("/") + "/" for k in ("stdlib", "platstdlib", "purelib", "platlib") if (p := _PATHS.get(k))
)


def _from_readonly(value: Any) -> bool:
    """Whether a replacement comes from the read-only venv or interpreter (an installed plugin's)."""
    func = getattr(value, "__func__", None) or getattr(value, "fget", None) or value
    code = getattr(func, "__code__", None)
    where = getattr(code, "co_filename", "") if code is not None else ""
    workdir = str(_SETTINGS.get("workdir", "")).rstrip("/") + "/"
    return bool(where) and where.startswith(_READONLY) and not where.startswith(workdir)


def _namespace(obj: Any) -> Any:
    try:
        return vars(obj)
    except TypeError:  # replaced by something without a namespace: every name in it is gone
        return {}


def _machinery_changes() -> list[str]:
    """What was replaced in the test machinery since start-up (new names are not counted, nor
    replacements whose code lives in the read-only venv or interpreter). Names are looked up afresh
    each time (a module swapped in `sys.modules`, a class swapped in its module, count as changes of
    every name they hold); the bulk comparison is by identity, in C (`_Snapshot`)."""
    if _SNAPSHOT and _SNAPSHOT[0].same():
        return []
    changed, excused = [], []
    for name, owner, attrs, values in _MACHINERY:
        holder = _namespace(sys.modules.get(name))
        if owner:
            cls = holder.get(owner)
            holder = _namespace(cls) if isinstance(cls, type) else {}
        now = list(map(holder.get, attrs))
        if not any(map(operator.is_not, now, values)):
            continue
        for attr, value, was in zip(attrs, now, values, strict=True):
            if value is not was and (value is None or not _from_readonly(value)):
                changed.append(f"{name}.{owner + '.' if owner else ''}{attr}")
            elif value is not was:
                excused.append(value)
    if not changed:
        _SNAPSHOT[:] = [_Snapshot(_MACHINERY, excused)]
    return changed


_HEAPTYPE = 1 << 9  # Py_TPFLAGS_HEAPTYPE: a type made by a class statement (or type()) at run time


def _trace_hooks() -> list[str]:
    """The trace and profile functions set now in the thread the tests run in, but a coverage.py C
    tracer (a project's `--cov`): a type compiled into an extension module cannot be made, nor
    renamed, by code under test. Nothing else of a graded run traces, and a trace function can
    rewrite a test's locals. (Hooks for new threads are not read: coverage sets a Python one.)"""
    found = []
    for kind, get in (("trace", sys.gettrace), ("profile", sys.getprofile)):
        hook = get()
        of = type(hook)
        if hook is not None and (of.__flags__ & _HEAPTYPE or not of.__module__.startswith("coverage")):
            found.append(kind)
    return found


def _compile_trusted_test_modules() -> None:
    """pytest compiles (and rewrites) test modules and conftests in `_rewrite_test`: make it read the
    trusted bytes read above instead of the file as it is now, and keep what each compile made."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    original = rewrite._rewrite_test

    def _rewrite_test(fn: Any, config: Any) -> Any:
        path = str(fn)
        kept = _REWRITTEN.get(path)
        if path in _TRUSTED and kept is not None and hasattr(rewrite, "_write_pyc"):
            hook = bool(config.getini("enable_assertion_pass_hook")) if config is not None else False
            if kept[:2] == (hashlib.sha256(_TRUSTED[path]).hexdigest(), hook):
                _COMPILED.setdefault(path, []).append(kept[2])
                _COMPILED_IDS.setdefault(path, set()).update(map(id, _walk(kept[2])))
                return None, kept[2]  # the first item only feeds _write_pyc, a no-op here
        if path in _TRUSTED:
            source = _TRUSTED[path]

            class _Trusted(type(fn)):  # type: ignore[misc]
                def read_bytes(self) -> bytes:
                    return source

            fn = _Trusted(path)
        result = original(fn, config)
        code = result[-1] if isinstance(result, tuple) else result
        if path in _TRUSTED and isinstance(code, types.CodeType):
            _COMPILED.setdefault(path, []).append(code)
            _COMPILED_IDS.setdefault(path, set()).update(map(id, _walk(code)))
            hook = bool(config.getini("enable_assertion_pass_hook")) if config is not None else False
            _REWRITTEN[path] = (hashlib.sha256(_TRUSTED[path]).hexdigest(), hook, code)
        return result

    rewrite._rewrite_test = _rewrite_test
    # A rewritten module that an earlier run left in __pycache__ was not compiled from the bytes read
    # above (it would be flagged as a replaced test): every run compiles afresh, and writes nothing
    # that no run may read back.
    if hasattr(rewrite, "_read_pyc"):
        rewrite._read_pyc = lambda *args, **kwargs: None
    if hasattr(rewrite, "_write_pyc"):
        rewrite._write_pyc = lambda *args, **kwargs: False


def _key(code: types.CodeType) -> tuple[Any, ...]:
    consts = tuple(
        _key(c) if isinstance(c, types.CodeType) else (type(c).__name__, repr(c)) for c in code.co_consts
    )
    return (code.co_code, code.co_names, consts)


def _walk(code: types.CodeType) -> Any:
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _walk(const)


def _plain_keys(path: str) -> set[tuple[Any, ...]]:
    """Every function's code in the plain compile of a trusted test source (what Python itself makes of
    a module pytest does not rewrite, such as a test package's __init__.py)."""
    try:
        return {_key(c) for c in _walk(compile(_TRUSTED[path], path, "exec", dont_inherit=True))}
    except Exception:  # a test file that does not compile: its tests fail on their own
        return set()


def _names(path: str) -> set[str]:
    try:
        return {
            n.name
            for n in ast.walk(ast.parse(_TRUSTED[path]))
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
        }
    except SyntaxError:
        return set()


def _functions(obj: Any) -> list[Any]:
    """A test callable's function and those it wraps (`__wrapped__`), outermost first."""
    out: list[Any] = []
    while obj is not None and len(out) < 20:
        func = getattr(obj, "__func__", obj)
        if not isinstance(getattr(func, "__code__", None), types.CodeType):
            break
        out.append(func)
        obj = getattr(func, "__wrapped__", None)
    return out


def _readonly_object(value: Any) -> bool:
    """A function, or a class, defined in the read-only venv or interpreter."""
    if isinstance(value, type):
        where = getattr(sys.modules.get(value.__module__), "__file__", None) or ""
        return where.startswith(_READONLY)
    return _from_readonly(value)


def _readonly_proxy(func: Any) -> bool:
    """Whether `func` is a proxy compiled by read-only code and renamed to a test file: hypothesis's
    `@given` execs `def test_x(self, a): return f(self, a)` and then `impersonate`s the test, giving
    that code the test file's name (so tracebacks show the test). It is accepted when all it runs
    is read-only code: no nested code of its own, its closure and the globals it names hold only
    read-only functions and classes. The function it forwards to could have been the test callable
    itself and be accepted (read-only code is), so this accepts nothing new; the `__wrapped__` test it
    stands for is still checked against its source."""
    code = func.__code__
    cells = func.__closure__ or ()
    if not cells or any(isinstance(c, types.CodeType) for c in code.co_consts):
        return False
    try:
        held = [cell.cell_contents for cell in cells]
    except ValueError:  # an empty cell
        return False
    named = [func.__globals__.get(n) for n in code.co_names]
    return all(_readonly_object(v) for v in held + named)


# Speed only, same output. Every graded run reports failures (its canaries) and writes JUnit XML, and
# pytest pays for both with one-off work a plain passing run never does (~10% of a small run):
def _map_test_modules() -> None:
    """Trusted test modules into `inspect`'s file -> module cache, as its own scan would put them: on
    a file it has not seen, `inspect.getmodule` (asked by pytest's traceback formatting) realpath()s
    every loaded module's file (~300 modules, thousands of lstat calls) to find the one it wants."""
    cache = getattr(inspect, "modulesbyfile", None)
    if not isinstance(cache, dict):
        return
    for module in list(sys.modules.values()):
        if issubclass(type(module), types.ModuleType):  # read through vars(): no lazy __getattr__ runs
            path, name = vars(module).get("__file__"), vars(module).get("__name__")
            if isinstance(path, str) and path in _TRUSTED and isinstance(name, str):
                cache.setdefault(path, name)


_XML_UNSAFE_ASCII = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _fast_junit_escape() -> None:
    """pytest escapes each JUnit string with a pattern spanning Unicode's valid XML ranges, compiled on
    first use at a cost of ~10 ms a run; ASCII text with nothing to escape is now returned at once."""
    try:
        from _pytest import junitxml
    except ImportError:
        return
    original = junitxml.bin_xml_escape

    def bin_xml_escape(arg: object) -> str:
        text = str(arg)
        return text if text.isascii() and not _XML_UNSAFE_ASCII.search(text) else original(text)

    junitxml.bin_xml_escape = bin_xml_escape


def _share_module_trees() -> None:
    """pytest parses a test module, and walks its whole tree, once more for every failure it reports
    in it (the canaries fail two or more times a run): keep the tree of each module's text."""
    try:
        from _pytest._code import code
    except ImportError:
        return
    original = code.getstatementrange_ast
    trees: dict[str, Any] = {}

    def getstatementrange_ast(lineno: int, source: Any, assertion: bool = False, astnode: Any = None) -> Any:
        text = str(source) if astnode is None else ""
        found = original(lineno, source, assertion, astnode or trees.get(text))
        if text and len(trees) < 16:
            trees.setdefault(text, found[0])
        return found

    code.getstatementrange_ast = getstatementrange_ast


def _cut_by_line_first() -> None:
    """To show a failure, pytest cuts its traceback at the test function (`Traceback.cut`), testing
    each frame from the outermost (~35 of pytest and pluggy) for the test's file and first line; the
    file test makes a path object and a `stat` per frame. Frames whose first line or file name cannot
    match are now passed over first; pytest's own cut then runs from the first that can."""
    try:
        from _pytest._code.code import Traceback
        from _pytest.pathlib import absolutepath
    except ImportError:
        return
    original = Traceback.cut

    def cut(
        self: Any, path: Any = None, lineno: Any = None, firstlineno: Any = None, excludepath: Any = None
    ) -> Any:
        if path is None or excludepath is not None:
            return original(self, path, lineno, firstlineno, excludepath)
        want = os.fspath(path)
        for i, entry in enumerate(self):
            code = entry.frame.code
            if firstlineno is not None and code.firstlineno != firstlineno:
                continue
            name = code.raw.co_filename  # Code.path is this name, made absolute when the file exists
            if want != name and want != str(absolutepath(name)):
                continue
            rest = self[i:]
            found = original(rest, path, lineno, firstlineno, excludepath)
            return self if found is rest else found
        return self

    Traceback.cut = cut  # type: ignore[method-assign]


def _digest(path: str | None) -> str:
    if not path:
        return "-"
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return "-"


def _message(report: Any) -> str:
    crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
    text = getattr(crash, "message", None) or getattr(report, "longreprtext", "") or ""
    return str(text).strip()[:2000]


class Guard:
    def __init__(self) -> None:
        self.statuses: dict[str, str] = {}
        self.messages: dict[str, str] = {}
        self.collection_errors: dict[str, str] = {}
        self.collection_skips: dict[str, str] = {}
        self.deselected: list[str] = []
        self.forged: list[str] = []
        self._keys: dict[str, set[tuple[Any, ...]]] = {}
        self._compiled_keys: dict[str, tuple[int, set[tuple[Any, ...]]]] = {}
        self._watch = set(_SETTINGS.get("watch", []))
        self._machinery_reported = False
        self._hooks_reported = False
        self._readonly = _READONLY
        self._workdir = str(_SETTINGS.get("workdir", "")).rstrip("/") + "/"

    def check_item(self, item: Any) -> None:
        """A test about to run must be the code of its trusted source file: every function it is made
        of either compiles from a test file read at start-up or lives in read-only code (the venv,
        the interpreter). Anything else means the test was replaced after the files were read."""
        if not _TRUSTED or not isinstance(item, pytest.Function):
            return
        funcs = _functions(getattr(item, "obj", None))
        if not funcs:
            return
        codes = [f.__code__ for f in funcs]
        for func, code in zip(funcs, codes, strict=True):
            where = code.co_filename
            if where.startswith(self._readonly) and not where.startswith(self._workdir):
                continue
            if where in _TRUSTED:
                if id(code) in _COMPILED_IDS.get(where, ()):  # the very code pytest compiled from them
                    continue
                key = _key(code)  # else the same code made afresh, or Python's own compile of them
                modules = _COMPILED.get(where, [])
                if self._compiled_keys.get(where, (-1,))[0] != len(modules):
                    self._compiled_keys[where] = (len(modules), {_key(c) for m in modules for c in _walk(m)})
                if key in self._compiled_keys[where][1]:
                    continue
                if where not in self._keys:
                    self._keys[where] = _plain_keys(where)
                if key in self._keys[where] or _readonly_proxy(func):
                    continue
            self.forged.append(
                f"{item.nodeid}: runs {code.co_name}() from {where}, which is not the test's source"
            )
            return
        name = getattr(item, "originalname", None) or item.name.split("[", 1)[0]
        if codes[-1].co_filename.startswith(self._readonly) and not any(name in _names(p) for p in _TRUSTED):
            self.forged.append(f"{item.nodeid}: no function {name} in the test files")

    def check_machinery(self, when: str) -> None:
        hooks = _trace_hooks()
        if hooks and not self._hooks_reported:
            self._hooks_reported = True
            self.forged.append(f"a {' and a '.join(hooks)} function was installed ({when})")
        changed = _machinery_changes()
        if changed and not self._machinery_reported:
            self._machinery_reported = True
            shown = ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")
            self.forged.append(f"the test machinery was changed at run time ({when}): {shown}")

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.check_machinery("after collection")
        _map_test_modules()
        export = _SETTINGS.get("export_rewrites")
        if export:  # a run on the clean snapshot, before any test: see `grading.guard.RewriteCache`
            with open(export, "wb") as fh:  # what it was given, and what it rewrote from trusted bytes
                marshal.dump(_REWRITTEN, fh)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_call(self, item: pytest.Item) -> None:
        self.check_item(item)
        overridden = [a for a in ("runtest", "setup", "teardown", "repr_failure") if a in vars(item)]
        if overridden:
            self.forged.append(f"{item.nodeid}: {', '.join(overridden)} replaced on the test item")
        if item.nodeid in self._watch or item.nodeid.split("[", 1)[0] in self._watch:
            self.check_machinery(f"before {item.nodeid}")

    def _set(self, nodeid: str, status: str, message: str) -> None:
        old = self.statuses.get(nodeid)
        if old is None or _RANK[status] > _RANK[old]:
            self.statuses[nodeid] = status
            if message:
                self.messages[nodeid] = message

    @pytest.hookimpl(trylast=True)
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        xfail = hasattr(report, "wasxfail")
        if report.when == "call":
            if report.passed:
                self._set(report.nodeid, "passed", "")
            elif report.skipped:  # skipped inside the test, or an expected failure
                self._set(report.nodeid, "skipped", "")
            else:
                self._set(report.nodeid, "failed", _message(report))
        elif report.failed:  # setup or teardown broke
            self._set(report.nodeid, "error", f"failed on {report.when}: " + _message(report))
        elif report.skipped and report.when == "setup":
            self._set(report.nodeid, "skipped", "xfail" if xfail else "")

    @pytest.hookimpl(trylast=True)
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collection_errors[report.nodeid or "<session>"] = _message(report) or "collection failed"
        elif report.skipped:  # a module-level skip or importorskip: pytest's summary counts it as skipped
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else _message(report)
            self.collection_skips[report.nodeid or "<session>"] = str(reason).removeprefix("Skipped: ")[:2000]

    def pytest_deselected(self, items: list[pytest.Item]) -> None:
        self.deselected.extend(item.nodeid for item in items)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        out = _SETTINGS.get("out")
        if not out:
            return
        config = session.config
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        stats = getattr(reporter, "stats", {}) or {}
        counted = {
            key: len([r for r in reports if isinstance(r, pytest.TestReport)])
            for key, reports in stats.items()
            if key in ("passed", "failed", "error", "skipped", "xfailed", "xpassed")
        }
        tested = {r.nodeid for reports in stats.values() for r in reports if isinstance(r, pytest.TestReport)}
        plugins = set()
        for plugin in config.pluginmanager.get_plugins():
            module = plugin if hasattr(plugin, "__file__") else sys.modules.get(type(plugin).__module__)
            plugins.add(str(getattr(module, "__file__", None) or ""))
        self.check_machinery("at the end of the session")
        from_dists = {id(plugin) for plugin, _ in config.pluginmanager.list_plugin_distinfo()}
        for plugin in config.pluginmanager.get_plugins():
            module = plugin if hasattr(plugin, "__file__") else sys.modules.get(type(plugin).__module__)
            where = str(getattr(module, "__file__", None) or "")
            trusted = where in _TRUSTED or id(plugin) in from_dists or id(module) in from_dists
            if _TRUSTED and where.startswith(self._workdir) and not trusted:
                self.forged.append(f"a pytest plugin was registered from {where}")
        for path in sorted(plugins):
            if (
                _TRUSTED
                and path.startswith(self._workdir)
                and path.endswith("/conftest.py")
                and path not in _TRUSTED
            ):
                self.forged.append(f"{path} appeared during the run and was loaded as a conftest")
        data = {
            "nonce": _SETTINGS.get("nonce", ""),
            "exitstatus": int(exitstatus),
            "statuses": self.statuses,
            "messages": self.messages,
            "collection_errors": self.collection_errors,
            "collection_skips": self.collection_skips,
            "deselected": self.deselected,
            "pytest_counts": counted,
            "pytest_tests": len(tested),
            "plugin_files": sorted(plugins),
            "forged": self.forged,
        }
        with open(out, "w", encoding="utf-8") as fh:
            json.dump(data, fh)
        line = (
            f"\ncodekiln-guard {_SETTINGS.get('nonce', '')} exit={int(exitstatus)} "
            f"results={_digest(out)} junit={_digest(_SETTINGS.get('junit'))}\n"
        )
        sys.stdout.flush()
        os.write(1, line.encode())


_compile_trusted_test_modules()
_fast_junit_escape()
_share_module_trees()
_cut_by_line_first()
_MACHINERY.extend(_machinery())


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    """Load the environment's `pytest11` plugins named in the settings, as autoload would (called as
    soon as this plugin registers, before any conftest). Named with `-p NAME` instead, a plugin whose
    entry-point name is also an imported module's (pytest-socket's `socket`) made pytest warn that it
    cannot rewrite that module, which `filterwarnings = error` turned into a failed session."""
    for name in _SETTINGS.get("plugins", []):
        pluginmanager.load_setuptools_entrypoints("pytest11", name=name)


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(Guard(), "codekiln-guard")
