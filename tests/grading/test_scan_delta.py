"""The incremental scan (`scan_delta.added_findings`, the grader gate's per-task scan) finds exactly
what the full scan (`scan.scan_changes`) finds, as (kind, detail) multisets, for every change tried:
each line of a module deleted, duplicated, replaced or preceded by new code, including changes that
add or remove imports, aliases in force, decorators, docstrings, blank lines and whole statements."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from codekiln.grading import scan, scan_delta
from codekiln.grading.scan import scan_changes
from codekiln.grading.scan_delta import added_findings

MODULE = '''"""A module whose constructs depend on aliases set far from where they are used."""
import os as o
from sys import _getframe as gf


def leave(code):
    o._exit(code)


@decorate(getattr(o, "name"))
def frame():
    """getattr(x, name) in prose is no construct."""
    return gf(1)


class Thing:
    attr = getattr(o, NAME)

    def walk(self):
        import inspect as o
        return o.stack()

    def spawn(self):
        return subprocess.run(["pytest", "-q"])


value = (1 +
         2)
text = """a string over lines
that names junit.xml"""
if value:
    f = o._exit
else:
    f = None
'''

EDITS = [
    lambda line: "",  # deleted
    lambda line: line + line,  # duplicated
    lambda line: "x = getattr(o, name)\n",  # replaced by a construct
    lambda line: "import os as gf\n" + line,  # an alias changed before it
    lambda line: "    y = o._exit\n" + line,  # an indented line put in front
    lambda line: "\n" + line,  # a blank line in front
    lambda line: line.replace("o.", "os."),  # an alias no longer used
]


def _kinds(found: list[tuple[int, str, str]]) -> Counter[tuple[str, str]]:
    return Counter((kind, detail) for _, kind, detail in found)


def _full(old: str, new: str) -> Counter[tuple[str, str]]:
    return Counter((f.kind, f.detail) for f in scan_changes({"m.py": (old, new)}, is_test=lambda _: False))


def _check_every_edit(new: str, lines: list[int]) -> int:
    """Compare both scans for every edit of each of `lines` (0-based) of `new`; how many found
    something (the comparisons that are not trivially empty)."""
    rows = new.splitlines(keepends=True)
    flagged = 0
    for i in lines:
        for edit in EDITS:
            old = "".join([*rows[:i], edit(rows[i]), *rows[i + 1 :]])
            expected = _full(old, new)
            assert _kinds(added_findings(old, new)) == expected, (i, rows[i], edit(rows[i]))
            flagged += bool(expected)
    return flagged


def test_every_edit_of_a_small_module_finds_what_the_full_scan_finds() -> None:
    flagged = _check_every_edit(MODULE, list(range(len(MODULE.splitlines()))))
    assert flagged > 20  # the comparisons are not all between empty results


def test_edits_of_a_real_module_find_what_the_full_scan_finds() -> None:
    flagged = 0
    for name in ("scan.py", "scan_strings.py"):  # imports, aliases, strings naming the runner
        source = (Path(scan.__file__).parent / name).read_text()
        sample = [i for i, line in enumerate(source.splitlines()) if i % 89 == 0 or "PYTEST_" in line]
        flagged += _check_every_edit(source, sample)
    assert flagged > 0


def test_a_change_inside_one_function_scans_that_function_only() -> None:
    new = Path(scan.__file__).read_text()
    old = new.replace("return scanner.found", "return list(scanner.found)", 1)
    assert old != new and added_findings(old, new) == []  # the new text's scan is kept from here on
    before = scan._scan_cached.cache_info()
    assert added_findings(old.replace("list(scanner.found)", "sorted(scanner.found)"), new) == []
    assert scan._scan_cached.cache_info().misses == before.misses  # neither old text scanned whole


def test_the_new_sides_run_is_kept_for_the_next_change() -> None:
    """Two bugs in the same function: the gold patches restore the same run of the new text, scanned
    once (`_scanned_run`); each bug's own run is scanned, and the findings are the full scan's."""
    bugs = [MODULE.replace("o._exit(code)", f"o._exit(code + {n})") for n in (1, 2)]
    assert _kinds(added_findings(bugs[0], MODULE)) == _full(bugs[0], MODULE)
    runs = scan_delta._scanned_run.cache_info()
    assert _kinds(added_findings(bugs[1], MODULE)) == _full(bugs[1], MODULE)
    after = scan_delta._scanned_run.cache_info()
    assert (after.hits, after.misses) == (runs.hits + 1, runs.misses + 1)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (None, MODULE),  # a file the gold patch creates
        ("", MODULE),
        (MODULE, MODULE),
        ("def broken(:\n", MODULE),  # an old text that does not parse: everything is added
        (MODULE.replace("\n", "\r\n"), MODULE),  # carriage returns: scanned whole
        (MODULE, MODULE + "def broken(:\n"),  # a new text that does not parse: nothing to flag
    ],
)
def test_edge_cases_match_the_full_scan(old: str | None, new: str) -> None:
    full = Counter((f.kind, f.detail) for f in scan_changes({"m.py": (old, new)}, is_test=lambda _: False))
    assert _kinds(added_findings(old, new)) == full
