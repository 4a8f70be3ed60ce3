"""The CPU proof: the embedded SmolLM2-135M, dequantized to torch, does 2 GRPO steps through TRL's
GRPOTrainer on a real toolz task, with real sandboxes, real grading and real rewards, and its weights move.

The model cannot solve the task, so every episode ends unfinished (-0.5) and the group-relative
advantage is 0; the gradient comes from the token-level format penalty on the turns where it wrote no
valid tool call, the report's shaping term that genuinely varies between samples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from grpo_support import TERSE, toolz_tasks
from typer.testing import CliRunner

from codekiln.core.records import append_jsonl, iter_jsonl

pytestmark = [pytest.mark.torch, pytest.mark.root]  # a real task graded in bwrap sandboxes


def test_two_grpo_steps_change_the_weights(tmp_path: Path) -> None:
    pytest.importorskip("trl", reason="install the train extra: pip install 'codekiln[train]'")
    safetensors = pytest.importorskip("safetensors.torch")
    from codekiln.cli.train import app
    from codekiln.models.transformers import convert_gguf

    _, tasks = toolz_tasks()
    shortest = min(tasks, key=lambda t: len(t.problem_statement))  # ~420 prompt tokens in openai_json
    append_jsonl(tmp_path / "tasks.jsonl", [shortest])
    out = tmp_path / "run"
    args = ["grpo", "--tasks", str(tmp_path / "tasks.jsonl"), "--out", str(out), "--model", "embedded-torch",
            "--steps", "2", "--group-size", "2", "--scaffold", TERSE, "--format", "openai_json",
            "--max-turns", "1", "--max-tokens", "24", "--gspo"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "result.json").read_text())
    assert summary["steps"] == 2 and summary["episodes"] == 4 and summary["masked"] == 0
    rows = list(iter_jsonl(out / "rollouts.jsonl"))
    assert len(rows) == 4
    for row in rows:
        assert row["grade"]["outcome"] in ("resolved", "unresolved")  # really graded, in a sandbox
        assert row["reward"]["value"] in (-0.5, 0.5, 1.0, 0.0)
        step = row["trajectory"]["steps"][0]
        assert step["completion_ids"] and len(step["logprobs"]) == len(step["completion_ids"])
    assert any(row["reward"]["format_penalties"] for row in rows)
    assert summary["weight_change"] > 0
    name = "model.layers.0.self_attn.q_proj.weight"
    before = safetensors.load_file(str(convert_gguf() / "model.safetensors"))[name]
    after = safetensors.load_file(str(out / "model" / "model.safetensors"))[name]
    assert before.shape == after.shape and not after.equal(before)
