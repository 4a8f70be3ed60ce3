"""The pytest internals the warm runner replaces, each listed with why (`PYTEST_PATCHES`), and the
replacements: a quiet terminal reporter for children and test modules' rewritten code kept in memory.
Runs inside the sandbox beside `warm_runner.py`; imports only the standard library and pytest."""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import pickle
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
    "_pytest.assertion.rewrite._rewrite_test": "keeps the code pytest rewrites, for the same cache, "
    "and takes the code the environment's coverage run rewrote from the same bytes (`GIVEN`); "
    "the coverage run switches its tracer off around it (`cover_runner.untraced_rewrites`)",
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
HASHED: set[str] = set()
"""The paths in REWRITTEN whose rewrite gave pytest's source hash beside the code (pytest >= 9):
what `plain_entries` can give another run, which makes the same pair from the bytes alone."""
GIVEN: dict[str, dict[str, tuple[Any, ...]]] = {"plain": {}, "guard": {}}
"""Test code another run on the clean snapshot of this environment rewrote (the coverage run:
`export`), handed in by the host (`load_given`): `plain`, {path: (sha256 of the source,
enable_assertion_pass_hook, code)}, taken instead of rewriting the same bytes under the same hook;
`guard`, entries in the guard's format, exported as they are for a module taken from `plain`."""
EXPORTS = ("rewritten.marshal", "rewritten-plain.marshal")
"""The files `export` writes into a folder: the guard's entries, then the plain code."""


def keep_trees(on: bool) -> None:
    """Whether rewriting a module keeps its tree in TREES (the session's start-up: yes; jobs: no)."""
    _KEEP_TREES[0] = on
    if not on:
        TREES.clear()


def pack_trees() -> None:
    """Keep no more trees, and hold the kept ones pickled until `guard_entries`: bytes the garbage
    collector never walks. A run that goes on to run the suite (the coverage run) would otherwise
    carry every test module's tree through it (toolz: ~1.6 CPU s more, the full collections)."""
    _KEEP_TREES[0] = False
    for path, (source, tree) in list(TREES.items()):
        TREES[path] = (source, pickle.dumps(tree, protocol=pickle.HIGHEST_PROTOCOL))


def _hook(config: Any) -> bool:
    return bool(config.getini("enable_assertion_pass_hook"))


def plain_entries(config: Any) -> dict[str, tuple[Any, ...]]:
    """REWRITTEN as `GIVEN["plain"]` holds it, for the modules whose rewrite another run can stand
    for (`HASHED`)."""
    hook = _hook(config)
    return {
        path: (hashlib.sha256(source).hexdigest(), hook, code)
        for path, (source, code) in REWRITTEN.items()
        if path in HASHED
    }


def export(config: Any, folder: str) -> None:
    """Write the rewritten test code into `folder` (`EXPORTS`): `guard_entries` (which drops the
    trees), then `plain_entries`."""
    plain = plain_entries(config)
    for name, entries in zip(EXPORTS, (guard_entries(config), plain), strict=True):
        with open(os.path.join(folder, name), "wb") as fh:
            marshal.dump(entries, fh)


def load_given(folder: str) -> None:
    """Read into GIVEN what the host put in `folder` as `given-` + each of `EXPORTS` (none: nothing)."""
    for kind, name in zip(("guard", "plain"), EXPORTS, strict=True):
        try:
            with open(os.path.join(folder, f"given-{name}"), "rb") as fh:
                entries = marshal.load(fh)
        except (OSError, EOFError, ValueError, TypeError):
            continue
        if isinstance(entries, dict):
            GIVEN[kind] = entries


def guard_entries(config: Any) -> dict[str, tuple[Any, ...]]:
    """REWRITTEN as the guard plugin's rewrite cache holds it: {path: (sha256 of the source,
    enable_assertion_pass_hook, code)}; for a module pytest rewrote from source at start-up (its tree
    in TREES), code compiled from that tree with each test function wrapped by the guard's own
    `wrap_tests` (`guard_plugin_bodies`, shipped beside), as the guard compiles it: rewritten, then
    wrapped, then compiled, with the `python_functions` patterns as a fourth item (the guard uses the
    entry only under the same patterns). Drops the trees."""
    hook = _hook(config)
    patterns = tuple(config.getini("python_functions") or ["test"])
    out: dict[str, tuple[Any, ...]] = {}
    for path, (source, code) in REWRITTEN.items():
        digest, (kept, tree) = hashlib.sha256(source).hexdigest(), TREES.get(path, (None, None))
        tree = pickle.loads(tree) if isinstance(tree, bytes) else tree  # held by `pack_trees`
        given = GIVEN["guard"].get(path)
        out[path] = (digest, hook, code)
        if wrap_tests is not None and kept == source and tree is not None:
            wrap_tests(tree, list(patterns), path)
            out[path] = (digest, hook, compile(tree, path, "exec", dont_inherit=True), patterns)
        elif (
            isinstance(given, tuple)
            and len(given) == 4
            and given[:2] == (digest, hook)
            and given[3] == patterns
        ):
            out[path] = given  # taken from `GIVEN["plain"]`: wrapped where that code was made
    keep_trees(False)
    return out


def given_for(given: Any, data: bytes, config: Any) -> bool:
    """Whether `given` (a `GIVEN["plain"]` entry) is the code rewriting `data` under `config` makes."""
    return (
        isinstance(given, tuple)
        and len(given) == 3
        and isinstance(given[2], types.CodeType)
        and config is not None
        and given[:2] == (hashlib.sha256(data).hexdigest(), _hook(config))
    )


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
        data, given = source_of(fn), GIVEN["plain"].get(str(fn))
        config = args[0] if args else kwargs.get("config")
        if data is not None and given is not None and given_for(given, data, config):
            result: Any = (importlib.util.source_hash(data), given[2])  # what rewriting the bytes gives
        else:
            result = rewrite_test(fn, *args, **kwargs)
        if data is not None and isinstance(result, tuple) and isinstance(result[-1], types.CodeType):
            codes[str(fn)] = (data, result[-1])
            if len(result) == 2 and result[0] == importlib.util.source_hash(data):
                HASHED.add(str(fn))
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
    "EXPORTS",
    "GIVEN",
    "PYTEST_PATCHES",
    "REWRITTEN",
    "TREES",
    "cache_rewritten_tests",
    "export",
    "guard_entries",
    "keep_trees",
    "load_given",
    "pack_trees",
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
