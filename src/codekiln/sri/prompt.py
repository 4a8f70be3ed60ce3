"""What a model is shown for one problem: SRI chat messages, or a FIM prompt, over the same context.

    view = ContextView(problem, path="toolz/itertoolz.py", context_lines=60)
    messages = sri_messages(view)                 # system + user; the gold answer is problem.gold_answer()
    prefix, suffix = view.fim_parts()             # the same lines around the hole, for FIM

Long files are cut to `context_lines` lines above and below the editable window (the SRI prompt marks
each cut); FIM gets exactly the same lines, so both forms see the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from codekiln.sri.format import DIVIDER, REPLACE, SEARCH, Problem, marker_for

DEFAULT_CONTEXT = 60
SYSTEM = (
    "You complete code. The file has a marker comment `{marker}` where code is missing. Answer with one "
    "SEARCH/REPLACE block and nothing else:\n"
    f"{SEARCH}\n(the editable window, copied exactly, marker included)\n{DIVIDER}\n"
    f"(the same lines with the marker replaced by the missing code, and any bug in them fixed)\n{REPLACE}"
)


@dataclass(frozen=True)
class ContextView:
    """A problem with its file path and how many lines around the window the model sees."""

    problem: Problem
    path: str
    context_lines: int = DEFAULT_CONTEXT

    def _cut(self, text: str, start: int, end: int) -> tuple[int, int]:
        """Offsets of the lines kept around [start, end) of `text`."""
        lo = start
        for _ in range(self.context_lines):
            if lo == 0:
                break
            lo = text.rfind("\n", 0, lo - 1) + 1
        hi = end
        for _ in range(self.context_lines):
            if hi >= len(text):
                break
            nxt = text.find("\n", hi)
            hi = len(text) if nxt < 0 else nxt + 1
        return lo, hi

    def shown_file(self) -> tuple[str, bool, bool]:
        """The prompt file cut to the context, and whether lines were cut above / below."""
        text = self.problem.prompt_file()
        lo, hi = self._cut(text, *self.problem.window_span())
        return text[lo:hi], lo > 0, hi < len(text)

    def fim_parts(self) -> tuple[str, str]:
        """(prefix, suffix) for FIM: the shown text around the middle, cut like the SRI prompt."""
        p = self.problem
        text = p.prompt_file()
        lo, hi = self._cut(text, *p.window_span())
        end_of_marker = len(p.prefix) + len(p.marker_text())
        return p.prefix[lo:], p.suffix[: max(0, hi - end_of_marker)]


def sri_messages(view: ContextView) -> list[dict[str, Any]]:
    """System and user messages asking for the SRI answer."""
    shown, cut_above, cut_below = view.shown_file()
    lang = view.problem.language
    parts = [f"File: {view.path}", f"```{lang}"]
    if cut_above:
        parts.append("... (lines above omitted)")
    parts.append(shown.rstrip("\n"))
    if cut_below:
        parts.append("... (lines below omitted)")
    parts += ["```", "Editable window:", f"```{lang}", view.problem.window_text().rstrip("\n"), "```"]
    system = SYSTEM.format(marker=marker_for(lang))
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n".join(parts)}]
