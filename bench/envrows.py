"""Rows of bench/envbuild.py read back from a markdown table it printed (`envcompare.table`): for rows
whose runs' records are gone, so that `--table` prints the same table until each library is rerun.

    python bench/envrows.py README.md bebdb8d >> bench/results/envbuild_rows.jsonl

Each row holds what the table shows (counts, verdict, tasks, reason) and a `reconstructed` field naming
where it came from; no run record and no per-test data stand behind it, and `envbuild.py` never
re-judges it (a rerun of the library replaces it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

HEADER = "| library | version | plain p/f/s | codekiln p/f/s | verdict | tasks | reason |"
_TASKS = re.compile(r"^(\d+)(?: \((\w+)\))?(?: in ([\d.]+) s \(([^;]*)\))?(?:; (.*))?$")


def table_lines(text: str) -> list[str]:
    """The table's row lines: from the line after HEADER's separator to the first line not a row."""
    lines = text.splitlines()
    start = lines.index(HEADER) + 2
    out = []
    for ln in lines[start:]:
        if not ln.startswith("| "):
            break
        out.append(ln)
    return out


def _cells(line: str) -> list[str]:
    cells = re.split(r"(?<!\\) \| ", line.strip()[2:-2])  # an escaped `\|` belongs to the reason
    if len(cells) == 6:  # an empty reason: the line ends `|  |`
        cells.append("")
    return [c.strip() for c in cells]


def _counts(cell: str) -> dict[str, int] | None:
    if cell == "-":
        return None
    passed, failed, skipped = (int(x) for x in cell.split("/"))
    return {"passed": passed, "failed": failed, "skipped": skipped}


def row_of(line: str, source: str) -> dict[str, object]:
    """One table line as a row that `envcompare.table` prints back as the same line."""
    library, version, plain, ck, verdict, tasks, reason = _cells(line)
    p, c = _counts(plain), _counts(ck)
    row: dict[str, object] = {
        "library": library, "version": version, "verdict": verdict, "reason": reason.replace("\\|", "|"),
        "plain": {"status": "ran", "summary_found": 1, **p} if p else {"summary_found": 0},
        "codekiln": {"ok": True, "error": 0, **c} if c else {"ok": False},
        "reconstructed": {
            "from": source,
            "per_test": "not kept: the counts, verdict, tasks and reason are the table's; the runs' records "
            "were lost with the machine they were kept on",
        },
    }  # fmt: skip
    m = _TASKS.match(tasks)
    if m:
        row["synth"] = {"tasks": int(m[1]), "synth_status": m[2] or "done"}
        if m[3]:  # a limit raised by `envcompare.synth_limit`
            row["synth"].update(limit_s=float(m[3]), limit_rule=m[4])  # type: ignore[attr-defined]
        if m[5]:
            row["synth"]["why"] = m[5].replace("\\|", "|")  # type: ignore[index]
    return row


def main() -> int:
    readme, commit = Path(sys.argv[1]), sys.argv[2]
    full = subprocess.run(
        ["git", "-C", str(readme.parent), "rev-parse", commit], capture_output=True, text=True, check=True
    ).stdout.strip()
    text = subprocess.run(
        ["git", "-C", str(readme.parent), "show", f"{full}:{readme.name}"], capture_output=True, text=True, check=True
    ).stdout  # fmt: skip
    for line in table_lines(text):
        print(json.dumps(row_of(line, f"{readme.name} at commit {full}"), sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
