"""Code entities: the functions, methods and classes of a snapshot's source, with their line spans.

Bugs are injected into entities, so this is where task synthesis starts:

    entities = find_entities(Path("snapshot"), language="python")
    for e in entities: print(e.id, e.kind, e.start_line, e.end_line, e.complexity)

Test code is skipped: test directories (`tests/`, `test/`, `testing/`), documentation, examples,
benchmarks, build and virtualenv folders, and each language's own test-file patterns (for Python
`test_*.py`, `*_test.py`, `conftest.py`, and `setup.py`). Languages are registered in `LANGUAGES` as
`LanguageSupport` objects, one module each under `codekiln.tasks.frontend.lang` (Python uses the standard `ast`;
tree-sitter languages can be added as further modules).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePosixPath
from typing import Literal, Protocol

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.records import Record
from codekiln.core.registry import Registry
from codekiln.core.sources import read_python

EntityKind = Literal["function", "method", "class", "data", "datafile"]
CODE_KINDS: frozenset[str] = frozenset({"function", "method", "class"})
"""The kinds `find_entities` finds; "data" (module- and class-level tables and constants) is `frontend.data`'s,
"datafile" (a text file the package ships) `frontend.datafiles`'."""

SKIP_DIRS = frozenset(
    {
        "tests",
        "test",
        "testing",
        "docs",
        "doc",
        "examples",
        "example",
        "benchmarks",
        "bench",
        "build",
        "dist",
        "node_modules",
        "site-packages",
        "venv",
        "__pycache__",
    }
)


class Entity(Record):
    """One function, method or class (or, of kind "data", one module- or class-level assignment of literal
    data: `codekiln.tasks.frontend.data`). Lines are 1-based and inclusive; `start_line` includes decorators."""

    file: str
    """Path relative to the snapshot root, with forward slashes."""
    kind: EntityKind
    name: str
    qualname: str
    """Dotted name inside its file, e.g. `curry.__init__`."""
    start_line: int
    end_line: int
    code: str
    """The entity's source lines, exactly as in the file."""
    signature: str
    """`def name(args) -> ret` or `class Name(bases)`."""
    complexity: int
    """1 + the number of branch points (if/loops/except/boolean operators/...) inside."""
    language: str = "python"
    occurrence: int = 0
    """0, or n for the n-th redefinition of the same qualname in the file (property setters,
    version-dependent definitions)."""

    @property
    def id(self) -> str:
        """`file::qualname`, with `#n` appended for a redefinition: unique within a snapshot."""
        suffix = f"#{self.occurrence}" if self.occurrence else ""
        return f"{self.file}::{self.qualname}{suffix}"

    @property
    def n_lines(self) -> int:
        return self.end_line - self.start_line + 1


class LanguageSupport(Protocol):
    """What a language module provides to find entities."""

    name: str
    suffixes: tuple[str, ...]

    def is_test_file(self, path: PurePosixPath) -> bool: ...

    def extract(self, path: str, text: str) -> list[Entity]:
        """Entities of one source file; raises SyntaxError (or TaskError) when it cannot be parsed."""
        ...


LANGUAGES = Registry("language", {"python": "codekiln.tasks.frontend.lang.python:PYTHON"})


def load_language(name: str) -> LanguageSupport:
    support: LanguageSupport = LANGUAGES.load(name)
    return support


def iter_source_files(root: Path, language: str = "python") -> Iterator[PurePosixPath]:
    """Relative paths (sorted) of the source files of `language` under `root`, tests and docs excluded."""
    lang = load_language(language)
    root = Path(root)
    if not root.is_dir():
        raise TaskError(f"{root} is not a directory", hint="pass the snapshot's root directory")
    found: list[PurePosixPath] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
        )
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        for name in filenames:
            rel = rel_dir / name if str(rel_dir) != "." else PurePosixPath(name)
            if rel.suffix in lang.suffixes and not lang.is_test_file(rel):
                found.append(rel)
    return iter(sorted(found))


def named(entities: list[Entity], names: Sequence[str] | None) -> list[Entity]:
    """The entities named in `names` (by id `file::qualname` or by qualname); all of them when None. A
    name that matches none is a ConfigError (a typo used to give 0 tasks and exit 0)."""
    if names is None:
        return entities
    wanted = set(names)
    found = [e for e in entities if e.id in wanted or e.qualname in wanted]
    unknown = sorted(wanted - {e.id for e in found} - {e.qualname for e in found})
    if unknown:
        example = entities[0].id if entities else "path/to/module.py::function"
        raise ConfigError(
            f"--functions names {len(unknown)} that the snapshot does not define: {', '.join(unknown[:5])}",
            hint=f"give file::qualname or a qualname, e.g. {example}",
        )
    return found


def find_entities(root: Path, language: str = "python", *, skipped: list[str] | None = None) -> list[Entity]:
    """Every function, method and class in the snapshot's source, sorted by file and line.

    Files that do not parse (another language version, templates) are left out; their paths are appended
    to `skipped` when given."""
    lang = load_language(language)
    entities: list[Entity] = []
    for rel in iter_source_files(root, language):
        try:
            text = read_python(Path(root) / rel, str(rel))  # a PEP 263 cookie or a BOM honoured
            entities += lang.extract(str(rel), text)
        except (SyntaxError, UnicodeDecodeError, ValueError, TaskError):  # SourceEncodingError too
            if skipped is not None:
                skipped.append(str(rel))
    return entities


NATIVE_SUFFIXES = (".c", ".cc", ".cpp", ".pyx", ".rs", ".go", ".zig")


def nothing_to_mutate(root: Path, language: str = "python") -> TaskError:
    """The error for a snapshot whose source defines no entity, neither code nor data
    (`frontend.data`): how many source files were read, and the native code beside them (a C
    extension's .py files only import it, as in xxhash)."""
    sources = list(iter_source_files(root, language))
    native: Counter[str] = Counter()
    for _dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
        native.update(Path(name).suffix for name in filenames if name.endswith(NATIVE_SUFFIXES))
    beside = ", ".join(f"{n} {suffix}" for suffix, n in sorted(native.items()))
    return TaskError(
        f"no function, method, class or data table to put a bug in: {len(sources)} {language.capitalize()} source "
        f"files outside the tests define none"
        + (f" (its code is elsewhere: {beside} files)" if beside else ""),
        hint=f"synth writes bugs into {language.capitalize()} code only: pick a repository written in it"
        if beside
        else "synth puts bugs in the functions, methods, tables and constants the tests reach, and in the text "
        "files a package ships that they name: this package holds none (metadata such as __version__, generated "
        "files, binary files and computed values are never mutated); "
        "pick a library with code or data of its own",
    )
