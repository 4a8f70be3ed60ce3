"""The embedded model (SmolLM2-135M) writes bugs for `codekiln synth` through a real llama.cpp server and
the `openai` backend, on toolz 1.2.0: the real CLI runs, then resumes; the funnel's counts agree with
the call log and the tasks, whatever the small model managed (it may yield no valid bug at all)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.root  # synth validates in bwrap sandboxes

FUNCTIONS = "toolz/itertoolz.py::first,toolz/itertoolz.py::second"


def synth(out: Path, model: str) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "codekiln.cli.synth", "pypi:toolz==1.2.0", "--out", str(out)]
    argv += ["--strategies", "lm_modify,lm_rewrite,func_pm", "--model", model, "--functions", FUNCTIONS]
    argv += ["--lm-max-tokens", "64", "--concurrency", "2", "--max-tasks", "1", "--max-candidates", "4"]
    argv += ["--workers", "1", "--gate", "fast"]
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=600, env=dict(os.environ, COLUMNS="200")
    )


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def test_the_embedded_model_writes_bugs_through_a_llama_cpp_server(llama_server: str, tmp_path: Path) -> None:
    out = tmp_path / "synth"
    model = f"openai:smollm2@{llama_server}"
    first = synth(out, model)
    made = bool(rows(out / "tasks.jsonl"))  # a run that makes no task says so and exits 1
    assert first.returncode == (0 if made else 1), first.stdout[-3000:] + first.stderr[-3000:]
    assert "funnel per strategy" in first.stdout
    calls = rows(out / "lm_calls.jsonl")
    funnel = json.loads((out / "funnel.json").read_text())["per_strategy"]
    tasks, rejected = rows(out / "tasks.jsonl"), rows(out / "rejected.jsonl")
    for strategy in ("lm_modify", "lm_rewrite"):
        mine = [c for c in calls if c["strategy"] == strategy]
        row = funnel[strategy]
        assert row["calls"] == len(mine) == 2  # two functions, one call each
        assert all(
            c["prompt"] == f"{strategy}.v1" and c["model"] and c["completion_tokens"] > 0 for c in mine
        )
        assert row["tokens"] == sum(c["prompt_tokens"] + c["completion_tokens"] for c in mine)
        assert (
            row["calls"]
            >= row["parsed"]
            >= row["applied"]
            >= row["tried"]
            >= row["breaks_test"]
            >= row["valid"]
        )
        assert row["applied"] + sum(row["cheap_rejections"].values()) == row["calls"]
        assert row["applied"] == sum(c["outcome"] == "candidate" for c in mine)
        assert row["valid"] == sum(t["source"] == strategy for t in tasks)
        assert row["tried"] == row["valid"] + sum(r["mutators"] == [strategy] for r in rejected)
    # resume: the same command makes no call and decides nothing again
    second = synth(out, model)
    assert second.returncode == (0 if made else 1), second.stdout[-3000:] + second.stderr[-3000:]
    assert "(0 candidates decided" in second.stdout
    assert rows(out / "lm_calls.jsonl") == calls and rows(out / "tasks.jsonl") == tasks
