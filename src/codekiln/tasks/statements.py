"""Problem statements: issue text that describes the observed failure without revealing the fix.

Two writers share the `StatementWriter` protocol: `TemplateStatementWriter` (failing test names, a
trimmed assertion or exception message, a reproduction command) and `ModelStatementWriter`, which asks
any chat model (an object with `.chat(messages)` returning something with `.text`) to write the issue
and falls back to the template when the model's text leaks the fix. `leak_check` rejects any statement
containing a changed line of the gold patch.

    writer = TemplateStatementWriter()
    text = writer.write(task, failures)        # failures: {test id: failure text} or raw pytest output
    leak_check(text, task.patch)               # raises TaskError(reason="statement_leak") on a leak
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from codekiln.core.errors import TaskError
from codekiln.tasks.diffs import changed_lines
from codekiln.tasks.records import TaskRecord

Failures = Mapping[str, str] | str

MAX_TESTS_LISTED = 8
MAX_MESSAGES = 2
MAX_MESSAGE_LINES = 8
MAX_MESSAGE_CHARS = 600
# object addresses differ every run: `<function f at 0x7f3a...>`, or what pytest's truncated reprs
# leave of them (`<mod....x7f3a9c2d1550>`)
_ADDRESS_RE = re.compile(r"(?<= at )0x[0-9a-fA-F]{6,}|(?<=\.\.\.)x?[0-9a-fA-F]{6,}(?=>)")


def _mask_addresses(line: str) -> str:
    return _ADDRESS_RE.sub(lambda m: "0x..." if m.group().startswith("0x") else "", line)


_EXC_RE = re.compile(r"^\s*([A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt|Warning)|AssertionError)\b.*")
_SECTION_RE = re.compile(r"^_{3,} (\S.*?) _{3,}$")
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


def _squash(text: str) -> str:
    return " ".join(text.split())


def leaked_lines(statement: str, patch: str, *, min_chars: int = 8) -> list[str]:
    """The gold patch's changed lines (removed or added, whitespace-normalized, at least `min_chars`
    long and not a bare keyword) that appear in the statement."""
    removed, added = changed_lines(patch)
    flat = _squash(statement)
    found = []
    for line in [*removed, *added]:
        key = _squash(line)
        if len(key) < min_chars or key in _TRIVIAL or not re.search(r"\w", key):
            continue
        if key in flat and key not in found:
            found.append(key)
    return found


def leak_check(statement: str, patch: str, *, min_chars: int = 8) -> None:
    """Raise TaskError if the statement contains a changed line of the gold patch."""
    leaks = leaked_lines(statement, patch, min_chars=min_chars)
    if leaks:
        raise TaskError(
            f"problem statement reveals the fix: {leaks[0]!r}",
            hint="describe the failure, not the change; drop code lines taken from the patch",
            reason="statement_leak",
        )


def trim_message(text: str) -> str:
    """The informative part of a failure: pytest's `E` lines, else exception lines, else the last lines;
    object addresses are masked (`at 0x...`) so that the same failure reads the same in every run."""
    lines = [_mask_addresses(x.rstrip()) for x in text.splitlines() if x.strip()]
    e_lines = [x[1:] for x in lines if x.startswith("E ") or x == "E"]
    if e_lines:
        kept = textwrap.dedent("\n".join(e_lines)).splitlines()
    else:
        kept = [x.strip() for x in lines if _EXC_RE.match(x)] or lines[-3:]
    kept = [x for x in kept if x.strip()][:MAX_MESSAGE_LINES]
    out = "\n".join(kept)
    return out if len(out) <= MAX_MESSAGE_CHARS else out[: MAX_MESSAGE_CHARS - 3] + "..."


def split_pytest_failures(output: str) -> dict[str, str]:
    """pytest's failure sections (`____ test_name ____` blocks), keyed by the name in the header
    (`test_x`, `TestCls.test_x`, `test_x[param]`)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        m = _SECTION_RE.match(line)
        if m:
            current = sections.setdefault(m.group(1), [])
        elif line.startswith("=") and current is not None:
            current = None  # a summary bar ends the failures section
        elif current is not None:
            current.append(line)
    return {name: "\n".join(body) for name, body in sections.items()}


def failure_messages(task: TaskRecord, failures: Failures) -> dict[str, str]:
    """Trimmed messages of the task's failing tests, from a {test id: text} map or raw pytest output."""
    if isinstance(failures, str):
        sections = split_pytest_failures(failures)
        by_test = {
            tid: sections.get(tid.split("::", 1)[-1].replace("::", "."), "") for tid in task.FAIL_TO_PASS
        }
        if not any(by_test.values()) and task.FAIL_TO_PASS:
            by_test = {task.FAIL_TO_PASS[0]: failures}
        failures = by_test
    return {tid: trim_message(failures[tid]) for tid in task.FAIL_TO_PASS if failures.get(tid)}


def reproduction_command(test_ids: list[str]) -> str:
    quoted = [f"'{t}'" if re.search(r"[\s\[\]()'\"]", t) and "'" not in t else t for t in test_ids]
    return "python -m pytest " + " ".join(quoted)


def _hidden(task: TaskRecord, test_id: str) -> bool:
    return test_id.split("::", 1)[0] in task.hidden_tests


def template_statement(task: TaskRecord, failures: Failures, *, include_messages: bool = True) -> str:
    """An issue describing the failure: failing tests, what they report, how to reproduce."""
    failing = task.FAIL_TO_PASS
    if not failing:
        raise TaskError(
            f"{task.instance_id} has no failing tests to describe", hint="validate the task first"
        )
    parts = [f"Some tests of `{task.repo}` fail on the current code.", "", "Failing tests:"]
    parts += [f"- `{t}`" for t in failing[:MAX_TESTS_LISTED]]
    if len(failing) > MAX_TESTS_LISTED:
        parts.append(f"- ... and {len(failing) - MAX_TESTS_LISTED} more")
    if include_messages:
        shown: list[str] = []
        for tid, message in failure_messages(task, failures).items():
            if message and message not in shown and len(shown) < MAX_MESSAGES:
                shown.append(message)
                parts += ["", f"`{tid.split('::')[-1]}` reports:", "```", message, "```"]
    shown = failing[: min(3, len(failing))]
    parts += ["", "To reproduce:", "", f"    {reproduction_command(shown)}"]
    if any(_hidden(task, t) for t in failing):
        parts += [
            "",
            "The test files involved are not in your checkout; they are restored when your change is checked,",
            "so reproduce the problem with a test or script of your own.",
        ]
    parts += [
        "",
        "Fix the library code so these tests pass without breaking other tests. Do not edit the tests.",
    ]
    return "\n".join(parts) + "\n"


@runtime_checkable
class StatementWriter(Protocol):
    """Writes the problem statement of a task from its observed failures."""

    name: str

    def write(self, task: TaskRecord, failures: Failures) -> str: ...


class TemplateStatementWriter:
    """The template writer; drops the failure messages when they would leak the fix."""

    name = "template"

    def write(self, task: TaskRecord, failures: Failures) -> str:
        text = template_statement(task, failures)
        if leaked_lines(text, task.patch):
            text = template_statement(task, failures, include_messages=False)
        leak_check(text, task.patch)
        return text


SYSTEM_PROMPT = (
    "You write GitHub issues for a software project. Describe the misbehaviour a user would observe: "
    "what was called, what was expected, what happened instead. Do not say how to fix it, do not name "
    "the code change, and do not quote library source lines. Answer with the issue text only."
)


class ModelStatementWriter:
    """Asks a chat model to write the issue, keeps the first answer that passes `leak_check` (up to
    `attempts`), else falls back to `fallback` (the template). The model is duck-typed: any object with
    `chat(messages) -> response` where `response.text` (or the response itself) is the text."""

    name = "model"

    def __init__(self, model: Any, *, attempts: int = 2, fallback: StatementWriter | None = None) -> None:
        self.model = model
        self.attempts = attempts
        self.fallback = fallback or TemplateStatementWriter()
        self.last_source = ""
        """"model" or the fallback's name: who wrote the last statement."""

    def messages(self, task: TaskRecord, failures: Failures) -> list[dict[str, str]]:
        facts = template_statement(task, failures)
        user = (
            f"Repository: {task.repo}\n\nThese are the observed test failures:\n\n{facts}\n"
            "Write a concise issue report (title line, then a few paragraphs) about this behaviour."
        )
        return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]

    def write(self, task: TaskRecord, failures: Failures) -> str:
        messages = self.messages(task, failures)
        for _ in range(max(1, self.attempts)):
            response = self.model.chat(messages)
            text = str(getattr(response, "text", response) or "").strip()
            if text and not leaked_lines(text, task.patch):
                self.last_source = "model"
                return text + "\n"
        self.last_source = self.fallback.name
        return self.fallback.write(task, failures)
