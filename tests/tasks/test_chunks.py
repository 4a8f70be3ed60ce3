"""Changed top-level statements (`tasks.validation.chunks`): what they hold, when there is none, and that code
compiled from a chunk is the code of the whole file (the warm runner swaps it into live functions)."""

from __future__ import annotations

import types
from pathlib import Path

import pytest

from codekiln.tasks.validation.chunks import changed_chunk, excerpt, top_level_spans

SOURCE = '''"""A module."""
import functools

LIMIT = 3


@functools.lru_cache
def first(xs):
    for x in xs:
        if x > LIMIT:
            return x
    return None


class Box:
    def __init__(self, item):
        self.item = item

    def get(self):
        return self.item
'''


def _chunk(old: str, new: str) -> tuple[int, int, int] | None:
    chunk = changed_chunk(old, new, top_level_spans(old))
    if chunk is not None:
        assert chunk[3] == [(2, 2)]  # the import above it
        return chunk[:3]
    return None


def test_spans_include_decorators() -> None:
    assert top_level_spans(SOURCE) == [
        (1, 1, False),
        (2, 2, True),
        (4, 4, False),
        (7, 12, False),
        (15, 20, False),
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("if x > LIMIT:", "if x >= LIMIT:", (7, 12, 12)),  # inside a function
        ("@functools.lru_cache", "@functools.cache", (7, 12, 12)),  # its decorator
        ("        self.item = item\n", "        self.item = item\n        self.n = 0\n", (15, 20, 21)),
        ("    return None\n", "", (7, 12, 11)),  # a removed line
        ("LIMIT = 3", "LIMIT = 4", (4, 4, 4)),  # module-level code is a statement too
    ],
)
def test_the_chunk_holds_every_changed_line(old: str, new: str, expected: tuple[int, int, int]) -> None:
    assert old in SOURCE
    buggy = SOURCE.replace(old, new, 1)
    chunk = _chunk(SOURCE, buggy)
    assert chunk == expected
    start, old_end, new_end = expected
    lines, new_lines = SOURCE.split("\n"), buggy.split("\n")
    assert lines[: start - 1] == new_lines[: start - 1]  # the same before the chunk ...
    assert lines[old_end:] == new_lines[new_end:]  # ... and after it


def test_no_chunk_when_the_change_lies_between_statements_or_uses_bare_carriage_returns() -> None:
    assert _chunk(SOURCE, SOURCE.replace("LIMIT = 3\n\n", "LIMIT = 3\n# note\n")) is None
    assert _chunk(SOURCE, SOURCE.replace("\n\nclass Box", "\nX = 1\n\nclass Box")) is None
    assert _chunk(SOURCE, SOURCE.replace("x > LIMIT", "x >\rLIMIT")) is None
    assert _chunk(SOURCE, SOURCE) is None  # nothing changed


def _functions(code: types.CodeType) -> dict[tuple[str, int], types.CodeType]:
    out = {}
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            out[(const.co_qualname, const.co_firstlineno)] = const
            out.update(_functions(const))
    return out


def test_code_compiled_from_a_chunk_is_the_code_of_the_whole_file(toolz_src: Path) -> None:
    """Every function of a real module, compiled from its statement alone, equals (line numbers and
    all) the one compiled from the whole file."""
    path = toolz_src / "toolz" / "itertoolz.py"
    source = path.read_text()
    whole = _functions(compile(source, str(path), "exec", dont_inherit=True))
    spans = top_level_spans(source)
    assert len(spans) > 50
    seen = 0
    for start, end, _ in spans:
        keep = [(a, b) for a, b, imports in spans if imports and b < start]
        text = excerpt(source, start, end, keep)
        part = _functions(compile(text, str(path), "exec", dont_inherit=True))
        for key, code in part.items():
            assert whole[key] == code, key
            seen += 1
    assert seen == len(whole)
