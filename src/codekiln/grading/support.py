"""Test support code that lives in the package: the modules a graded test file imports that no module
of the library itself imports (a package's shared assertions, `pandas/_testing`, `pkg/_checks.py`).
They are the tests' own code under a library's name: a change that made `assert_close` return early
fixed nothing and scored resolved, since every graded assertion went through it. So such a module is
put back as in the snapshot unless the task's fix changes it, as a test file is (`reverted`,
`SUPPORT`), by the grader and by an exported task's verifier (the list travels in its state).

    support_modules(snapshot_dir, ["tests/test_core.py"], fixed={"pkg/__init__.py"})
    # frozenset({"pkg/_checks.py"})

Read with `ast` from the snapshot, never from the change: a module is support when some graded test
file imports it (directly, or through other support modules) and no other module of the snapshot that
is not a test file does (a package's `__init__.py` never is: importing any submodule runs it). What a
test file or a helper loads by a literal name (`importlib.import_module("pkg._checks")`) is its
import too: read only as `import pkg._checks`, such a helper was no support module, and a patch
neutering it resolved. The library's own loads by name are not read: a library module loaded only so
looks unimported, and a change to it that the fix leaves alone is put back too, which costs a fix made
there instead of where the bug is. A helper the package re-exports (`from ._compare import
assert_same_items` in its `__init__.py`, the tests' `from pkg import assert_same_items`) is reached
through that re-export, and is not the library's by it when the `__init__.py` never reads the name and
the helper imports no module of the snapshot: the library never runs its code, so it was a patch's
way to neuter the tests' assertions. The price, as above: a fix made in such a module for a bug
elsewhere is put back. Standard library only.
"""

from __future__ import annotations

import ast
import os
import sys
from collections import deque
from collections.abc import Collection, Iterable, Iterator
from functools import lru_cache
from pathlib import Path, PurePosixPath

from codekiln.grading.pathrules import SUPPORT, is_protected

SKIP_DIRS = frozenset({".git", "__pycache__", "node_modules", ".tox", ".nox"})


def support_modules(snapshot: Path, test_files: Iterable[str], fixed: Collection[str]) -> frozenset[str]:
    """Repo-relative paths of the snapshot's test support modules for `test_files` that are put back
    (see the module docstring): those the fix (`fixed`) leaves alone. None when the fix is unknown (no
    bug patch: a record written by hand), since then the module a fix belongs in cannot be told from a
    helper."""
    if not fixed:
        return frozenset()
    return frozenset(p for p in held_modules(snapshot, test_files) if p not in fixed)


def held_modules(snapshot: Path, test_files: Iterable[str]) -> frozenset[str]:
    """Every test support module of `test_files`, whatever a fix changes: what the guard holds to its
    trusted source while the tests run (`grading.guard_plugin_support`)."""
    tests = tuple(sorted({f for f in test_files if f.endswith(".py")}))
    return _support(Path(snapshot).resolve(), tests)


@lru_cache(maxsize=64)
def _support(snapshot: Path, tests: tuple[str, ...]) -> frozenset[str]:
    names = _module_index(snapshot)
    support: set[str] = set()
    todo = [t for t in tests if (snapshot / t).is_file()]
    seen = set(todo)
    while todo:  # what the tests import, and what those modules import in turn
        rel = todo.pop()
        for path in _imported_paths(snapshot, rel, names, by_name=True) | _through_packages(
            snapshot, rel, names
        ):
            if path in seen or PurePosixPath(path).name == "__init__.py":
                continue
            seen.add(path)
            todo.append(path)  # a test helper's imports are the tests' too
            if not is_protected(path):
                support.add(path)
    if not support:
        return frozenset()
    changed = True
    while changed:  # a module the library imports is the library's, and so is what it imports
        changed = False
        stems = {PurePosixPath(p).stem.encode() for p in support}
        for rel in _library_files(snapshot):
            if rel in support or not any(s in _bytes(snapshot, rel) for s in stems):
                continue
            hit = {
                p for p in support & _imported_paths(snapshot, rel, names) if _runs(snapshot, rel, p, names)
            }
            if hit:
                support -= hit
                changed = True
    # The test files importable under a support module's name (put back as in the snapshot anyway):
    # which one the run loads is decided by its sys.path (semver 3.2.0's `pythonpath = src tests` loads
    # tests/semverwithvprefix.py, not docs/advanced/semverwithvprefix.py), and the guard holds the
    # loaded one to its own source.
    alike = {rel for rels in names.values() if support & set(rels) for rel in rels if is_protected(rel)}
    return frozenset(support | alike)


@lru_cache(maxsize=8)
def _library_files(snapshot: Path) -> tuple[str, ...]:
    """Every .py file of the snapshot that no rule protects as a test or start-up file."""
    out = []
    for folder, dirs, files in os.walk(snapshot):
        dirs[:] = sorted(
            d for d in dirs if d not in SKIP_DIRS and not d.endswith((".dist-info", ".egg-info"))
        )
        for name in files:
            if name.endswith(".py"):
                rel = Path(folder, name).relative_to(snapshot).as_posix()
                if not is_protected(rel):
                    out.append(rel)
    return tuple(sorted(out))


@lru_cache(maxsize=4096)
def _bytes(snapshot: Path, rel: str) -> bytes:
    try:
        return (snapshot / rel).read_bytes()
    except OSError:
        return b""


@lru_cache(maxsize=8)
def _module_index(snapshot: Path) -> dict[str, tuple[str, ...]]:
    """Dotted module name -> the snapshot's files importable under it (a package: its __init__.py),
    named from the outermost folder of a chain of packages (`src/pkg/mod.py` is `pkg.mod`)."""
    out: dict[str, list[str]] = {}
    for folder, dirs, files in os.walk(snapshot):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith((".dist-info", ".egg-info"))]
        for name in files:
            if not name.endswith(".py"):
                continue
            rel = PurePosixPath(Path(folder, name).relative_to(snapshot).as_posix())
            dotted = _dotted(snapshot, rel)
            if dotted:
                out.setdefault(dotted, []).append(rel.as_posix())
    return {k: tuple(v) for k, v in out.items()}


def _dotted(snapshot: Path, rel: PurePosixPath) -> str:
    parts = [] if rel.name == "__init__.py" else [rel.stem]
    folder = rel.parent
    while str(folder) not in ("", ".") and (snapshot / folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ".".join(parts)


@lru_cache(maxsize=4096)
def _imports(snapshot: Path, rel: str, by_name: bool = False) -> tuple[str, ...]:
    """Dotted names a file imports anywhere in its code (a `from a import b` gives `a` and `a.b`),
    relative imports resolved against its own package; `by_name`: also what it loads by a literal
    name (`importlib.import_module("pkg._checks")`, `__import__("pkg._checks")`)."""
    try:
        tree = ast.parse(_bytes(snapshot, rel), filename=rel)
    except (SyntaxError, ValueError, RecursionError):
        return ()
    package = _dotted(snapshot, PurePosixPath(rel)).split(".")
    if PurePosixPath(rel).name != "__init__.py":
        package = package[:-1]
    out: list[str] = []
    data = _bytes(snapshot, rel)
    calls = by_name and (not data.isascii() or b"import_module" in data or b"__import__" in data)
    for node in ast.walk(tree) if calls else _statements(tree):
        if isinstance(node, ast.Import):
            out.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package[: len(package) - node.level + 1] if node.level > 1 else package
                base = ".".join([*anchor, *([base] if base else [])])
            if base:
                out.append(base)
            out.extend(f"{base}.{alias.name}" if base else alias.name for alias in node.names)
        elif by_name and isinstance(node, ast.Call):
            out.extend(_loaded_by_name(node))
    return tuple(out)


def _through_packages(snapshot: Path, rel: str, names: dict[str, tuple[str, ...]]) -> set[str]:
    """The modules a file's `from pkg import name` reaches through a package's `__init__.py` that
    re-exports `name` (`from ._compare import assert_same_items`): the tests' helper behind the package's
    name, three packages deep."""
    out: set[str] = set()
    todo = list(_imports(snapshot, rel, True))
    for _ in range(3):
        later = []
        for dotted in todo:
            package, _, name = dotted.rpartition(".")
            for init in names.get(package, ()) if package and dotted not in names else ():
                if PurePosixPath(init).name == "__init__.py" and name in _reexports(snapshot, init):
                    source = _reexports(snapshot, init)[name]
                    out.update(names.get(source, ()))
                    later.append(f"{source}.{name}")
        todo = later
    return out


@lru_cache(maxsize=1024)
def _reexports(snapshot: Path, init: str) -> dict[str, str]:
    """Name -> the dotted module a package's `__init__.py` takes it from, by a `from ... import name` at
    its top level (not `*`: what that binds is not read)."""
    try:
        tree = ast.parse(_bytes(snapshot, init), filename=init)
    except (SyntaxError, ValueError, RecursionError):
        return {}
    package = _dotted(snapshot, PurePosixPath(init)).split(".")
    out = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = _from_base(node, package)
            for alias in node.names if base else ():
                if alias.name != "*":
                    out[alias.asname or alias.name] = base
    return out


def _from_base(node: ast.ImportFrom, package: list[str]) -> str:
    """The dotted module a `from ... import` reads, relative ones against `package`."""
    base = node.module or ""
    if node.level:
        anchor = package[: len(package) - node.level + 1] if node.level > 1 else package
        base = ".".join([*anchor, *([base] if base else [])])
    return base


def _runs(snapshot: Path, rel: str, path: str, names: dict[str, tuple[str, ...]]) -> bool:
    """Whether library module `rel`, which imports `path`, makes it the library's. Not when `rel` is a
    package's `__init__.py` that only re-exports names of it (`from ._compare import assert_same_items`,
    never read there), `path` imports no module of the snapshot, and `path` is an assertion helper
    (`_asserts`): then its code runs only when code outside the library calls it, as a test's helper
    does. A re-exported module of the package's own code (`from . import core`) stays the library's: a
    fix belongs there, and its functions are what the tests test."""
    if PurePosixPath(rel).name != "__init__.py" or _imported_paths(snapshot, path, names):
        return True
    if not _asserts(snapshot, path):
        return True
    try:
        tree = ast.parse(_bytes(snapshot, rel), filename=rel)
    except (SyntaxError, ValueError, RecursionError):
        return True
    package = _dotted(snapshot, PurePosixPath(rel)).split(".")
    package = package if PurePosixPath(rel).name == "__init__.py" else package[:-1]
    read = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(path in _paths_of(a.name, names) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom):
            base = _from_base(node, package)
            for alias in node.names:
                if path not in _paths_of(base, names) | _paths_of(f"{base}.{alias.name}", names):
                    continue
                if alias.name == "*" or (alias.asname or alias.name) in read:
                    return True
    return False


_TEST_FRAMEWORKS = frozenset({"unittest", "pytest", "_pytest", "hypothesis", "doctest"})


@lru_cache(maxsize=1024)
def _asserts(snapshot: Path, rel: str) -> bool:
    """Whether module `rel` is written to check results, as a test helper is: an `assert` statement, a
    raised `AssertionError`, or an import of a test framework."""
    try:
        tree = ast.parse(_bytes(snapshot, rel), filename=rel)
    except (SyntaxError, ValueError, RecursionError):
        return False
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            return True
        if isinstance(node, ast.Raise) and node.exc is not None:
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "AssertionError":
                return True
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] in _TEST_FRAMEWORKS for a in node.names):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and not node.level
            and (node.module or "").split(".")[0] in _TEST_FRAMEWORKS
        ):
            return True
    return False


def _paths_of(dotted: str, names: dict[str, tuple[str, ...]]) -> set[str]:
    parts = dotted.split(".")
    return {p for n in range(1, len(parts) + 1) for p in names.get(".".join(parts[:n]), ())}


_BODIES = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})
"""The fields of a statement (an except clause, a match case) that hold statements, clauses or cases."""


def _statements(tree: ast.AST) -> Iterator[ast.AST]:
    """The nodes of `tree` that hold or are statements (an import is one), in `ast.walk`'s order, the
    expressions left out: most of a tree, and no statement is ever inside one. `_imports` walks only
    these when no call can load a module by name: the text names neither `import_module` nor
    `__import__`, and is ASCII (an identifier of other characters may normalize to one)."""
    todo = deque([tree])
    while todo:
        node = todo.popleft()
        todo.extend(child for name in node._fields if name in _BODIES for child in getattr(node, name))
        yield node


def _loaded_by_name(node: ast.Call) -> list[str]:
    """The module a call `import_module("a.b")`, `importlib.import_module("a.b")` or `__import__("a.b")`
    loads, when its name is a literal (a relative one with a literal `package`)."""
    func = node.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
    if called not in ("import_module", "__import__") or not node.args:
        return []
    name = node.args[0]
    if not isinstance(name, ast.Constant) or not isinstance(name.value, str) or not name.value.strip("."):
        return []
    dotted = name.value
    if dotted.startswith(".") and called == "import_module":
        package = next((k.value for k in node.keywords if k.arg == "package"), None)
        if package is None and len(node.args) > 1:
            package = node.args[1]
        if not isinstance(package, ast.Constant) or not isinstance(package.value, str):
            return []
        level = len(dotted) - len(dotted.lstrip("."))
        anchor = package.value.split(".")[: len(package.value.split(".")) - level + 1]
        dotted = ".".join([*anchor, dotted.lstrip(".")])
    return [] if dotted.startswith(".") else [dotted]


def _imported_paths(
    snapshot: Path, rel: str, names: dict[str, tuple[str, ...]], by_name: bool = False
) -> set[str]:
    """The snapshot's files that `rel`'s imports load (each dotted prefix: `a.b.c` runs `a` and `a.b`);
    `by_name` (a test's imports): also a package's module imported under a name that starts inside
    the package (`import _checks`, with `sys.path` pointing at `pkg/`), when no module of the snapshot,
    and none of the standard library's, has that name."""
    out: set[str] = set()
    inner = _inner_index(snapshot) if by_name else {}
    for dotted in _imports(snapshot, rel, by_name):
        parts = dotted.split(".")
        index = inner if parts[0] not in names and parts[0] not in sys.stdlib_module_names else names
        for n in range(1, len(parts) + 1):
            out.update(index.get(".".join(parts[:n]), ()))
    out.discard(rel)
    return out


@lru_cache(maxsize=8)
def _inner_index(snapshot: Path) -> dict[str, tuple[str, ...]]:
    """Dotted name -> the snapshot's package files importable under it from inside a package's folder
    (`pkg/sub/mod.py` is `sub.mod` from `pkg/`, `mod` from `pkg/sub/`)."""
    out: dict[str, list[str]] = {}
    for files in _module_index(snapshot).values():
        for rel in files:
            dotted = _dotted(snapshot, PurePosixPath(rel)).split(".")
            for n in range(1, len(dotted)):
                out.setdefault(".".join(dotted[n:]), []).append(rel)
    return {k: tuple(v) for k, v in out.items()}


__all__ = ["SUPPORT", "held_modules", "support_modules"]
