"""The SRI format: a file with a cursor marker where code is missing, an editable window around the
marker, and the answer as SEARCH/REPLACE blocks (Search-and-Replace Infilling, arXiv 2601.13384).

    problem = Problem.from_span(text, start, end)        # the middle is text[start:end]
    problem.prompt_file()      # the file with `# MIDDLE CODE TO COMPLETE` in place of the middle
    problem.window_text()      # the editable window: `window` lines of the prompt file around the marker
    problem.gold_answer()      # "<<<<<<< SEARCH\\n{window}=======\\n{filled window}>>>>>>> REPLACE\\n"
    blocks = parse_blocks(model_output)                  # [Block(search, replace)] or FormatError

The marker is written in the language's comment form (`MARKERS`): `# ...` in Python and other
hash-comment languages, `/* ... */` in C-like ones. A middle made of whole lines becomes one marker line
at the middle's indentation; a middle inside a line (an expression, a call) is replaced by the marker
text in place, the rest of the line kept. The window is `window` lines of the prompt file, the marker line
about in the middle, shifted to stay inside the file.

A problem may be corrupted: `prefix`/`suffix` (what the model is shown) differ from `clean_prefix`/
`clean_suffix` (the repository's text) inside the window only, so the answer must fill the middle and
repair the window. `check()` enforces that the corruption lies inside the window.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from codekiln.core.errors import FormatError

MARKER_TEXT = "MIDDLE CODE TO COMPLETE"
MARKERS: dict[str, str] = {
    **{lang: f"# {MARKER_TEXT}" for lang in ("python", "ruby", "shell", "perl", "r", "yaml", "toml")},
    **{
        lang: f"/* {MARKER_TEXT} */"
        for lang in (
            "c",
            "cpp",
            "java",
            "javascript",
            "typescript",
            "go",
            "rust",
            "csharp",
            "kotlin",
            "swift",
        )
    },
}
"""Language -> the cursor marker in its comment form."""
DEFAULT_WINDOW = 10
SEARCH, DIVIDER, REPLACE = "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE"


def marker_for(language: str) -> str:
    """The cursor marker of `language` (see `MARKERS`)."""
    try:
        return MARKERS[language]
    except KeyError:
        raise FormatError(
            f"no cursor marker for language {language!r}",
            hint=f"use one of {', '.join(sorted(MARKERS))}, or add its comment form to sri.format.MARKERS",
        ) from None


@dataclass(frozen=True)
class Problem:
    """One infilling problem: the shown file is prefix + middle + suffix; the gold file is
    clean_prefix + middle + clean_suffix (equal to the shown file unless corrupted)."""

    prefix: str
    middle: str
    suffix: str
    clean_prefix: str
    clean_suffix: str
    language: str = "python"
    window: int = DEFAULT_WINDOW

    @classmethod
    def from_span(
        cls, text: str, start: int, end: int, *, language: str = "python", window: int = DEFAULT_WINDOW
    ) -> Problem:
        """The problem whose middle is text[start:end] (no corruption)."""
        if not 0 <= start < end <= len(text):
            raise FormatError(f"bad middle span {start}:{end} in a file of {len(text)} characters")
        return cls(text[:start], text[start:end], text[end:], text[:start], text[end:], language, window)

    @property
    def whole_lines(self) -> bool:
        """True when the middle is whole lines: it starts a line and ends with a newline."""
        return (not self.prefix or self.prefix.endswith("\n")) and self.middle.endswith("\n")

    @property
    def corrupted(self) -> bool:
        return self.prefix != self.clean_prefix or self.suffix != self.clean_suffix

    def marker_text(self) -> str:
        """What stands for the middle in the prompt file."""
        mark = marker_for(self.language)
        if not self.whole_lines:
            return mark
        first = self.middle.split("\n", 1)[0]
        return first[: len(first) - len(first.lstrip())] + mark + "\n"

    def prompt_file(self) -> str:
        return self.prefix + self.marker_text() + self.suffix

    def gold_file(self) -> str:
        return self.clean_prefix + self.middle + self.clean_suffix

    def window_span(self) -> tuple[int, int]:
        """Character offsets [start, end) of the editable window in the prompt file: whole lines."""
        text = self.prompt_file()
        lines = text.splitlines(keepends=True)
        mark_line = self.prefix.count("\n")
        before = (self.window - 1) // 2
        lo = max(0, mark_line - before)
        hi = min(len(lines), lo + max(self.window, 1))
        lo = max(0, min(lo, hi - self.window))
        start = sum(len(line) for line in lines[:lo])
        return start, start + sum(len(line) for line in lines[lo:hi])

    def window_text(self) -> str:
        start, end = self.window_span()
        return self.prompt_file()[start:end]

    def _window_parts(self) -> tuple[int, int, int]:
        """(window start, window end, suffix characters after the window) in prompt-file offsets."""
        start, end = self.window_span()
        after = len(self.prefix) + len(self.marker_text()) + len(self.suffix) - end
        return start, end, after

    def gold_window(self) -> str:
        """The window as the answer must leave it: middle filled in, corruption repaired."""
        start, _, after = self._window_parts()
        clean_tail = len(self.clean_suffix) - after
        return self.clean_prefix[start:] + self.middle + self.clean_suffix[:clean_tail]

    def gold_answer(self) -> str:
        return render_block(self.window_text(), self.gold_window())

    def check(self) -> None:
        """Raise FormatError unless the problem is well formed: the middle is not blank, and any
        corruption lies inside the window (outside it, the shown and the clean file agree)."""
        if not self.middle.strip():
            raise FormatError("the middle is empty or blank")
        start, _, after = self._window_parts()
        same_head = self.prefix[:start] == self.clean_prefix[:start]
        cut = len(self.clean_suffix) - after  # where the window ends in the clean suffix
        same_tail = after == 0 or (
            cut >= 0
            and self.suffix[-after:] == self.clean_suffix[-after:]
            and (cut == 0 or self.clean_suffix[cut - 1] == "\n")  # and it ends a line there too
        )
        if not (same_head and same_tail):
            raise FormatError(
                "the corruption reaches outside the editable window",
                hint="corrupt only lines inside the window, or make the window larger",
            )


def render_block(search: str, replace: str) -> str:
    """One SEARCH/REPLACE block; each side ends with a newline."""

    def ended(s: str) -> str:
        return s if not s or s.endswith("\n") else s + "\n"

    return f"{SEARCH}\n{ended(search)}{DIVIDER}\n{ended(replace)}{REPLACE}\n"


@dataclass(frozen=True)
class Block:
    """One SEARCH/REPLACE edit as the model wrote it (each side without its last newline)."""

    search: str
    replace: str


_HEAD = re.compile(r"^\s*<{5,9} ?SEARCH\s*$")
_MID = re.compile(r"^\s*={5,9}\s*$")
_TAIL = re.compile(r"^\s*>{5,9} ?REPLACE\s*$")


def parse_blocks(text: str) -> list[Block]:
    """The SEARCH/REPLACE blocks of a model's answer, in order. Text around blocks (prose, code fences)
    is ignored. Raises FormatError, worded for the model, when there is no block or one is unfinished."""
    blocks: list[Block] = []
    state, search, replace = "out", list[str](), list[str]()
    for line in text.split("\n"):
        if state == "out" and _HEAD.match(line):
            state, search, replace = "search", [], []
        elif state == "search" and _MID.match(line):
            state = "replace"
        elif state == "replace" and _TAIL.match(line):
            blocks.append(Block("\n".join(search), "\n".join(replace)))
            state = "out"
        elif state == "search":
            search.append(line)
        elif state == "replace":
            replace.append(line)
    if state != "out":
        missing = DIVIDER if state == "search" else REPLACE
        raise FormatError(
            f"a SEARCH/REPLACE block is not finished: {missing!r} is missing",
            hint=f"write {SEARCH}, the lines to find, {DIVIDER}, the new lines, then {REPLACE}",
        )
    if not blocks:
        raise FormatError(
            "the answer holds no SEARCH/REPLACE block",
            hint=f"answer with {SEARCH}, the window's lines, {DIVIDER}, the completed lines, {REPLACE}",
        )
    return blocks
