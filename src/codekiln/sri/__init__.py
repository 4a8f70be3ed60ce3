"""Search-and-Replace Infilling (SRI): code completion as a search-and-replace edit inside a marked
window (arXiv 2601.13384), with data from real repositories and evaluation by execution against FIM.

Where to start reading:

    format.py     the format: cursor marker, editable window, SEARCH/REPLACE blocks, `Problem`, the parser
    apply.py      the applier (exact and unique, then whitespace-tolerant; named outcomes), answer -> diff
    fim.py        the same problems in FIM form, per model family's FIM tokens
    prompt.py     what the model sees: SRI chat messages and FIM prefix/suffix over the same context
    spans.py      middles by kind from Python code; corruption of the window with codekiln's mutators
    data.py       `codekiln sri make`: samples from a snapshot, coverage-filtered, de-duplicated, split
                  by file, with SFT rows (the training export's `SftRow`, loss mask on the answer)
    metrics.py    exact match, edit similarity, repair
    evaluate.py   `codekiln sri eval`: SRI and FIM through one backend, execution pass@1, resumable
    midtrain.py   `codekiln sri tasks`: each task's fix as SEARCH/REPLACE and as `git diff` SFT rows
"""

from codekiln.sri.apply import ApplyResult, answer_diff, apply_answer, apply_block
from codekiln.sri.data import MakeConfig, SriSample, make_samples
from codekiln.sri.evaluate import SriResult, evaluate_samples, summarize
from codekiln.sri.fim import FIM_FAMILIES, FimFamily, family_for_format
from codekiln.sri.format import MARKERS, Block, Problem, parse_blocks, render_block
from codekiln.sri.metrics import Scores, edit_similarity, score_file
from codekiln.sri.midtrain import diff_blocks, export_task_rows, task_rows
from codekiln.sri.prompt import ContextView, sri_messages
from codekiln.sri.spans import KINDS, Span, corrupt, find_spans

__all__ = [
    "FIM_FAMILIES",
    "KINDS",
    "MARKERS",
    "ApplyResult",
    "Block",
    "ContextView",
    "FimFamily",
    "MakeConfig",
    "Problem",
    "Scores",
    "Span",
    "SriResult",
    "SriSample",
    "answer_diff",
    "apply_answer",
    "apply_block",
    "corrupt",
    "diff_blocks",
    "edit_similarity",
    "evaluate_samples",
    "export_task_rows",
    "family_for_format",
    "find_spans",
    "make_samples",
    "parse_blocks",
    "render_block",
    "score_file",
    "sri_messages",
    "summarize",
    "task_rows",
]
