"""Data-file entities: the text files a package ships inside its import package that its tests read,
where a bug lives in no Python line at all (tzdata: the zone names listed in `tzdata/zones`).

    files = find_datafile_entities(Path("snapshot"), test_modules={"tests/test_contents.py"})
    for e in files: print(e.id, e.kind)         # src/tzdata/zones::zones datafile
    gen = generate_text_candidates(snapshot, files, load_mutators(), seed=0)

A data file is a file beside an `__init__.py` (inside an import package, outside the tests, docs and
build folders `find_entities` skips) that is neither source (Python, C, Cython, ...), documentation
(README, LICENSE, `.md`, `.rst`, ...) nor a build file, that is UTF-8 text without NUL bytes or
carriage returns, at most `MAX_BYTES`, and that is named: its name, or its path inside the package,
appears as a whole word in a test module or in the package's Python source. That naming is how a test
reads it, itself (`resources.open_text("tzdata", "zones")`) or through the library (`files(__name__)
/ "words.txt"`); a file nothing names is never read by name, so no test could see a bug in it. Binary
files (tzdata's compiled zones) are never mutated. The text mutators (`mutators.text`) change one line
at a time; the choice is drawn from the seed only, so every machine makes the same candidates.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.tasks.frontend.candidates import Candidate, Generation, SkippedMutation, derive_seed
from codekiln.tasks.frontend.entities import SKIP_DIRS, Entity, iter_source_files
from codekiln.tasks.frontend.mutators.base import Mutator
from codekiln.tasks.frontend.mutators.text import TextMutator

MAX_BYTES = 256 * 1024
"""A larger text file is left alone (diffing it for every candidate costs more than it gives)."""
SOURCE_SUFFIXES = frozenset(
    {
        ".py", ".pyi", ".pyc", ".pyo", ".pyd", ".pyx", ".pxd", ".pxi", ".so", ".dll", ".dylib",
        ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".go", ".zig", ".js", ".ts",
        ".md", ".rst", ".typed", ".in", ".sh", ".bat",
    }
)  # fmt: skip
DOC_NAMES = re.compile(
    r"^(readme|license|licence|copying|notice|authors|contributors|changelog|changes|history|news)\b"
    r"|^(setup\.cfg|pyproject\.toml|tox\.ini|makefile|manifest\.in)$",
    re.IGNORECASE,
)


def package_text_files(root: Path) -> Iterator[PurePosixPath]:
    """Relative paths (sorted) of the text files shipped beside an `__init__.py`, as the module
    docstring says, whether or not anything names them."""
    root = Path(root)
    found: list[PurePosixPath] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(
            d
            for d in dirnames
            if d not in SKIP_DIRS and not d.startswith(".") and not d.endswith(".egg-info")
        )
        if "__init__.py" not in filenames:
            continue
        rel_dir = PurePosixPath(Path(dirpath).relative_to(root).as_posix())
        for name in filenames:
            path = Path(dirpath) / name
            if Path(name).suffix.lower() in SOURCE_SUFFIXES or DOC_NAMES.search(name) or name.startswith("."):
                continue
            if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_BYTES:
                continue
            if read_text(path) is not None:
                found.append(rel_dir / name if str(rel_dir) != "." else PurePosixPath(name))
    return iter(sorted(found))


def read_text(path: Path) -> str | None:
    """The file's text when it is plain UTF-8 text with something in it (no NUL, no carriage return)."""
    data = path.read_bytes()
    if b"\0" in data or b"\r" in data or not data.strip():
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _package_path(rel: PurePosixPath, root: Path) -> str:
    """The file's path inside its top-level package (`zoneinfo/tzdata.zi` for src/tzdata/zoneinfo/...)."""
    parts = list(rel.parts)
    top = len(parts) - 1
    while top > 0 and (root / PurePosixPath(*parts[:top]) / "__init__.py").is_file():
        top -= 1
    return "/".join(parts[top + 1 :])


def _named(rel: PurePosixPath, root: Path, texts: Sequence[str]) -> bool:
    names = {rel.name, _package_path(rel, root)}
    patterns = [re.compile(r"(?<![\w.-])" + re.escape(n) + r"(?![\w-])") for n in names if len(n) >= 3]
    return any(p.search(text) for p in patterns for text in texts)


def find_datafile_entities(root: Path, test_modules: Iterable[str] = ()) -> list[Entity]:
    """One entity per shipped text file that a test module or the package's Python source names
    (`_named`), sorted by path: the whole file is the entity."""
    root = Path(root)
    shipped = list(package_text_files(root))
    if not shipped:  # most packages: no source is read
        return []
    readers = [*sorted(test_modules), *(str(p) for p in iter_source_files(root, "python"))]
    texts = [t for t in (_source(root / rel) for rel in readers) if t]
    out: list[Entity] = []
    for rel in shipped:
        if not _named(rel, root, texts):
            continue
        text = read_text(root / rel) or ""
        lines = text.split("\n")
        last = len(lines) - 1 if text.endswith("\n") else len(lines)
        out.append(
            Entity(
                file=str(rel), kind="datafile", name=rel.name, qualname=rel.name, start_line=1,
                end_line=max(1, last), code=text, signature=f"data file {rel}", complexity=1,
                language="text",
            )
        )  # fmt: skip
    return out


def _source(path: Path) -> str:
    try:
        return path.read_text("utf-8", errors="replace") if path.is_file() else ""
    except OSError:
        return ""


def generate_text_candidates(
    snapshot_dir: Path, entities: Sequence[Entity], mutators: Sequence[Mutator], *, seed: int = 0,
    max_per_entity: int = 1,
) -> Generation:  # fmt: skip
    """Up to `max_per_entity` candidates for each (data file, text mutator) pair, at lines drawn with
    the seed (`derive_seed(seed, entity id, mutator name)`), as `candidates.generate_candidates`."""
    out = Generation()
    seen: set[str] = set()
    for entity in sorted(entities, key=lambda e: e.file):
        text = read_text(Path(snapshot_dir) / entity.file)
        if text is None or text != entity.code:
            out.skipped.append(
                SkippedMutation(entity.id, "*", "stale_entity", "file changed since entities were found")
            )
            continue
        lines = text.split("\n")
        for mutator in mutators:
            if not isinstance(mutator, TextMutator) or entity.kind not in mutator.kinds:
                continue
            sites = mutator.text_sites(lines)
            rng = random.Random(derive_seed(seed, entity.id, mutator.name))
            rng.shuffle(sites)
            made = 0
            for site in sites:
                if made >= max_per_entity:
                    break
                new_lines = mutator.mutate_lines(lines, site, rng)
                if new_lines is None or new_lines == lines:
                    out.skipped.append(
                        SkippedMutation(entity.id, mutator.name, "no_change", f"line {site + 1}")
                    )
                    continue
                patch = make_diff(entity.file, text, "\n".join(new_lines))
                cand = Candidate(
                    id=diff_hash(patch)[:16], patch=patch, mutators=[mutator.name], entities=[entity.id],
                    files=[entity.file], seed=seed, language="text",
                )  # fmt: skip
                made += 1
                if cand.id in seen:
                    out.skipped.append(SkippedMutation(entity.id, mutator.name, "duplicate", cand.id))
                    continue
                seen.add(cand.id)
                out.candidates.append(cand)
    return out
