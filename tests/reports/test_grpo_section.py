"""The report's GRPO section, rendered from a real run's files (tests/fixtures/recorded/grpo-curve: the
output of `bench/grpo_curve.py`), and the first-k / last-k and held-out statistics it prints."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from typer.testing import CliRunner

from codekiln.cli.report import app
from codekiln.reports.collect import discover
from codekiln.reports.grpo import diff_interval, heldout_summary, load_curve, paired_interval, summarize_curve
from codekiln.reports.html import build_report

RUN = Path(__file__).resolve().parent.parent / "fixtures" / "recorded" / "grpo-curve"


def rows(name: str) -> list[dict]:
    return [json.loads(line) for line in (RUN / name).read_text().splitlines()]


def test_section_renders_the_recorded_curve(tmp_path: Path) -> None:
    steps = rows("steps.jsonl")
    assert discover([RUN]) == [("grpo", RUN)]
    out = tmp_path / "report.html"
    build_report([RUN], out)
    html = out.read_text()
    section = html[html.index('<section id="grpo"') :]
    section = section[: section.index("</section>")]
    assert '<a href="#grpo">GRPO</a>' in html
    means = re.search(r'<polyline class="mean"[^>]* points="([^"]+)"', section)
    assert means and len(means.group(1).split()) == len(steps)  # one point per step
    assert 'data-testid="grpo-curve"' in section and "group baselines" in section
    first = [r for row in steps[: max(1, len(steps) // 4)] for r in row["rewards"]]
    assert f"<td>{sum(first) / len(first):.3f}</td>" in section  # first-k mean, computed from the file
    held = rows("heldout.jsonl")
    before = [r["reward"] for r in held if r["phase"] == "before"]
    assert f"held-out prompts ({len(before)} paired samples)" in section
    assert f"<td>{sum(before) / len(before):.3f}</td>" in section


def test_an_unfinished_run_renders_from_its_steps_alone(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(RUN / "steps.jsonl", run / "steps.jsonl")  # killed mid-run: no held-out after, no summary
    result = CliRunner().invoke(app, [str(run), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    html = (tmp_path / "r.html").read_text()
    assert 'data-testid="grpo-curve"' in html and "paired samples)" not in html


def test_curve_statistics() -> None:
    steps = [{"step": i + 1, "rewards": [0.0, 0.1] if i < 4 else [0.9, 1.0]} for i in range(8)]
    s = summarize_curve(steps, k=2)
    assert (s["k"], s["first_mean"], s["last_mean"]) == (2, 0.05, 0.95)
    assert 0 < s["lo"] <= s["diff"] <= s["hi"] and s["last_valid"] == 0.5
    flat = diff_interval([0.0, 1.0] * 10, [0.0, 1.0] * 10)
    assert flat[0] == 0.0 and flat[1] < 0 < flat[2]
    assert paired_interval([(0.0, 1.0), (0.0, 1.0)]) == (1.0, 1.0, 1.0)
    held = [{"phase": ph, "prompt": "p", "sample": k, "reward": r, "reason": None if r == 1.0 else "no_call"}
            for ph, k, r in [("before", 0, 0.0), ("before", 1, 0.0), ("after", 0, 1.0)]]  # fmt: skip
    summary = heldout_summary(held)
    assert summary is not None and summary["samples"] == 1 and summary["valid_after"] == 1.0
    assert load_curve(Path("/nonexistent")) is None
