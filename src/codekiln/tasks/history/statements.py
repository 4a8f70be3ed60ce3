"""Problem statements of mined tasks: the pull request's or commit's own words when they describe the
problem, else an issue a model writes from the observed failures (when a model is given), else the
template; every one passes the leak check.

    writer = HistoryStatementWriter(TemplateStatementWriter(snapshot), {cand.id: history_text(change)},
                                    model=chat_model)          # optional: any object with .chat(messages)
    task.problem_statement = writer.write(task, failures)
    writer.sources[cand.id]                 # "pr", "commit", "model" or "template"

`describes_problem` is a plain heuristic: at least `MIN_WORDS` words, and not a release, version bump,
changelog or merge-of-a-branch message (those say nothing about behaviour). A text that quotes the fix
or names a hidden test the rewrite cannot remove (`leaks.checked_statement`) is not used. The model
step is `statements.ModelStatementWriter` (its answers leak-checked, the template when none passes).
"""

from __future__ import annotations

import re
from typing import Any

from codekiln.core.errors import TaskError
from codekiln.tasks.frontend.leaks import checked_statement
from codekiln.tasks.frontend.statements import Failures, ModelStatementWriter, StatementWriter
from codekiln.tasks.history.walk import Change
from codekiln.tasks.records import TaskRecord

MIN_WORDS = 6
_NOT_A_PROBLEM = re.compile(
    r"^\s*(release|releasing|bump|version|prepare|merge (remote-tracking )?branch|update changelog|"
    r"changelog|changes for|v?\d+(\.\d+)+\b|[\w.-]+ v?\d+(\.\d+)+\s*$)",
    re.I,
)


def describes_problem(text: str) -> bool:
    """Whether a PR or commit text can serve as the statement (see the module docstring)."""
    words = re.findall(r"[A-Za-z]{2,}", text)
    return len(words) >= MIN_WORDS and not _NOT_A_PROBLEM.match(text)


def history_text(change: Change) -> tuple[str, str]:
    """(text, source) of a change: a PR's title and what its message says besides the merge line
    ("pr"), or a commit's whole message ("commit")."""
    if change.pr is None:
        return change.message.strip(), "commit"
    lines = change.message.splitlines()
    body = "\n".join(lines[1:]).strip()
    if change.kind == "merge" and body.startswith(change.title):
        body = body[len(change.title) :].strip()
    return (change.title + ("\n\n" + body if body else "")).strip(), "pr"


class HistoryStatementWriter:
    """The history's text for a task when it describes the problem and passes the leak check, else the
    model's issue (if a model is given), else the template's; records who wrote each one (`sources`)."""

    name = "history"

    def __init__(
        self, template: StatementWriter, texts: dict[str, tuple[str, str]], *, model: Any = None
    ) -> None:
        self.template = template
        self.texts = texts
        self.model = ModelStatementWriter(model, fallback=template) if model is not None else None
        self.sources: dict[str, str] = {}

    def write(self, task: TaskRecord, failures: Failures) -> str:
        key = task.candidate_id or ""
        text, source = self.texts.get(key, ("", ""))
        if text and describes_problem(text):
            try:
                checked = checked_statement(task, text + "\n")
            except TaskError:
                checked = ""
            if checked.strip():
                self.sources[key] = source
                return checked
        if self.model is not None:
            text = self.model.write(task, failures)
            self.sources[key] = self.model.last_source
            return text
        self.sources[key] = self.template.name
        return self.template.write(task, failures)
