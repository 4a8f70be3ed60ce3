"""Problem statements from a real failing run of toolz's tests, the leak check, and the model hook."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from codekiln.core.diffs import changed_lines
from codekiln.core.errors import TaskError
from codekiln.tasks.frontend.reproduce import failing_line, reproduction
from codekiln.tasks.frontend.statements import (
    ModelStatementWriter,
    StatementWriter,
    TemplateStatementWriter,
    checked_statement,
    failure_messages,
    hidden_mentions,
    leak_check,
    leaked_lines,
    observed_statement,
    raw_failures,
    reproduction_command,
    template_statement,
    trim_message,
)
from codekiln.tasks.records import TaskRecord
from codekiln.testing import git


def test_template_from_real_pytest_output(toolz_task_parts: tuple[TaskRecord, str]) -> None:
    """With the failing tests visible (no hidden files), the template names them and how to run them."""
    task = toolz_task_parts[0].model_copy(update={"hidden_tests": [], "test_patch": ""})
    output = toolz_task_parts[1]
    text = template_statement(task, output)
    for test_id in task.FAIL_TO_PASS[:8]:
        assert f"- `{test_id}`" in text
    assert "python -m pytest " + task.FAIL_TO_PASS[0] in text
    assert "not in your checkout" not in text
    messages = failure_messages(task, output)
    assert set(messages) == set(task.FAIL_TO_PASS)  # one pytest failure section per failing test
    first = messages[task.FAIL_TO_PASS[0]]
    assert first and f"```\n{first}\n```" in text
    assert not first.startswith(("E ", " ")) and "Error" in first
    leak_check(text, task.patch)
    assert TemplateStatementWriter().write(task, output) == text


def _names_nothing_hidden(text: str, task: TaskRecord) -> None:
    assert hidden_mentions(text, task) == []
    for tid in [*task.FAIL_TO_PASS, *task.PASS_TO_PASS]:
        assert tid not in text and tid.split("::")[-1].split("[")[0] not in text
    assert all(f not in text for f in task.hidden_tests) and "test_itertoolz" not in text


def test_observed_statement_reproduces_without_hidden_files(
    toolz_task_parts: tuple[TaskRecord, str], toolz_repo: Path, tmp_path: Path
) -> None:
    """The default statement on a real failure: a script built from the failing test's body that fails
    the same way in the agent's workspace (bug in, test file deleted) and passes on the clean code,
    the error, and no hidden file, test id or test name anywhere."""
    task, output = toolz_task_parts
    text = TemplateStatementWriter(toolz_repo).write(task, output)
    _names_nothing_hidden(text, task)
    assert "not in your checkout" in text and "python -m pytest" not in text
    script = text.split("```python\n", 1)[1].split("```", 1)[0]
    error = text.split("It fails with:\n```\n", 1)[1].split("\n", 1)[0]
    assert error == trim_message(raw_failures(task, output)[task.FAIL_TO_PASS[0]]).splitlines()[0]
    workspace = tmp_path / "workspace"
    shutil.copytree(toolz_repo, workspace)
    git(workspace, "apply", "-", input=task.bug_patch)
    for rel in task.hidden_tests:
        (workspace / rel).unlink()

    def run(root: Path) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "PYTHONPATH": str(root)}
        return subprocess.run(
            [sys.executable, "-c", script], cwd=root, env=env, capture_output=True, text=True
        )

    buggy, clean = run(workspace), run(toolz_repo)
    assert buggy.returncode == 1 and buggy.stderr.strip().splitlines()[-1] == error, buggy.stderr
    assert clean.returncode == 0, clean.stderr


def test_observed_statement_without_a_safe_script(
    toolz_task_parts: tuple[TaskRecord, str], toolz_repo: Path
) -> None:
    """No test source (or none safe to copy): the statement still says what fails and how."""
    task, output = toolz_task_parts
    text = observed_statement(task, output, None)
    _names_nothing_hidden(text, task)
    assert "```python" not in text and "The error observed:" in text
    assert "\n\n\n" not in text  # one blank line between parts (humanize's read two)


def test_observed_statement_counts_in_agreement(toolz_task_parts: tuple[TaskRecord, str]) -> None:
    """One failing check 'fails', several 'fail' (isodate's one-test task read '1 check ... fail')."""
    task, output = toolz_task_parts
    one = task.model_copy(update={"FAIL_TO_PASS": task.FAIL_TO_PASS[:1]})
    two = task.model_copy(update={"FAIL_TO_PASS": task.FAIL_TO_PASS[:1] * 2})
    assert "1 check of its behaviour fails." in observed_statement(one, output, None)
    assert "2 checks of its behaviour fail." in observed_statement(two, output, None)


def test_reproduction_only_when_safe() -> None:
    source = textwrap.dedent(
        '''
        import pytest
        from toolz import first
        from toolz.tests.helpers import thing
        from .local import other
        DATA = [3, 4]

        def inc(x):
            return x + 1

        def test_ok():
            """doc"""
            assert first(map(inc, DATA)) == 4

        def test_fixture(tmp_path):
            assert first([tmp_path])

        @pytest.mark.parametrize("x", [1])
        def test_param(x):
            assert first([x])

        def test_raises():
            with pytest.raises(StopIteration):
                first([])

        def test_helper_from_tests():
            assert thing() and other()

        class TestCls:
            def test_method(self):
                assert first("ab") == "a"

            def test_uses_self(self):
                assert self
        '''
    )
    script = reproduction(source, "test_ok", packages={"toolz"})
    assert (
        script
        == "from toolz import first\n\nDATA = [3, 4]\n\ndef inc(x):\n    return x + 1\n\nassert first(map(inc, DATA)) == 4\n"
    )
    compile(script, "repro", "exec")  # a whole script
    assert (
        reproduction(source, "TestCls::test_method", packages={"toolz"})
        == 'from toolz import first\n\nassert first("ab") == "a"\n'
    )
    for unsafe in (
        "test_fixture",
        "test_param[1]",
        "test_raises",
        "test_helper_from_tests",
        "TestCls::test_uses_self",
        "missing",
    ):
        assert reproduction(source, unsafe, packages={"toolz"}) is None, unsafe
    failure = "    def test_raises():\n>       first([])\n\nt/test_a.py:20: StopIteration"
    line_no = source.splitlines().index("        first([])") + 1
    assert (
        failing_line(source, "test_raises", "t/test_a.py", failure.replace(":20:", f":{line_no}:"))
        == "first([])"
    )


def test_hidden_names_are_rewritten_in_every_source(toolz_task: TaskRecord) -> None:
    """The check every statement passes (template, model, history): hidden files, ids and test names
    are rewritten out; a fix quote is refused."""
    tid = toolz_task.FAIL_TO_PASS[0]
    name = tid.split("::")[-1]
    history = (
        f"Run `python -m pytest {tid}`: {name} fails in {toolz_task.hidden_tests[0]}.\n"
        f"TypeError: <function {name}.<locals>.g at 0x...> is not callable\n"
    )
    assert set(hidden_mentions(history, toolz_task)) >= {tid, name, toolz_task.hidden_tests[0]}
    text = checked_statement(toolz_task, history)
    assert hidden_mentions(text, toolz_task) == [] and name not in text
    assert "Run `python -m pytest a test`: ... fails in a test file." in text
    assert "<function ....<locals>.g at 0x...>" in text
    # a test with no hidden file may be named
    visible = toolz_task.model_copy(update={"hidden_tests": []})
    assert checked_statement(visible, history) == history
    removed, _ = changed_lines(toolz_task.patch)
    with pytest.raises(TaskError) as info:
        checked_statement(toolz_task, f"{history}\n{removed[0]}")
    assert info.value.data["reason"] == "statement_leak"


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
    assert "AssertionError" not in text and tid not in text  # hidden: described, never named
    visible = toolz_task.model_copy(update={"hidden_tests": []})
    text = TemplateStatementWriter().write(visible, failures)
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
    assert removed[0].strip() not in user["content"]
    assert hidden_mentions(user["content"], task) == []  # the model is never told the hidden names
    named = ModelStatementWriter(ScriptedModel([f"{good}\nSee {task.FAIL_TO_PASS[0]}."]))
    assert named.write(task, output) == f"{good}\nSee a test.\n" and named.last_source == "model"
    always_leaky = ModelStatementWriter(ScriptedModel([leaky, leaky]), attempts=2)
    assert always_leaky.write(task, output) == TemplateStatementWriter().write(task, output)
    assert always_leaky.last_source == "template"


def test_ids_holding_an_address_are_listed_blanked_and_reproduced_by_their_function(
    toolz_task: TaskRecord,
) -> None:
    """An id like `test_x[<a.T object at 0x7f..>]` names no test in the agent's process: the statement
    lists it with the address blanked and its reproduction command runs the test function."""
    case = "tests/test_a.py::test_check[<pkg.Thing object at 0x7f07f969cf50>-True]"
    other = case.replace("0x7f07f969cf50", "0x7f0000000010").replace("True", "False")
    task = toolz_task.model_copy(update={"FAIL_TO_PASS": [case, other], "hidden_tests": []})
    text = template_statement(task, {})
    assert "0x7f07f969cf50" not in text and "0x7f0000000010" not in text
    assert "- `tests/test_a.py::test_check[<pkg.Thing object at 0x?>-True]`" in text
    assert "    python -m pytest tests/test_a.py::test_check\n" in text + "\n"
    assert (
        reproduction_command([case, "t.py::test_y"])
        == "python -m pytest tests/test_a.py::test_check t.py::test_y"
    )
