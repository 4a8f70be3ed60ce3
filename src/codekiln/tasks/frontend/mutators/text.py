"""Text mutators: bugs in the data files a package ships (`frontend.datafiles`), one line at a time, the
kind a maintainer makes editing a list or a table by hand: a name misspelled (a list's entry, a key
of `key = value`, `"key": value` or `key,value`), a number off by one, a line dropped, two lines
swapped. They act on "datafile" entities only (`kinds`), on lines that hold something (not blank,
not a `#` comment); every choice is drawn from the rng, so a seed reproduces it.

    mutator = load_mutators(["misspell_data_name"])[0]
    sites = mutator.text_sites(lines)                  # indices of the lines it can change
    new = mutator.mutate_lines(lines, sites[0], rng)   # the file's lines after one change, or None
"""

from __future__ import annotations

import ast
import random
import re
from abc import abstractmethod

from codekiln.tasks.frontend.mutators.base import Edit, Mutator, SourceFile, nudge_number
from codekiln.tasks.frontend.mutators.data import misspell

DATAFILE_ONLY = frozenset({"datafile"})
_NAME_RE = re.compile(r"[A-Za-z][\w./+-]*[A-Za-z0-9]")
_NUMBER_RE = re.compile(r"(?<![\w.+-])-?\d+(?:\.\d+)?(?![\w.])")


def content_line(line: str) -> bool:
    """A line that holds data: not blank, not a `#` comment."""
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


class TextMutator(Mutator):
    """A mutator of a data file's lines. `text_sites` lists the lines it can change, `mutate_lines`
    makes one change at one of them; the `ast` side of `Mutator` offers nothing (no node types)."""

    kinds = DATAFILE_ONLY
    node_types = ()

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        return None  # a data file is no Python: see mutate_lines

    def text_sites(self, lines: list[str]) -> list[int]:
        """Indices of the lines this mutator can change, in file order."""
        return [i for i, line in enumerate(lines) if content_line(line) and self.line_applies(line)]

    def line_applies(self, line: str) -> bool:
        return True

    @abstractmethod
    def mutate_lines(self, lines: list[str], site: int, rng: random.Random) -> list[str] | None:
        """The file's lines after one change at line `site`, or None when it offers none."""


class MisspellDataName(TextMutator):
    name = "misspell_data_name"
    description = "misspell the first name on a line of a shipped data file (a list's entry, a table's key)"

    def line_applies(self, line: str) -> bool:
        return _NAME_RE.search(line) is not None

    def mutate_lines(self, lines: list[str], site: int, rng: random.Random) -> list[str] | None:
        found = _NAME_RE.search(lines[site])
        if found is None:
            return None
        new = misspell(found.group(), rng)
        if new is None or new == found.group():
            return None
        line = lines[site]
        return [*lines[:site], line[: found.start()] + new + line[found.end() :], *lines[site + 1 :]]


class ChangeDataNumber(TextMutator):
    name = "change_data_number"
    description = "change a number on a line of a shipped data file by one"

    def line_applies(self, line: str) -> bool:
        return _NUMBER_RE.search(line) is not None

    def mutate_lines(self, lines: list[str], site: int, rng: random.Random) -> list[str] | None:
        numbers = list(_NUMBER_RE.finditer(lines[site]))
        if not numbers:
            return None
        found = rng.choice(numbers)
        text = found.group()
        value: int | float = float(text) if "." in text else int(text)
        new = nudge_number(value, rng)
        written = f"{new:.{len(text.split('.', 1)[1])}f}" if "." in text else str(new)
        line = lines[site]
        return [*lines[:site], line[: found.start()] + written + line[found.end() :], *lines[site + 1 :]]


class DropDataLine(TextMutator):
    name = "drop_data_line"
    description = "drop one line (an entry) of a shipped data file"

    def mutate_lines(self, lines: list[str], site: int, rng: random.Random) -> list[str] | None:
        return [*lines[:site], *lines[site + 1 :]]


class SwapDataLines(TextMutator):
    name = "swap_data_lines"
    description = "swap a line of a shipped data file with the next line that holds data"

    def mutate_lines(self, lines: list[str], site: int, rng: random.Random) -> list[str] | None:
        after = next((j for j in range(site + 1, len(lines)) if content_line(lines[j])), None)
        if after is None or lines[after] == lines[site]:
            return None
        out = list(lines)
        out[site], out[after] = lines[after], lines[site]
        return out
