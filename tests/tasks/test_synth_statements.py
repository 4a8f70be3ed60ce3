"""One real synthesis run on toolz 1.2.0 per statement mode: by default no statement names a hidden
test file, id or test name; with `visible_tests` the failing tests are named and their files stay in
the agent's workspace."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import TOOLZ

from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.frontend.statements import hidden_mentions, hidden_names
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, synthesize
from codekiln.tasks.validation.validate import ValidateConfig

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes


def _synth(out: Path, visible: bool) -> list[TaskRecord]:
    validation = ValidateConfig(gate="fast", visible_tests=visible)
    config = SynthConfig(spec=TOOLZ, out=out, max_tasks=2, workers=1, batch_size=8, validation=validation)
    synthesize(config)
    return read_tasks(out / "tasks.jsonl")


def test_synth_statements_hidden_and_visible(tmp_path: Path) -> None:
    hidden = _synth(tmp_path / "hidden", visible=False)
    assert hidden and all(t.hidden_tests for t in hidden)
    for task in hidden:
        assert hidden_names(task) and hidden_mentions(task.problem_statement, task) == []
        assert all(tid not in task.problem_statement for tid in task.FAIL_TO_PASS)
        assert all(f not in task.problem_statement for f in task.hidden_tests)
    visible = _synth(tmp_path / "visible", visible=True)
    assert visible
    for task in visible:
        assert task.hidden_tests == [] and task.test_patch == ""
        assert f"- `{task.FAIL_TO_PASS[0]}`" in task.problem_statement
        assert "python -m pytest " + task.FAIL_TO_PASS[0] in task.problem_statement
