"""Problem statements: issue text that describes the observed failure without revealing the fix, and
without naming tests the agent cannot see.

Two writers share the `StatementWriter` protocol: `TemplateStatementWriter` and `ModelStatementWriter`,
which asks any chat model (an object with `.chat(messages)` returning something with `.text`) to write
the issue and falls back to the template when the model's text leaks. When a failing test lives in one
of the task's `hidden_tests` files (the default), the template describes the behaviour: a standalone
reproduction built from the failing test's body (`reproduce.reproduction`) when that is safe, else the
failing call, and the error; it never names a hidden file, test id or test function. When the failing
tests are visible (`ValidateConfig.visible_tests`, SWE-bench style) it names them and how to run them.

Every statement, whatever wrote it (template, model, a project's history), goes through
`checked_statement`: a statement quoting the fix is refused (`statement_leak`), one naming hidden tests
is rewritten without the names, or refused when that is not enough (`statement_names_hidden_test`).

    writer = TemplateStatementWriter(snapshot_dir)      # where the test sources are read
    text = checked_statement(task, writer.write(task, failures))   # failures: {test id: text} or output
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from codekiln.core.errors import TaskError
from codekiln.core.sources import read_python
from codekiln.grading.unstable_ids import blank, function_id, is_unstable
from codekiln.tasks.frontend.leaks import (
    checked_statement,
    hidden_mentions,
    hidden_names,
    leak_check,
    leaked_lines,
    redact_hidden,
)
from codekiln.tasks.frontend.reproduce import failing_line, reproduction
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
_FRAME_RE = re.compile(r'^\s*File "[^"]*", line \d+')


def trim_message(text: str) -> str:
    """The informative part of a failure: pytest's `E` lines, else exception lines, else the last lines;
    object addresses are masked (`at 0x...`) so that the same failure reads the same in every run."""
    lines = [_mask_addresses(x.rstrip()) for x in text.splitlines() if x.strip()]
    e_lines = [x[1:] for x in lines if x.startswith("E ") or x == "E"]
    if e_lines:
        kept = textwrap.dedent("\n".join(e_lines)).splitlines()
    else:
        kept = [x.strip() for x in lines if _EXC_RE.match(x)] or _after_last_frame(lines) or lines[-3:]
    kept = [x for x in kept if x.strip()][:MAX_MESSAGE_LINES]
    out = "\n".join(kept)
    return out if len(out) <= MAX_MESSAGE_CHARS else out[: MAX_MESSAGE_CHARS - 3] + "..."


def _after_last_frame(lines: list[str]) -> list[str]:
    """What a traceback says after its last frame (the `File "...", line N` line and the indented code
    and carets under it): the exception, whatever its class is named. semver 3.2.0's statements quoted
    pytest's own frame above `Failed: DID NOT RAISE AttributeError` (a `pytest.raises` that did not)."""
    frames = [i for i, x in enumerate(lines) if _FRAME_RE.match(x)]
    if not frames:
        return []
    rest = lines[frames[-1] + 1 :]
    while rest and rest[0][:1].isspace():
        rest = rest[1:]
    return [x.strip() for x in rest]


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


def raw_failures(task: TaskRecord, failures: Failures) -> dict[str, str]:
    """The failure text of each failing test, from a {test id: text} map or raw pytest output."""
    if isinstance(failures, str):
        sections = split_pytest_failures(failures)
        by_test = {
            tid: sections.get(tid.split("::", 1)[-1].replace("::", "."), "") for tid in task.FAIL_TO_PASS
        }
        if not any(by_test.values()) and task.FAIL_TO_PASS:
            by_test = {task.FAIL_TO_PASS[0]: failures}
        failures = by_test
    return {tid: failures[tid] for tid in task.FAIL_TO_PASS if failures.get(tid)}


def failure_messages(task: TaskRecord, failures: Failures) -> dict[str, str]:
    """Trimmed messages of the task's failing tests, from a {test id: text} map or raw pytest output."""
    return {tid: trim_message(text) for tid, text in raw_failures(task, failures).items()}


def reproduction_command(test_ids: list[str]) -> str:
    """The pytest command that runs the tests; a case whose id holds an object's address (named anew in
    every process, so its id selects nothing) by its function."""
    test_ids = list(dict.fromkeys(function_id(t) if is_unstable(t) else t for t in test_ids))
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
    parts += [f"- `{blank(t)}`" for t in failing[:MAX_TESTS_LISTED]]  # an address says nothing
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
        f"Fix {_fix_what(task)} so these tests pass without breaking other tests. Do not edit the tests.",
    ]
    return "\n".join(parts) + "\n"


def _fix_what(task: TaskRecord) -> str:
    """What to fix: the library code, or, when the bug is in a data file it ships (`frontend.datafiles`),
    its code or those files: a task must not say the fix is in code when it is in no code at all."""
    paths = re.findall(r"^diff --git a/(\S+) b/", task.patch, re.MULTILINE)
    in_data = any(not p.endswith((".py", ".pyi")) for p in paths)
    return "the library (its code or the data files it ships)" if in_data else "the library code"


def _test_source(root: Path | None, rel: str, cache: dict[str, str | None]) -> str | None:
    if rel not in cache:
        path = root / rel if root is not None else None
        cache[rel] = _read_quoted(path) if path is not None and path.is_file() else None
    return cache[rel]


def _read_quoted(path: Path) -> str:
    """A test file's text as Python reads it (a coding cookie or BOM honoured), to quote from."""
    try:
        return read_python(path)
    except TaskError:  # not valid in its declared encoding: quoted with replacement characters
        return path.read_bytes().decode("utf-8", "replace")


def _top_packages(root: Path | None) -> set[str]:
    """The importable top-level packages of the checkout (at its root or under src/)."""
    if root is None:
        return set()
    dirs = [root, root / "src"]
    return {p.name for d in dirs if d.is_dir() for p in d.iterdir() if (p / "__init__.py").is_file()}


def observed_statement(
    task: TaskRecord,
    failures: Failures,
    root: Path | None = None,
    *,
    include_messages: bool = True,
    include_code: bool = True,
) -> str:
    """An issue describing the observed failure without naming any test: a standalone reproduction
    built from a failing test's body when that is safe, else the failing call, then the error.
    `root` is the clean snapshot, where the (hidden) test sources are read."""
    if not task.FAIL_TO_PASS:
        raise TaskError(
            f"{task.instance_id} has no failing tests to describe", hint="validate the task first"
        )
    raw = raw_failures(task, failures)
    packages = {task.repo.rsplit("/", 1)[-1].replace("-", "_")} | _top_packages(root)
    sources: dict[str, str | None] = {}
    chosen, script, line = task.FAIL_TO_PASS[0], None, None
    for tid in task.FAIL_TO_PASS if include_code else []:
        rel, _, name = tid.partition("::")
        source = _test_source(root, rel, sources)
        if source is None or not name:
            continue
        script = reproduction(source, name, packages=packages)
        if script:
            chosen = tid
            break
        if line is None and tid in raw:
            line = failing_line(source, name, rel, raw[tid])
            chosen = tid if line else chosen
    messages = [redact_hidden(trim_message(raw[chosen]), task)] if include_messages and chosen in raw else []
    for tid in raw if include_messages else []:
        message = redact_hidden(trim_message(raw[tid]), task)
        if message and message not in messages and len(messages) < MAX_MESSAGES:
            messages.append(message)
    messages = [m for m in messages if m]
    n = len(task.FAIL_TO_PASS)
    parts = [
        f"`{task.repo}` misbehaves on the current code: {n} check{'s' if n > 1 else ''} of its behaviour "
        f"fail{'' if n > 1 else 's'}.",
        "",
    ]
    if script:
        parts += [
            "Running this from the repository root reproduces it:",
            "",
            "```python",
            script.rstrip(),
            "```",
        ]
    elif line:
        parts += ["A failing call:", "", "```python", line, "```"]
    if messages:
        parts += [
            *([""] if script or line else []),  # after the first line's blank one: one blank line
            "It fails with:" if script or line else "The error observed:",
            "```",
            messages[0],
            "```",
        ]
        for other in messages[1:]:
            parts += ["", "Another failure observed:", "```", other, "```"]
    parts += [
        "",
        f"Fix {_fix_what(task)} so that this behaves correctly without breaking anything else. Tests that",
        "check this behaviour are not in your checkout; they are run when your change is checked.",
    ]
    return "\n".join(parts) + "\n"


@runtime_checkable
class StatementWriter(Protocol):
    """Writes the problem statement of a task from its observed failures."""

    name: str

    def write(self, task: TaskRecord, failures: Failures) -> str: ...


class TemplateStatementWriter:
    """The template writer. A task whose failing tests are hidden gets `observed_statement` (test
    sources read under `root`, the clean snapshot); one whose failing tests are all visible gets
    `template_statement`, naming them. Parts that would leak the fix are dropped: the messages first,
    then the code, then, when the messages alone say nothing of the fix, only the code. A bug in a
    table the tests compare whole (`frontend.data`) needs that step: every line of its multi-line
    literal is in the test's expected value, so the reproduction quotes the fix, while pytest's
    message (`Right contains 1 more item: {'metre': 'length'}`) says what is wrong in its own words."""

    name = "template"

    def __init__(self, root: Path | None = None) -> None:
        self.root = root

    def write(self, task: TaskRecord, failures: Failures) -> str:
        if not any(_hidden(task, t) for t in task.FAIL_TO_PASS):
            text = template_statement(task, failures)
            if leaked_lines(text, task.patch):
                text = template_statement(task, failures, include_messages=False)
            return checked_statement(task, text)
        text = ""
        for messages, code in ((True, True), (False, True), (True, False), (False, False)):
            text = observed_statement(task, failures, self.root, include_messages=messages, include_code=code)
            if not leaked_lines(text, task.patch):
                break
        return checked_statement(task, text)


SYSTEM_PROMPT = (
    "You write GitHub issues for a software project. Describe the misbehaviour a user would observe: "
    "what was called, what was expected, what happened instead. Do not say how to fix it, do not name "
    "the code change, and do not quote library source lines. Answer with the issue text only."
)


class ModelStatementWriter:
    """Asks a chat model to write the issue, keeps the first answer that passes `checked_statement` (up to
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
        facts = self.fallback.write(task, failures)  # what the template may say: nothing hidden
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
            try:
                checked = checked_statement(task, text + "\n") if text else ""
            except TaskError:
                continue
            if checked:
                self.last_source = "model"
                return checked
        self.last_source = self.fallback.name
        return self.fallback.write(task, failures)


__all__ = [
    "Failures",
    "ModelStatementWriter",
    "StatementWriter",
    "TemplateStatementWriter",
    "checked_statement",
    "failure_messages",
    "hidden_mentions",
    "hidden_names",
    "leak_check",
    "leaked_lines",
    "observed_statement",
    "raw_failures",
    "redact_hidden",
    "reproduction_command",
    "split_pytest_failures",
    "template_statement",
    "trim_message",
]
