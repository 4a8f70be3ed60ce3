"""The fourteenth red team: a prediction that makes the grader's static scan build a string of any size.

The scan folds string expressions built from constants (`grading.scan_fold.fold`) to read names spelled
in pieces. A `join` repeats its separator once per part, so its value is the product of two sizes in
the source: 80 KB of `"<50,000 chars>".join(["", "", ...])`, added to a function nobody calls, made the
scan build a 500 MB string on the host and search it (29 s, 1 GB of the grader's memory, before any
sandbox or timeout applies; 460 KB, far under the 2 MB an agent's change may weigh, asked for 16 GB).
Graded through `codekiln eval` on an isodate task it held the grader until the fold failed; under a
memory limit the `MemoryError` became a "nested too deep" finding. A join now folds only up to
`FOLD_LIMIT` characters (no name or path the checks read is longer); past it, it reads as not constant.
Memory, not time, is asserted: `tracemalloc`'s peak is the same on any machine.
"""

from __future__ import annotations

import ast
import tracemalloc

from codekiln.grading.scan import scan_changes
from codekiln.grading.scan_fold import FOLD_LIMIT, fold

OLD = "def reduce(self):\n    return None\n"
SEPARATOR = "a" * 10_000
BOMB = OLD + "\n\ndef _unused():\n    return " + repr(SEPARATOR) + ".join([" + "''," * 10_000 + "])\n"


def _peak_of_scan(new: str) -> tuple[list, int]:
    tracemalloc.start()
    try:
        findings = scan_changes({"pkg/tz.py": (OLD, new)}, is_test=lambda path: "tests/" in path)
        return findings, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_join_bomb_is_scanned_without_building_its_string() -> None:
    """40 KB of source asked for a 100 MB string (the grader's peak was over 200 MB); the fold stops at
    FOLD_LIMIT and the scan stays within a few MB."""
    assert len(BOMB) < 50_000
    findings, peak = _peak_of_scan(BOMB)
    assert findings == []  # nothing to find: the string is no name, and reads as not constant
    assert peak < 20 << 20, f"the scan held {peak:,} bytes"


def test_joins_that_spell_names_still_fold() -> None:
    """What folding is for is unchanged: a name spelled in pieces is read, a long join of honest text
    (a help page of 300 lines) folds or not without a finding."""
    spelled = OLD + "\n\nPATH = ''.join(['/tmp/ju', 'nit.x', 'ml'])\n"
    (finding,) = scan_changes({"pkg/tz.py": (OLD, spelled)}, is_test=lambda path: False)
    assert (finding.kind, finding.detail) == ("grader-path", "/tmp/junit.xml")
    lines = ", ".join(repr(f"line {i} of the help text") for i in range(300))
    assert (
        scan_changes({"pkg/tz.py": (OLD, OLD + f"\nHELP = '\\n'.join([{lines}])\n")}, is_test=lambda p: False)
        == []
    )


def test_the_limit_is_on_the_joined_size() -> None:
    def folded(expr: str) -> str | None:
        return fold(ast.parse(expr, mode="eval").body)

    assert folded("'-'.join(['a', 'b', 'c'])") == "a-b-c"
    assert folded(f"{'x' * FOLD_LIMIT!r}.join(['', ''])") == "x" * FOLD_LIMIT  # at the limit
    assert folded(f"{'x' * (FOLD_LIMIT + 1)!r}.join(['', ''])") is None  # one past it
    assert folded(f"{'x' * 64!r}.join([" + "''," * 1_000 + "])") is None  # nested or not, bounded
    assert folded(f"'/'.join([{'x' * 64!r}.join(['', '']), 'y'])") == "x" * 64 + "/y"
