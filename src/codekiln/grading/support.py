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
there instead of where the bug is. Standard library only.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Collection, Iterable
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
        for path in _imported_paths(snapshot, rel, names, by_name=True):
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
            hit = support & _imported_paths(snapshot, rel, names)
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
    for node in ast.walk(tree):
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
    """The snapshot's files that `rel`'s imports load (each dotted prefix: `a.b.c` runs `a` and `a.b`)."""
    out: set[str] = set()
    for dotted in _imports(snapshot, rel, by_name):
        parts = dotted.split(".")
        for n in range(1, len(parts) + 1):
            out.update(names.get(".".join(parts[:n]), ()))
    out.discard(rel)
    return out


__all__ = ["SUPPORT", "held_modules", "support_modules"]
