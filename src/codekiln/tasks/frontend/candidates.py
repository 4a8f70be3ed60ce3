"""Bug candidates: run mutators over a snapshot's entities and keep each change as a `git diff`.

A candidate is an unvalidated bug: the validation engine later keeps it only if some previously passing
test now fails and reverting restores them. Generation is deterministic for a seed:

    entities = find_entities(snapshot)
    gen = generate_candidates(snapshot, entities, load_mutators(), seed=0, max_per_entity=1)
    gen.candidates[0].patch      # "diff --git a/pkg/mod.py b/pkg/mod.py ..." (git apply / git apply -R)
    gen.skipped                  # mutations dropped, each with a reason (identical, syntax_error, ...)
    hard = combine(gen.candidates[:3], snapshot)     # several bugs on different entities, one patch

Mutations that leave the code unchanged (same AST) or do not parse are skipped and reported.
"""

from __future__ import annotations

import ast
import hashlib
import random
import textwrap
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from codekiln.core.diffs import diff_hash, make_diff, parse_diff
from codekiln.core.errors import TaskError
from codekiln.core.patches import apply_file_patch, merge_patches
from codekiln.core.pyast import parse as parse_ast  # graders and validators parse in threads
from codekiln.core.records import Record
from codekiln.core.sources import (
    SourceEncodingError,
    decode_python,
    is_plain_utf8,
    patch_text_of,
    read_byte_text,
    text_bytes,
)
from codekiln.tasks.frontend.data import iter_data_nodes
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.frontend.lang.python import iter_entity_nodes, start_line
from codekiln.tasks.frontend.mutators.base import Mutator, SourceFile, apply_edits

SkipReason = Literal[
    "no_change", "identical", "syntax_error", "stale_entity", "unparsable_file", "duplicate", "unencodable"
]


class Candidate(Record):
    """One injected bug (or several, combined), not yet validated."""

    id: str
    """The first 16 hex digits of `diff_hash(patch)`: equal changes get equal ids."""
    patch: str
    """The bug as a `git diff` from the clean snapshot to the buggy code."""
    mutators: list[str]
    entities: list[str]
    """Ids (`file::qualname`) of the mutated entities, one per mutator."""
    files: list[str]
    seed: int
    parts: list[str] = []
    """For a combined candidate, the ids of the candidates it merges."""
    language: str = "python"

    @property
    def n_bugs(self) -> int:
        return len(self.mutators)


@dataclass
class SkippedMutation:
    entity: str
    mutator: str
    reason: SkipReason
    detail: str = ""


@dataclass
class Generation:
    """What `generate_candidates` produced and what it dropped."""

    candidates: list[Candidate] = field(default_factory=list)
    skipped: list[SkippedMutation] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Candidates per mutator."""
        return dict(Counter(m for c in self.candidates for m in c.mutators))


def derive_seed(seed: int, *parts: str) -> int:
    """A stable per-(entity, mutator) seed, independent of iteration order and Python's hash salt."""
    digest = hashlib.sha256(":".join([str(seed), *parts]).encode()).digest()
    return int.from_bytes(digest[:8], "big")


def _parse_region(text: str) -> ast.Module | None:
    try:
        return parse_ast(textwrap.dedent(text))
    except SyntaxError:
        return None


def generate_candidates(
    snapshot_dir: Path,
    entities: Sequence[Entity],
    mutators: Sequence[Mutator],
    *,
    seed: int = 0,
    max_per_entity: int = 1,
) -> Generation:
    """Up to `max_per_entity` candidates for each (entity, mutator) pair, at sites drawn with the seed."""
    out = Generation()
    seen: set[str] = set()
    dumps: dict[str, str | None] = {}
    by_file: dict[str, list[Entity]] = defaultdict(list)
    for entity in entities:
        by_file[entity.file].append(entity)
    for rel in sorted(by_file):
        data = (Path(snapshot_dir) / rel).read_bytes()
        try:
            src = SourceFile(rel, decode_python(data, rel))
        except (SyntaxError, SourceEncodingError) as err:
            out.skipped += [SkippedMutation(e.id, "*", "unparsable_file", str(err)) for e in by_file[rel]]
            continue
        # A file in another encoding (or with a BOM) is diffed whole, as its own bytes (`core.sources`).
        like = None if is_plain_utf8(data, rel) else data
        nodes: dict[tuple[str, int], ast.AST] = {
            (q, start_line(n)): n for q, _, n in iter_entity_nodes(src.tree)
        }
        if any(e.kind == "data" for e in by_file[rel]):
            nodes.update(((q, n.lineno), n) for q, n in iter_data_nodes(src.tree))
        for entity in sorted(by_file[rel], key=lambda e: (e.start_line, e.qualname)):
            node = nodes.get((entity.qualname, entity.start_line))
            region = "\n".join(src.lines[entity.start_line - 1 : entity.end_line]) + "\n"
            if node is None or region != entity.code:
                out.skipped.append(
                    SkippedMutation(entity.id, "*", "stale_entity", "file changed since entities were found")
                )
                continue
            for mutator in mutators:
                if entity.kind not in mutator.kinds:  # data mutators on data entities only, and back
                    continue
                for cand in _mutate_entity(
                    src, entity, node, mutator, seed, max_per_entity, out.skipped, dumps, like
                ):
                    if cand.id in seen:
                        out.skipped.append(SkippedMutation(entity.id, mutator.name, "duplicate", cand.id))
                        continue
                    seen.add(cand.id)
                    out.candidates.append(cand)
    return out


def _mutate_entity(
    src: SourceFile,
    entity: Entity,
    node: ast.AST,
    mutator: Mutator,
    seed: int,
    limit: int,
    skipped: list[SkippedMutation],
    dumps: dict[str, str | None],
    like: bytes | None = None,
) -> list[Candidate]:
    sites = mutator.sites(node, src)
    if not sites:
        return []
    rng = random.Random(derive_seed(seed, entity.id, mutator.name))
    rng.shuffle(sites)
    start, end = src.lines_span(entity.start_line, entity.end_line)
    if entity.id not in dumps:  # the unchanged entity's AST, compared with every mutation of it
        old_tree = _parse_region(src.text[start:end])
        dumps[entity.id] = ast.dump(old_tree) if old_tree is not None else None
    old_dump = dumps[entity.id]
    # The window diffed: the entity and 3 lines of context on each side.
    w_first, w_last = max(1, entity.start_line - 3), min(len(src.lines), entity.end_line + 3)
    w_start, w_end = src.lines_span(w_first, w_last)
    made: list[Candidate] = []
    for site in sites:
        if len(made) >= limit:
            break
        where = f"line {getattr(site, 'lineno', '?')}"
        edits = mutator.mutate(site, rng, src)
        if not edits:
            skipped.append(SkippedMutation(entity.id, mutator.name, "no_change", where))
            continue
        new_text = apply_edits(src.text, edits)
        grown = len(new_text) - len(src.text)
        inside = new_text[:start] == src.text[:start] and new_text[end + grown :] == src.text[end:]
        # Parsing the (dedented) entity alone is much cheaper than the file; the file is parsed when
        # that fails or when the mutator edited outside the entity.
        new_tree = _parse_region(new_text[start : end + grown]) if inside else None
        if new_tree is None:
            try:
                parse_ast(new_text)
            except SyntaxError as err:
                skipped.append(
                    SkippedMutation(
                        entity.id, mutator.name, "syntax_error", f"{err.msg} at line {err.lineno}"
                    )
                )
                continue
        elif old_dump is not None and ast.dump(new_tree) == old_dump:
            skipped.append(SkippedMutation(entity.id, mutator.name, "identical", where))
            continue
        if like is not None:
            try:
                before, after = (patch_text_of(t, like, src.path) for t in (src.text, new_text))
            except SourceEncodingError as err:
                skipped.append(SkippedMutation(entity.id, mutator.name, "unencodable", err.message))
                continue
            patch = make_diff(src.path, before, after)
        elif inside:
            window = (src.text[w_start:w_end], new_text[w_start : w_end + grown])
            patch = make_diff(src.path, *window, first_line=w_first)
        else:
            patch = make_diff(src.path, src.text, new_text)
        made.append(
            Candidate(
                id=diff_hash(patch)[:16],
                patch=patch,
                mutators=[mutator.name],
                entities=[entity.id],
                files=[src.path],
                seed=seed,
            )
        )
    return made


def combine(parts: Sequence[Candidate], snapshot_dir: Path) -> Candidate:
    """Merge 2-4 candidates on different entities into one multi-bug candidate.

    Raises TaskError if they share an entity, change overlapping lines, or the merged code does not parse."""
    if not 2 <= len(parts) <= 4:
        raise TaskError(f"combine takes 2 to 4 candidates, got {len(parts)}", hint="pass between 2 and 4")
    entities = [e for p in parts for e in p.entities]
    if len(set(entities)) != len(entities):
        raise TaskError(
            "combined candidates must mutate different entities", hint="pick bugs in different functions"
        )
    paths = sorted({fp.path for p in parts for fp in parse_diff(p.patch)})
    files = {path: read_byte_text(Path(snapshot_dir) / path) for path in paths}
    patch = merge_patches(files, [p.patch for p in parts])
    for fp in parse_diff(patch):
        new = _apply_one(files[fp.path], patch, fp.path)
        try:
            parse_ast(text_bytes(new))  # bytes: parsed in the file's own encoding
        except SyntaxError as err:
            raise TaskError(
                f"combined change does not parse: {err.msg}", hint="combine other candidates"
            ) from err
    return Candidate(
        id=diff_hash(patch)[:16],
        patch=patch,
        mutators=[m for p in parts for m in p.mutators],
        entities=entities,
        files=paths,
        seed=parts[0].seed,
        parts=[p.id for p in parts],
    )


def _apply_one(old: str, patch: str, path: str) -> str:
    fp = next(f for f in parse_diff(patch) if f.path == path)
    new = apply_file_patch(old, fp)
    return new or ""


def sample_combinations(
    candidates: Sequence[Candidate], snapshot_dir: Path, *, k: int = 2, n: int = 10, seed: int = 0
) -> list[Candidate]:
    """Up to `n` distinct combinations of `k` candidates (usually validated ones) on different entities."""
    rng = random.Random(derive_seed(seed, "combine", str(k)))
    pool = [c for c in candidates if c.n_bugs == 1]
    out: dict[str, Candidate] = {}
    for _ in range(n * 20):
        if len(out) >= n or len(pool) < k:
            break
        group = rng.sample(pool, k)
        try:
            combined = combine(group, snapshot_dir)
        except TaskError:
            continue
        out.setdefault(combined.id, combined)
    return list(out.values())
