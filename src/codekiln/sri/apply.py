"""Apply SEARCH/REPLACE blocks to a file, each with a named outcome, and turn the result into a diff.

    result = apply_answer(problem.prompt_file(), model_output)
    result.outcome      # "exact" | "whitespace" | "ambiguous" | "not_found" | "empty_search" | "no_blocks"
    result.text         # the edited file, or None when the answer does not apply
    answer_diff("toolz/itertoolz.py", problem, model_output)   # unified diff, "" when it does not apply

Each block is applied to the text the previous blocks left. A block first must match exactly, and once:
its SEARCH text (with or without its last newline) occurs exactly one time as whole lines (a match
starting or ending inside a line does not count). Two or more occurrences are
`ambiguous` (never guessed). With none, the whitespace-tolerant fallback compares whole lines with
leading and trailing whitespace stripped; one matching run of lines is `whitespace`, and the REPLACE lines
are re-indented by the indentation the model dropped or added on the first matching line (the model wrote
`return x` where the file has `    return x`). Several runs are `ambiguous`, none `not_found`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from codekiln.core.diffs import make_diff
from codekiln.core.errors import FormatError
from codekiln.sri.format import Block, parse_blocks

Outcome = Literal["exact", "whitespace", "ambiguous", "not_found", "empty_search", "no_blocks"]
APPLIED: frozenset[str] = frozenset({"exact", "whitespace"})
"""The outcomes that leave an edited file."""
_RANK = {"exact": 0, "whitespace": 1, "ambiguous": 2, "not_found": 3, "empty_search": 4, "no_blocks": 5}


@dataclass
class ApplyResult:
    """What applying an answer gave: the edited file (None unless every block applied), the overall
    outcome (the worst of the blocks'), each block's outcome, and why it failed, worded for the model."""

    text: str | None
    outcome: Outcome
    blocks: list[Outcome] = field(default_factory=list)
    message: str = ""

    @property
    def applied(self) -> bool:
        return self.outcome in APPLIED


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(lines: list[str], found: str, wrote: str) -> list[str]:
    """Shift non-blank `lines` from the model's indentation `wrote` to the file's `found`."""
    out = []
    for line in lines:
        if not line.strip():
            out.append(line)
        elif len(found) >= len(wrote):
            out.append(found[: len(found) - len(wrote)] + line)
        else:
            drop = len(wrote) - len(found)
            out.append(line[drop:] if line[:drop].isspace() else line.lstrip())
    return out


def apply_block(text: str, block: Block) -> tuple[str | None, Outcome]:
    """`text` with one block applied, and the outcome (see the module docstring)."""
    if not block.search.strip():
        return None, "empty_search"
    for search, replace in ((block.search + "\n", block.replace + "\n"), (block.search, block.replace)):
        hits = _line_aligned(text, search)
        if len(hits) == 1:
            return text[: hits[0]] + replace + text[hits[0] + len(search) :], "exact"
        if len(hits) > 1:
            return None, "ambiguous"
    return _apply_whitespace(text, block)


def _line_aligned(text: str, search: str) -> list[int]:
    """Offsets where `search` occurs in `text` as whole lines: starting a line, ending one (or the text)."""
    hits, pos = [], text.find(search)
    while pos >= 0:
        end = pos + len(search)
        starts = pos == 0 or text[pos - 1] == "\n"
        ends = search.endswith("\n") or end == len(text) or text[end] == "\n"
        if starts and ends:
            hits.append(pos)
        pos = text.find(search, pos + 1)
    return hits


def _apply_whitespace(text: str, block: Block) -> tuple[str | None, Outcome]:
    lines = text.split("\n")
    want = block.search.split("\n")
    while want and not want[-1].strip():  # blank lines the model added at the end do not count
        want.pop()
    key = [w.strip() for w in want]
    n = len(key)
    hits = [i for i in range(len(lines) - n + 1) if [s.strip() for s in lines[i : i + n]] == key]
    if len(hits) != 1:
        return None, "ambiguous" if hits else "not_found"
    i = hits[0]
    first = next(j for j, w in enumerate(want) if w.strip())
    new = _reindent(block.replace.split("\n"), _indent(lines[i + first]), _indent(want[first]))
    return "\n".join([*lines[:i], *new, *lines[i + n :]]), "whitespace"


def apply_answer(text: str, answer: str) -> ApplyResult:
    """Apply every SEARCH/REPLACE block of `answer` to `text` in order (see the module docstring)."""
    try:
        blocks = parse_blocks(answer)
    except FormatError as err:
        return ApplyResult(None, "no_blocks", [], err.message)
    outcomes: list[Outcome] = []
    current: str | None = text
    for i, block in enumerate(blocks):
        assert current is not None
        current, outcome = apply_block(current, block)
        outcomes.append(outcome)
        if current is None:
            why = {
                "ambiguous": "matches more than one place in the file; include more lines to make it unique",
                "not_found": "matches no lines of the file; copy the window's lines exactly",
                "empty_search": "is empty; put the window's lines in SEARCH",
            }[outcome]
            return ApplyResult(None, outcome, outcomes, f"block {i + 1}'s SEARCH text {why}")
    worst = max(outcomes, key=lambda o: _RANK[o])
    return ApplyResult(current, worst, outcomes)


def answer_diff(path: str, before: str, answer: str) -> str:
    """The answer as a unified `git diff` of `path` from `before` (e.g. the prompt file); "" when the
    answer does not apply or changes nothing."""
    result = apply_answer(before, answer)
    if result.text is None:
        return ""
    return make_diff(path, before, result.text)
