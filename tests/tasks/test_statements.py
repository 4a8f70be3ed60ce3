"""Problem statements from a real failing run of toolz's tests, the leak check, and the model hook."""

from __future__ import annotations

from typing import Any

import pytest

from codekiln.core.errors import TaskError
from codekiln.tasks.diffs import changed_lines
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.statements import (
    ModelStatementWriter,
    StatementWriter,
    TemplateStatementWriter,
    failure_messages,
    leak_check,
    leaked_lines,
    template_statement,
    trim_message,
)


def test_template_from_real_pytest_output(toolz_task_parts: tuple[TaskRecord, str]) -> None:
    task, output = toolz_task_parts
    text = template_statement(task, output)
    for test_id in task.FAIL_TO_PASS[:8]:
        assert f"- `{test_id}`" in text
    assert "python -m pytest " + task.FAIL_TO_PASS[0] in text
    assert "not in your checkout" in text  # the failing tests' file is hidden
    messages = failure_messages(task, output)
    assert set(messages) == set(task.FAIL_TO_PASS)  # one pytest failure section per failing test
    first = messages[task.FAIL_TO_PASS[0]]
    assert first and f"```\n{first}\n```" in text
    assert not first.startswith(("E ", " ")) and "Error" in first
    leak_check(text, task.patch)
    assert TemplateStatementWriter().write(task, output) == text


def test_per_test_messages_are_trimmed(toolz_task: TaskRecord) -> None:
    tid = toolz_task.FAIL_TO_PASS[0]
    long = "\n".join(["    def test(): ...", ">   assert f(1) == 2"] + [f"E   line {i}" for i in range(40)])
    text = template_statement(toolz_task, {tid: long})
    assert "line 0" in text and "line 7" in text and "line 8" not in text
    assert (
        trim_message("Traceback (most recent call last):\n  File x\nValueError: bad value\n")
        == "ValueError: bad value"
    )
    assert len(trim_message("E   " + "x" * 5000)) == 600
    run1 = "E   assert <function f at 0x7fcf7c63cea0> == {1: 0x7fcf}"
    run2 = "E   assert <function f at 0x7f3484d94ea0> == {1: 0x7fcf}"
    assert trim_message(run1) == trim_message(run2) == "assert <function f at 0x...> == {1: 0x7fcf}"
    cut1, cut2 = (
        "E   assert <toolz.tests....x7feacf8d1550> == 1",
        "E   assert <toolz.tests....f7e5fcf5350> == 1",
    )
    assert trim_message(cut1) == trim_message(cut2) == "assert <toolz.tests....> == 1"


def test_leak_check_rejects_changed_lines(toolz_task: TaskRecord) -> None:
    removed, added = changed_lines(toolz_task.patch)
    buggy, fixed = added[0].strip(), removed[0].strip()  # the gold patch adds the fixed line back
    assert fixed != buggy
    for line in (fixed, buggy):
        statement = f"The code says\n    {line}\nwhich is wrong."
        assert leaked_lines(statement, toolz_task.patch) == [" ".join(line.split())]
        with pytest.raises(TaskError, match="reveals the fix") as info:
            leak_check(statement, toolz_task.patch)
        assert info.value.data["reason"] == "statement_leak"
    leak_check("accumulate() gives the wrong first element", toolz_task.patch)
    # whitespace differences do not hide a leak; trivial lines do not count
    assert leaked_lines("x  " + "   ".join(fixed.split()), toolz_task.patch)
    assert leaked_lines("else:", "diff --git a/f b/f\n--- a/f\n+++ b/f\n@@ -1 +1 @@\n-else:\n+pass\n") == []


def test_template_drops_messages_that_leak(toolz_task: TaskRecord) -> None:
    removed, _ = changed_lines(toolz_task.patch)
    tid = toolz_task.FAIL_TO_PASS[0]
    failures = {tid: f"E   AssertionError: expected {removed[0].strip()}"}
    assert leaked_lines(template_statement(toolz_task, failures), toolz_task.patch)
    text = TemplateStatementWriter().write(toolz_task, failures)
    assert "AssertionError" not in text and tid in text


class ScriptedModel:
    """A chat model answering from a script; records the messages it was sent."""

    name = "scripted"

    def __init__(self, answers: list[str]) -> None:
        self.answers = list(answers)
        self.calls: list[list[dict[str, Any]]] = []

    def chat(self, messages: list[dict[str, Any]], tools: Any = None, **kw: Any) -> Any:
        self.calls.append(messages)

        class Response:
            text = self.answers.pop(0)

        return Response()


def test_model_writer_retries_then_falls_back(toolz_task_parts: tuple[TaskRecord, str]) -> None:
    task, output = toolz_task_parts
    removed, _ = changed_lines(task.patch)
    leaky = f"Bug: the line `{removed[0].strip()}` is wrong"
    good = "accumulate() returns wrong results\n\nCalling accumulate with an initial value misbehaves."
    model = ScriptedModel([leaky, good])
    writer = ModelStatementWriter(model, attempts=2)
    assert isinstance(writer, StatementWriter)
    assert writer.write(task, output) == good + "\n" and writer.last_source == "model"
    assert len(model.calls) == 2
    system, user = model.calls[0]
    assert system["role"] == "system" and "Do not say how to fix it" in system["content"]
    assert task.FAIL_TO_PASS[0] in user["content"] and removed[0].strip() not in user["content"]
    always_leaky = ModelStatementWriter(ScriptedModel([leaky, leaky]), attempts=2)
    assert always_leaky.write(task, output) == TemplateStatementWriter().write(task, output)
    assert always_leaky.last_source == "template"
