"""The pytest internals the warm runner replaces, each listed with why (`PYTEST_PATCHES`), and the
replacements: a quiet terminal reporter for children and test modules' rewritten code kept in memory.
Runs inside the sandbox beside `warm_runner.py`; imports only the standard library and pytest."""

from __future__ import annotations

import hashlib
import sys
import traceback
import types
from typing import Any

try:  # beside this script (`in_sandbox.BESIDE`); imported now: `warm_runner.main` changes sys.path[0]
    from guard_plugin_bodies import wrap_tests
except ImportError:  # not there: the guard rewrites the test modules itself
    wrap_tests = None

PYTEST_PATCHES = {
    "_pytest.assertion.rewrite._read_pyc": "a re-collection in a child reuses a test module's "
    "assertion-rewritten code kept in memory by content, instead of reading its pyc again "
    "(`cache_rewritten_tests`)",
    "_pytest.assertion.rewrite._rewrite_test": "keeps the code pytest rewrites, for the same cache",
    "_pytest.assertion.rewrite.rewrite_asserts": "keeps the syntax tree of each test module pytest "
    "rewrites at start-up, to export its code wrapped as the guard wraps it (`warm_runner.export_rewritten`)",
    "_pytest.reports._format_failed_longrepr": "a failure's text is the last frames of its native "
    "traceback, made for the first MAX_TEXTS failures only (`_native_tail`): formatting every frame "
    "of a deep recursion cost more than running the tests; a doctest's is what its report says "
    "(`failure_text`)",
    "terminalreporter.pytest_runtest_logstart": "children write to /dev/null: the terminal reporter's "
    "per-test hooks only format output nobody reads (`quiet_terminal`)",
    "terminalreporter.pytest_runtest_logreport": "as above: a progress character per report",
    "terminalreporter.pytest_runtest_logfinish": "as above",
}
"""Every pytest internal the in-sandbox scripts replace, and why: `module.attribute` for module
attributes (replaced through `patch_internal`), `terminalreporter.HOOK` for the terminal reporter's
hook implementations. They are pytest's private names and can change in any release: a module
attribute that is missing is left alone (its speed-up is lost, results are not changed)."""


def renew_request(item: Any, again: bool) -> None:
    """A fresh fixture request for an item that ran in this process before (pytest clears `_request`
    after each run): `_initrequest` where it has one (a Function), else a new TopRequest (sybil's
    SybilItem makes its request once, in `__init__`, and pytest's second run of it raised
    "'SybilItem' object has no attribute '_initrequest'": testfixtures 12.4.0, every bug infra_error)."""
    if again and hasattr(item, "_initrequest"):
        item._initrequest()
    elif hasattr(item, "_request") and not item._request and not hasattr(item, "_initrequest"):
        from _pytest import fixtures

        item.funcargs = {}
        item._request = fixtures.TopRequest(pyfuncitem=item, _ispytest=True)


def patch_internal(module: Any, attr: str, new: Any) -> None:
    """Replace `module.attr` with `new`; only for targets listed in PYTEST_PATCHES."""
    name = f"{module.__name__}.{attr}"
    if name not in PYTEST_PATCHES:
        raise KeyError(f"{name} is not in PYTEST_PATCHES: list it there, with why it is patched")
    setattr(module, attr, new)


def _nothing(*args: Any) -> None:
    return None


def quiet_terminal(config: Any) -> None:
    """Children write to /dev/null: the terminal reporter's per-test hooks (a progress character, a
    `pytest_report_teststatus` call per report) would only format output nobody reads, ~15% of a
    job's CPU on a fast suite. Its other hooks, and every other plugin's, stay as they are."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    for name in [k.split(".", 1)[1] for k in PYTEST_PATCHES if k.startswith("terminalreporter.")]:
        for impl in getattr(config.hook, name).get_hookimpls():
            if impl.plugin is reporter:
                impl.function = _nothing


REWRITTEN: dict[str, tuple[bytes, types.CodeType]] = {}
"""Each test module's assertion-rewritten code, by path, with the source it came from."""
TREES: dict[str, tuple[bytes, Any]] = {}
"""Until `keep_trees(False)`: each module pytest rewrote from source, by path, its source and its
syntax tree as rewritten (compiled once more, wrapped, for the guard: `warm_runner.export_rewritten`)."""
_KEEP_TREES = [True]


def keep_trees(on: bool) -> None:
    """Whether rewriting a module keeps its tree in TREES (the session's start-up: yes; jobs: no)."""
    _KEEP_TREES[0] = on
    if not on:
        TREES.clear()


def guard_entries(config: Any) -> dict[str, tuple[Any, ...]]:
    """REWRITTEN as the guard plugin's rewrite cache holds it: {path: (sha256 of the source,
    enable_assertion_pass_hook, code)}; for a module pytest rewrote from source at start-up (its tree
    in TREES), code compiled from that tree with each test function wrapped by the guard's own
    `wrap_tests` (`guard_plugin_bodies`, shipped beside), as the guard compiles it: rewritten, then
    wrapped, then compiled, with the `python_functions` patterns as a fourth item (the guard uses the
    entry only under the same patterns). Drops the trees."""
    hook = bool(config.getini("enable_assertion_pass_hook"))
    patterns = tuple(config.getini("python_functions") or ["test"])
    out: dict[str, tuple[Any, ...]] = {}
    for path, (source, code) in REWRITTEN.items():
        digest, (kept, tree) = hashlib.sha256(source).hexdigest(), TREES.get(path, (None, None))
        out[path] = (digest, hook, code)
        if wrap_tests is not None and kept == source and tree is not None:
            wrap_tests(tree, list(patterns), path)
            out[path] = (digest, hook, compile(tree, path, "exec", dont_inherit=True), patterns)
    keep_trees(False)
    return out


def cache_rewritten_tests() -> None:
    """Keep each test module's assertion-rewritten code in memory with the source it came from: a
    child that re-imports the repository collects every test file again, and would otherwise read,
    hash and unmarshal each one's rewritten byte-code from disk (~1/8 of a re-collection). A file
    whose bytes differ from the kept source is read or rewritten by pytest as usual."""
    try:
        from _pytest.assertion import rewrite
    except ImportError:
        return
    read, rewrite_test = getattr(rewrite, "_read_pyc", None), getattr(rewrite, "_rewrite_test", None)
    if read is None or rewrite_test is None:
        return
    rewrite_asserts: Any = getattr(rewrite, "rewrite_asserts", None)
    codes = REWRITTEN

    def source_of(path: Any) -> bytes | None:
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except (OSError, TypeError, ValueError):
            return None

    def cached_read(source: Any, pyc: Any, *args: Any, **kwargs: Any) -> Any:
        data, kept = source_of(source), codes.get(str(source))
        if data is not None and kept is not None and kept[0] == data:
            return kept[1]
        code = read(source, pyc, *args, **kwargs)
        if data is not None and isinstance(code, types.CodeType):
            codes[str(source)] = (data, code)
        return code

    def cached_rewrite(fn: Any, *args: Any, **kwargs: Any) -> Any:
        data = source_of(fn)
        result = rewrite_test(fn, *args, **kwargs)
        if data is not None and isinstance(result, tuple) and isinstance(result[-1], types.CodeType):
            codes[str(fn)] = (data, result[-1])
        return result

    def kept_rewrite_asserts(mod: Any, source: bytes, module_path: Any = None, config: Any = None) -> None:
        rewrite_asserts(mod, source, module_path, config)
        if _KEEP_TREES[0] and module_path is not None and isinstance(source, bytes):
            TREES[str(module_path)] = (source, mod)

    patch_internal(rewrite, "_read_pyc", cached_read)
    patch_internal(rewrite, "_rewrite_test", cached_rewrite)
    if callable(rewrite_asserts):
        patch_internal(rewrite, "rewrite_asserts", kept_rewrite_asserts)


__all__ = [
    "PYTEST_PATCHES",
    "REWRITTEN",
    "TREES",
    "cache_rewritten_tests",
    "guard_entries",
    "keep_trees",
    "patch_internal",
    "quiet_terminal",
]


def failure_text(exc: BaseException, tb: Any, frames: int) -> str:
    """A failure's text: the last `frames` frames of its native traceback, or for a doctest what
    pytest's doctest report says. doctest's own exceptions only wrap the failure (their traceback
    shows `<DocTest NAME ...>` and pytest's frames, which once made whole problem statements), so an
    example that raised gives that exception's traceback, and one that printed something else gives
    the example, what it should print and what it printed, as `E` lines."""
    doctest = sys.modules.get("doctest")
    if doctest is not None and isinstance(exc, doctest.UnexpectedException):
        return "".join(traceback.format_exception(*exc.exc_info, limit=-frames))
    if doctest is not None and isinstance(exc, doctest.DocTestFailure):
        parts = [("Failed example:", exc.example.source), ("Expected:", exc.example.want), ("Got:", exc.got)]
        lines = [line for title, text in parts for line in [title, *_indented(text or "nothing")]]
        return "".join(f"E   {line}\n" for line in lines)
    return "".join(traceback.format_exception(type(exc), exc, tb, limit=-frames))


def _indented(text: str) -> list[str]:
    return ["    " + line for line in text.splitlines()]
