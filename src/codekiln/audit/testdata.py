"""An attack on the data hidden tests read (an eleventh red team): a test may take its expected values
from a file outside every test folder (`testdata/cases.json`), which no rule protected by name.

    testdata_emptied(target)   # every JSON file a hidden test names: each list in it emptied

A test looping over the cases of such a file then passes with nothing checked; on a task whose hidden
tests name no such file the attack touches nothing a test reads (a comment), so it grades unresolved.
"""

from __future__ import annotations

import json
from pathlib import PurePosixPath
from typing import Any

from codekiln.audit.target import Target
from codekiln.grading.pathrules import is_protected

NOTE = "\n# no data file named by a hidden test in this task\n"


def _emptied(value: Any) -> Any:
    if isinstance(value, list):
        return []
    if isinstance(value, dict):
        return {k: _emptied(v) for k, v in value.items()}
    return value


def _named(t: Target) -> list[str]:
    """JSON files of the snapshot, outside every protected path, whose name a hidden test spells."""
    sources = "".join(t.snapshot.joinpath(rel).read_text(errors="replace") for rel in t.task.hidden_tests)
    return sorted(
        str(path.relative_to(t.snapshot))
        for path in t.snapshot.rglob("*.json")
        if path.is_file()
        and ".git" not in path.parts
        and not is_protected(str(path.relative_to(t.snapshot)))
        and PurePosixPath(path.name).stem in sources
    )


def testdata_emptied(t: Target) -> str:
    diffs = []
    for rel in _named(t):
        try:
            data = json.loads(t.text(rel) or "")
        except ValueError:
            continue
        diffs.append(t.new(rel, json.dumps(_emptied(data)) + "\n"))
    return "".join(diffs) or t.append(t.init, NOTE)


__all__ = ["testdata_emptied"]
