"""How close a predicted file is to the gold one: exact match, edit similarity over the window, repair.

    scores = score_file(problem, predicted_file)   # Scores(exact, edit_similarity, repaired)

Both forms are scored on the file they produce, so SRI and FIM compare on equal terms: SRI's file is the
prompt file with the answer applied (None when it does not apply); FIM's is the shown prefix + the
generated middle + the shown suffix (FIM cannot touch the window outside the middle, so it never repairs).

- exact: the predicted file equals the gold file (the repository's, middle filled, corruption undone).
- edit_similarity: 1 - Levenshtein distance / the longer length, between the gold middle and the
  predicted one: what the predicted file holds between the shown (or the clean, if repaired) prefix and
  suffix. FIM's files always have that form; an SRI answer that also changed other lines is compared
  over the window instead (the gold window against the text in the window's place). 0 when nothing
  applied. Scoring the middle, not the window, keeps the unchanged window lines from inflating it.
- repaired (corrupted problems only): the predicted file keeps the clean text around the middle, i.e.
  the corruption is undone whatever the middle holds.
"""

from __future__ import annotations

from dataclasses import dataclass

from codekiln.sri.format import Problem


def levenshtein(a: str, b: str) -> int:
    """Character edit distance (insertions, deletions, substitutions cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def edit_similarity(a: str, b: str) -> float:
    """1 - levenshtein(a, b) / max(len(a), len(b)); 1.0 for two empty strings."""
    longest = max(len(a), len(b))
    if longest == 0:
        return 1.0
    if a == b:
        return 1.0
    return 1.0 - levenshtein(a, b) / longest


@dataclass(frozen=True)
class Scores:
    exact: bool
    edit_similarity: float
    repaired: bool | None


def predicted_window(problem: Problem, predicted: str) -> tuple[str, str]:
    """(predicted text in the window's place, gold text to compare it with)."""
    start, end = problem.window_span()
    shown = problem.prompt_file()
    head, tail = shown[:start], shown[end:]
    if predicted.startswith(head) and predicted.endswith(tail) and len(predicted) >= len(head) + len(tail):
        return predicted[len(head) : len(predicted) - len(tail)], problem.gold_window()
    return predicted, problem.gold_file()


def predicted_middle(problem: Problem, predicted: str) -> tuple[str, str] | None:
    """(predicted middle, gold middle) when the predicted file is the shown or the clean prefix and
    suffix around some middle; None otherwise."""
    for prefix, suffix in ((problem.prefix, problem.suffix), (problem.clean_prefix, problem.clean_suffix)):
        if (
            predicted.startswith(prefix)
            and predicted.endswith(suffix)
            and len(predicted) >= len(prefix) + len(suffix)
        ):
            return predicted[len(prefix) : len(predicted) - len(suffix)], problem.middle
    return None


def score_file(problem: Problem, predicted: str | None) -> Scores:
    """Scores of a predicted file (None: the answer did not apply)."""
    repairable = problem.corrupted
    if predicted is None:
        return Scores(False, 0.0, False if repairable else None)
    got, want = predicted_middle(problem, predicted) or predicted_window(problem, predicted)
    repaired = None
    if repairable:
        repaired = (
            predicted.startswith(problem.clean_prefix)
            and predicted.endswith(problem.clean_suffix)
            and len(predicted) >= len(problem.clean_prefix) + len(problem.clean_suffix)
        )
    return Scores(predicted == problem.gold_file(), edit_similarity(got, want), repaired)
