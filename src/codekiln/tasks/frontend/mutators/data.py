"""Data mutators: bugs in the tables and constants a module or class body assigns (`frontend.data`), the
kind a maintainer makes by hand: an entry dropped from a set, list, tuple or mapping, a mapping's key
sent to another key's value, a misspelled string. They mutate data entities only (`kinds`); numbers and
flags there are `change_constant`'s."""

from __future__ import annotations

import ast
import random
import re

from codekiln.tasks.frontend.mutators.base import Edit, Mutator, SourceFile

DATA_ONLY = frozenset({"data"})
_TRAILER_RE = re.compile(r"\s*,?\s*(#.*)?$")


def _items(node: ast.AST) -> list[tuple[ast.AST, ast.AST]]:
    """The entries of a display as (first node, last node): an element, or a dict's key and value."""
    if isinstance(node, ast.Dict):
        return [(k, v) for k, v in zip(node.keys, node.values, strict=True) if k is not None]
    assert isinstance(node, ast.List | ast.Tuple | ast.Set)
    return [(e, e) for e in node.elts]


def _droppable(node: ast.AST) -> bool:
    if isinstance(node, ast.Dict):
        return len(node.keys) >= 2 and None not in node.keys  # no `**other` to keep apart
    if not isinstance(node, ast.List | ast.Tuple | ast.Set):
        return False
    if any(isinstance(e, ast.Starred) for e in node.elts):
        return False
    # a 2-tuple left with one element would lose its comma's meaning: `("a")` is a string
    return len(node.elts) >= (3 if isinstance(node, ast.Tuple) else 2)


class DropEntry(Mutator):
    name = "drop_entry"
    description = "drop one entry of a module- or class-level set, list, tuple or dict literal"
    node_types = (ast.List, ast.Tuple, ast.Set, ast.Dict)
    kinds = DATA_ONLY

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        return _droppable(node)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        items = _items(node)
        i = rng.randrange(len(items))
        first, last = items[i]
        start, end = src.start(first), src.end(last)
        line_first, line_last = first.lineno, last.end_lineno  # type: ignore[attr-defined]
        head = src.text[src.line_start(line_first) : start]
        tail = src.text[end : src.lines_span(line_last, line_last)[1]]
        if not head.strip() and _TRAILER_RE.fullmatch(tail.rstrip("\n")):
            return [Edit(*src.lines_span(line_first, line_last), "")]  # an entry on lines of its own
        if i + 1 < len(items):
            return [Edit(start, src.start(items[i + 1][0]), "")]
        return [Edit(src.end(items[i - 1][1]), end, "")]


class WrongMappingValue(Mutator):
    name = "wrong_mapping_value"
    description = "give one key of a module- or class-level dict literal another key's value"
    node_types = (ast.Dict,)
    kinds = DATA_ONLY

    def _values(self, node: ast.Dict) -> list[ast.expr]:
        return [v for k, v in zip(node.keys, node.values, strict=True) if k is not None]

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        assert isinstance(node, ast.Dict)
        return len({ast.dump(v) for v in self._values(node)}) >= 2

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Dict)
        values = self._values(node)
        target = rng.choice(values)
        others = [v for v in values if ast.dump(v) != ast.dump(target)]
        if not others:
            return None
        return [src.replace(target, src.segment(rng.choice(others)))]


def _plain_string(node: ast.AST, src: SourceFile) -> bool:
    """A one-piece string literal written without prefix or escapes: its text between the quotes is
    its value, so a changed value is written back in the same quotes."""
    if not (isinstance(node, ast.Constant) and isinstance(node.value, str) and len(node.value) >= 2):
        return False
    text = src.segment(node)
    quote = text[:1]
    return (
        quote in ("'", '"')
        and not text.startswith(quote * 3)
        and text[1:-1] == node.value
        and text.endswith(quote)
        and "\\" not in node.value  # a swapped backslash would escape something else
        and any(c.isalpha() for c in node.value)
    )


def misspell(value: str, rng: random.Random) -> str | None:
    """`value` with one slip of the hand: two neighbouring characters swapped, a letter dropped, or a
    letter's case changed; None when each choice leaves it as it is."""
    swaps = [i for i in range(len(value) - 1) if value[i] != value[i + 1] and value[i].isalnum()]
    letters = [i for i, c in enumerate(value) if c.isalpha()]
    choices = [kind for kind, sites in (("swap", swaps), ("drop", letters), ("case", letters)) if sites]
    if not choices:
        return None
    kind = rng.choice(choices)
    if kind == "swap":
        i = rng.choice(swaps)
        return value[:i] + value[i + 1] + value[i] + value[i + 2 :]
    i = rng.choice(letters)
    if kind == "drop":
        return value[:i] + value[i + 1 :]
    changed = value[i].swapcase()
    return None if changed == value[i] else value[:i] + changed + value[i + 1 :]


class MisspellString(Mutator):
    name = "misspell_string"
    description = (
        "misspell a string of a module- or class-level constant or table (swap, drop or recase a letter)"
    )
    node_types = (ast.Constant,)
    kinds = DATA_ONLY

    def applies(self, node: ast.AST, src: SourceFile) -> bool:
        return _plain_string(node, src)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        assert isinstance(node, ast.Constant) and isinstance(node.value, str)
        new = misspell(node.value, rng)
        if new is None or new == node.value:
            return None
        start, end = src.start(node), src.end(node)
        return [Edit(start + 1, end - 1, new)]
