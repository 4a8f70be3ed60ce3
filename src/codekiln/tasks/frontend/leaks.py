"""What no problem statement may say: a line of the fix, or the name of a test the agent cannot see.

    leak_check(statement, task.patch)            # TaskError (reason statement_leak) if it quotes the fix
    hidden_mentions(statement, task)             # hidden test files, ids and names it mentions
    checked_statement(task, statement)           # the check every statement source goes through
    checked_workspace(task, snapshot_dir)        # TaskError if a file of the agent's workspace holds one's code

Used by `tasks.statements` (template and model writers) and by any other source of issue text.
"""

from __future__ import annotations

import re
from pathlib import Path

from codekiln.core.diffs import changed_lines
from codekiln.core.errors import TaskError
from codekiln.core.sources import is_utf8_text, text_bytes
from codekiln.grading.manifests import workspace_copies
from codekiln.tasks.records import TaskRecord

_TRIVIAL = {
    "pass",
    "else:",
    "try:",
    "finally:",
    "break",
    "continue",
    "return",
    "raise",
    ")",
    "]",
    "}",
    "),",
    "],",
    "},",
}


_NAME = re.compile(r"[A-Za-z_][\w.]*[,)]*")
"""A changed line that is only a name (an argument on a line of its own): naming it is what an issue
does. frozendict 2.5.1's bug dropped `warnings.warn(..., MonkeypatchWarning)`, whose last line is the
bare class name, and every message (`DID NOT WARN. No warnings of type (<class
'frozendict.monkeypatch.MonkeypatchWarning'>,) ...`) was a leak: the statement said nothing."""


def _squash(text: str) -> str:
    return " ".join(text.split())


def leaked_lines(statement: str, patch: str, *, min_chars: int = 8) -> list[str]:
    """The gold patch's changed lines (removed or added, whitespace-normalized, at least `min_chars`
    long and not a bare keyword) that appear in the statement."""
    removed, added = changed_lines(patch)
    flat = _squash(statement)
    found = []
    for line in [read for changed in [*removed, *added] for read in _readings(changed)]:
        key = _squash(line)
        if len(key) < min_chars or key in _TRIVIAL or not re.search(r"\w", key) or _NAME.fullmatch(key):
            continue
        if key in flat and key not in found:
            found.append(key)
    return found


def _readings(line: str) -> list[str]:
    """A changed line as a statement could quote it: a line of a file in another encoding (its bytes
    in the patch: `core.sources`) as latin-1 and cp1252 read it, the usual declarations."""
    if is_utf8_text(line):
        return [line]
    data = text_bytes(line)
    return list(dict.fromkeys([line, data.decode("latin-1"), data.decode("cp1252", "replace")]))


def leak_check(statement: str, patch: str, *, min_chars: int = 8) -> None:
    """Raise TaskError if the statement contains a changed line of the gold patch."""
    leaks = leaked_lines(statement, patch, min_chars=min_chars)
    if leaks:
        raise TaskError(
            f"problem statement reveals the fix: {leaks[0]!r}",
            hint="describe the failure, not the change; drop code lines taken from the patch",
            reason="statement_leak",
        )


def hidden_names(task: TaskRecord) -> list[str]:
    """What a statement must not say: the hidden test files (path, file name, module), and every test
    id of those files with its parts (class, function, function without its parameters); longest first."""
    hidden = set(task.hidden_tests)
    names: set[str] = set()
    for rel in hidden:
        module = rel.removesuffix(".py")
        stem = module.rsplit("/", 1)[-1]
        names |= {rel, rel.rsplit("/", 1)[-1], module.replace("/", ".")}
        if "test" in stem.lower():
            names.add(stem)
    for tid in [*task.FAIL_TO_PASS, *task.PASS_TO_PASS]:
        path, _, rest = tid.partition("::")
        if path in hidden and rest:
            names |= {tid, rest}
            for part in rest.split("::"):
                names |= {part, part.split("[", 1)[0]}
    return sorted((n for n in names if len(n) >= 4), key=lambda n: (-len(n), n))


def _hidden_re(task: TaskRecord, text: str) -> re.Pattern[str] | None:
    """The pattern of the hidden names, None when `text` holds none of them even as a substring
    (then the pattern finds nothing in it: compiling the alternation of a whole suite's names cost
    more than the rest of a statement's checks)."""
    names = hidden_names(task)
    if not any(name in text for name in names):
        return None
    return re.compile(r"(?<![\w])(?:" + "|".join(map(re.escape, names)) + r")(?![\w])")


def hidden_mentions(statement: str, task: TaskRecord) -> list[str]:
    """The hidden test files, ids and test names (see `hidden_names`) that the statement mentions."""
    pattern = _hidden_re(task, statement)
    return sorted(set(pattern.findall(statement))) if pattern else []


def redact_hidden(statement: str, task: TaskRecord) -> str:
    """The statement with every hidden test file, id and name replaced by a neutral word."""
    pattern = _hidden_re(task, statement)

    def neutral(m: re.Match[str]) -> str:
        name = m.group()
        if "::" in name:
            return "a test"
        return "a test file" if "/" in name or name.endswith(".py") else "..."

    return pattern.sub(neutral, statement) if pattern else statement


def checked_statement(task: TaskRecord, statement: str) -> str:
    """The leak check every statement passes, whatever wrote it (template, model, history): the text,
    with hidden test names rewritten out. Raises TaskError with `reason` "statement_leak" when it
    quotes the fix, "statement_names_hidden_test" when names remain after the rewrite."""
    leak_check(statement, task.patch)
    if hidden_mentions(statement, task):
        statement = redact_hidden(statement, task)
        left = hidden_mentions(statement, task)
        if left:
            raise TaskError(
                f"problem statement names a hidden test: {left[0]!r}",
                hint="describe the behaviour and the error, or synthesize with --visible-tests",
                reason="statement_names_hidden_test",
            )
        leak_check(statement, task.patch)
    return statement


def checked_workspace(task: TaskRecord, snapshot_dir: Path) -> None:
    """The same promise for the agent's files: no file of its starting workspace (build manifests
    scrubbed) may hold the code of a hidden test (`grading.manifests.workspace_copies`; a file that only
    names a test file's path does not). Raises TaskError with `reason` "workspace_names_hidden_test"
    naming the first such file."""
    copies = workspace_copies(snapshot_dir, task)
    if copies:
        where, hidden = copies[0]
        more = f" (and {len(copies) - 1} more)" if len(copies) > 1 else ""
        raise TaskError(
            f"{where} in the agent's workspace holds the code of a test of the hidden file {hidden}{more}",
            hint="synthesize with --visible-tests, or drop that file from the snapshot",
            reason="workspace_names_hidden_test",
        )


__all__ = [
    "checked_statement",
    "checked_workspace",
    "hidden_mentions",
    "hidden_names",
    "leak_check",
    "leaked_lines",
    "redact_hidden",
]
