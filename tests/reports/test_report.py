"""`codekiln report` from real synthesis and rollout directories: one self-contained file, every section,
charts as SVG pictures, the viewer's data embedded safely, and the command line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.report import app
from codekiln.reports.collect import clip, discover
from codekiln.reports.html import build_report, script_json


def embedded(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="report-data">(.*?)</script>', html, re.S)
    assert match, "the report embeds its data"
    return json.loads(match.group(1))


@pytest.mark.root  # rollouts on real tasks in bwrap sandboxes
def test_report_from_real_rollouts(tasks_dir: Path, rollout_dirs: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    info = build_report([tasks_dir, *rollout_dirs.values()], out)
    html = out.read_text()
    assert info.rollouts == 6 + 3 + 3 + 3 and info.bytes == len(html.encode())
    # self-contained: no external resource of any kind
    assert not re.search(r'(src|href)="(https?:)?//', html) and "@import" not in html
    for testid in ("chart-funnel", "chart-mutators", "chart-rate-scaffold", "chart-rate-format", "chart-rate-model",
                   "chart-pass-at-k", "chart-format-following", "chart-turns", "chart-tokens", "chart-errors"):  # fmt: skip
        assert f'<svg class="chart" data-testid="{testid}"' in html, testid
    data = embedded(html)
    rows = data["rows"]
    assert len(rows) == 15 and {r["status"] for r in rows} == {"resolved", "failed", "error"}
    assert {r["scaffold"] for r in rows} == {"swe", "mini"}
    assert {r["format"] for r in rows} >= {"hermes", "glm46"}
    scripted = [r for r in rows if r["format"] == "hermes"]
    assert all(r["steps"][0]["error"] and r["format_errors"] == 1 for r in scripted)
    assert all(len(r["steps"][1]["obs"][0]["text"].splitlines()) > 300 for r in scripted)
    oracle = next(r for r in rows if r["model"] == "oracle")
    assert oracle["resolved"] and oracle["reward"] == 1.0 and set(oracle["f2p"].values()) == {"passed"}
    assert data["tasks"][oracle["task"]]["gold"].startswith("diff --git")
    # untrusted text (an observation echoing a script tag) never reaches the page as markup
    assert "<script>alert(1)</script>" not in html
    assert any(
        "<script>alert(1)</script>" in o["text"] for r in scripted for s in r["steps"] for o in s["obs"]
    )


def test_script_json_cannot_close_its_script() -> None:
    text = script_json({"a": "</script><script>x()</script><!--", "b": "\u2028"})
    assert "<" not in text and "\u2028" not in text
    assert json.loads(text) == {"a": "</script><script>x()</script><!--", "b": "\u2028"}


def test_clip_keeps_head_and_tail() -> None:
    text = "a" * 100 + "b" * 100
    cut = clip(text, 50)
    assert cut.startswith("a" * 25) and cut.endswith("b" * 25) and "150 characters cut" in cut
    assert clip("short", 50) == "short"


@pytest.mark.root  # rollouts on real tasks in bwrap sandboxes
def test_inputs_are_found_inside_parent_directories(rollout_dirs: dict[str, Path], tasks_dir: Path) -> None:
    found = discover([rollout_dirs["oracle"].parent])
    kinds = {path: kind for kind, path in found}
    assert kinds[rollout_dirs["oracle"]] == "rollouts" and kinds[tasks_dir] == "synth"
    # an input named both itself and through its parent (`report out/tasks out`) is read once
    again = discover([rollout_dirs["oracle"], rollout_dirs["oracle"].parent])
    assert sorted(path for _, path in again) == sorted(path for _, path in found)


@pytest.mark.root  # rollouts on real tasks in bwrap sandboxes
def test_cli_writes_the_report_and_prints_its_path(
    tasks_dir: Path, rollout_dirs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(app, [str(tasks_dir), str(rollout_dirs["oracle"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert str(out.resolve()) in result.output.replace("\n", "") and "6 rollouts" in result.output
    missing = CliRunner().invoke(app, [str(tmp_path / "nothing"), "--out", str(out)])
    assert missing.exit_code != 0


@pytest.mark.root  # rollouts on real tasks in bwrap sandboxes
def test_headline_figures_are_per_model_with_controls_apart(
    tasks_dir: Path, rollout_dirs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    build_report([tasks_dir, *rollout_dirs.values()], out)
    html = out.read_text()
    models = {r["model"] for r in embedded(html)["rows"]} - {"oracle", "noop"}
    assert len(models) == 2
    # one headline block per model, none pooling models and controls together
    assert html.count('data-testid="overall-resolved"') == len(models)
    for model in models:
        assert f'data-testid="model-{model}"' in html
    oracle = re.search(r'data-testid="control-oracle">(.*?)</li>', html)
    noop = re.search(r'data-testid="control-noop">(.*?)</li>', html)
    assert oracle and "6/6 resolved" in oracle.group(1) and "as expected" in oracle.group(1)
    assert noop and "0/3 resolved" in noop.group(1) and "NOT" not in noop.group(1)
    # the controls enter no breakdown: the per-model chart names only models
    chart = html.split('data-testid="chart-rate-model"', 1)[1].split("</svg>", 1)[0]
    assert "oracle" not in chart and "noop" not in chart


@pytest.mark.root  # rollouts on real tasks in bwrap sandboxes
def test_only_controls_say_there_is_no_model(
    tasks_dir: Path, rollout_dirs: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "report.html"
    build_report([tasks_dir, rollout_dirs["oracle"], rollout_dirs["noop"]], out)
    html = out.read_text()
    assert 'data-testid="no-models"' in html and 'data-testid="overall-resolved"' not in html
