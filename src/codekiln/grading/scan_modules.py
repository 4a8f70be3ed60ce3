"""What a standard-library module re-exports, read from its source: the static scan's names
(`scan_fold.Names`) through attribute chains of modules.

    reexport("pdb", "code")              # "code": pdb.py runs `import code`
    reexport("logging.config", "logging")  # "logging"
    reexport("os", "path")               # "posixpath": `import posixpath as path`
    is_module("code")                    # True

A module that imports another binds it as an attribute of its own, so `pdb.code` is the module `code`
and `pdb.code.InteractiveInterpreter(ns).runsource(text)` runs text as `code.InteractiveInterpreter`
does (`dynamic-code`), `logging.config.logging.currentframe()` walks frames, `typing.operator.attrgetter`
reads attributes by name (the nineteenth red team's `code-text`). A fixed list of re-exported modules
(`scan_rules.REEXPORTED`) missed each; this reads them all.

The module's source is parsed with `ast`, never imported: its top-level bindings by `import x`,
`import x as y`, `from a import b [as c]` (relative ones too), in `if`/`try`/`with` blocks at module
level, the first binding of a name winning. `from a import b` binds the module `a.b` when there is
one, else what `a` itself binds as `b`, followed a few steps (`from os import path`). Only modules
are so read: a function or class re-exported keeps the name it is written by.
Only the standard library's own folder is read (the one `os.py` lies in; its `site-packages` and
`lib-dynload` are not module names): what the scan reads depends on the Python running it, not on
what else the machine has installed. Each module is parsed once (cached).
Shipped beside `scan.py` (`grading.shipped`): standard library only.
"""

from __future__ import annotations

import ast
import functools
import os
import sys
from collections.abc import Iterator
from pathlib import Path

STDLIB = Path(os.__file__).resolve().parent
"""The standard library's folder: where `os.py` lies."""
DYNLOAD = STDLIB / "lib-dynload"
NAME_MAX = 200
"""The longest dotted name looked up: no module's is longer (`os.path.path....` is no file's name)."""
FOLLOW = 6
"""How many `from a import b` steps a re-export is followed through."""
_BLOCKS = (ast.If, ast.Try, ast.With)


@functools.lru_cache(maxsize=1024)
def source_of(module: str) -> Path | None:
    """The file of a standard-library module written in Python, None for any other name."""
    parts = module.split(".")
    if not module or not all(p.isidentifier() for p in parts):
        return None
    base = STDLIB.joinpath(*parts)
    try:
        return next((p for p in (base.parent / f"{parts[-1]}.py", base / "__init__.py") if p.is_file()), None)
    except OSError:
        return None


@functools.lru_cache(maxsize=1024)
def is_module(name: str) -> bool:
    """Whether `name` is a module of the standard library (built in, written in Python or compiled)."""
    if name in sys.builtin_module_names or source_of(name) is not None:
        return True
    return "." not in name and name.isidentifier() and any(DYNLOAD.glob(f"{name}.*"))


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """A module's top-level statements, those in `if` / `try` / `with` blocks included."""
    for node in body:
        yield node
        if isinstance(node, _BLOCKS):
            for field in ("body", "orelse", "finalbody"):
                yield from _statements(getattr(node, field, []))
            for handler in getattr(node, "handlers", []):
                yield from _statements(handler.body)


@functools.lru_cache(maxsize=256)
def bindings(module: str) -> dict[str, tuple[str, bool]]:
    """name -> (dotted target, bound by `import`) for every top-level import binding of a module's
    source. `import a.b` binds `a`; `from a import b` targets `a.b` (followed by `reexport`)."""
    path = source_of(module)
    if path is None:
        return {}
    try:
        tree = ast.parse(path.read_bytes())
    except (OSError, SyntaxError, ValueError, RecursionError):
        return {}
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: dict[str, tuple[str, bool]] = {}
    for node in _statements(tree.body):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found.setdefault(alias.asname, (alias.name, True))
                else:
                    first = alias.name.split(".")[0]
                    found.setdefault(first, (first, True))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                up = parts[: len(parts) - node.level + 1]
                base = ".".join([*up, *([node.module] if node.module else [])])
            for alias in node.names:
                if alias.name != "*" and base:
                    found.setdefault(alias.asname or alias.name, (f"{base}.{alias.name}", False))
    return found


def reexport(owner: str, attr: str, depth: int = 0) -> str | None:
    """The module `owner.attr` is (`_reexport`); None at once for a name no module has."""
    return None if len(owner) > NAME_MAX else _reexport(owner, attr, depth)


@functools.lru_cache(maxsize=4096)
def _reexport(owner: str, attr: str, depth: int = 0) -> str | None:
    """The module `owner.attr` is when the standard-library module `owner` binds `attr` to a module
    by an import (module docstring); None when it does not: an attribute of its own, a function or
    class it imports (read by the name written, as the rules list them: `importlib.machinery.
    SourceFileLoader`, not its defining module's), or no module."""
    target, imported = bindings(owner).get(attr, ("", False))
    if not target or imported or is_module(target):
        return target or None
    source, _, name = target.rpartition(".")
    return reexport(source, name, depth + 1) if depth < FOLLOW else None
