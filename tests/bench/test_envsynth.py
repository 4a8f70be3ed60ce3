"""Which rows `bench/envbuild.py --synth-only` reruns the synthesis of (`envsynth.wants_synth`)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from envcompare import synth_cell, synth_limit, table
from envrows import row_of
from envrun import synth_outcome
from envsynth import wants_synth


def test_synth_only_reruns_built_rows_without_a_synthesis_and_every_built_row_with_redo() -> None:
    built = {"library": "a", "codekiln": {"ok": True}}
    synthesized = {**built, "synth": {"tasks": 3, "synth_status": "done"}}
    failed = {"library": "b", "codekiln": {"ok": False, "status": "build failed"}}
    assert wants_synth(built, redo=False) and not wants_synth(synthesized, redo=False)
    assert wants_synth(synthesized, redo=True)
    for row in (failed, {"library": "c", "verdict": "no sdist"}, None):  # nothing built to synthesize on
        assert not wants_synth(row, redo=False) and not wants_synth(row, redo=True)


def _write(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_a_run_without_a_task_records_why_and_its_rejections_per_reason(tmp_path: Path) -> None:
    """The row keeps what the run's records say: a run that exits 1 with its reason in funnel.json is
    "done" (the reason is the library's), its rejections are counted per reason, and the table shows both."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "funnel.json").write_text(json.dumps({"no_tasks": "no passing test executes any code | x"}))
    row = synth_outcome(out, timed_out=False, exit_code=1, log="error: no task came out")
    assert row == {"tasks": 0, "why": "no passing test executes any code | x", "synth_status": "done"}
    assert synth_cell(row) == "0; no passing test executes any code \\| x"

    _write(out / "rejected.jsonl", [{"reason": "no_failing_test"}] * 2 + [{"reason": "timeout"}])
    (out / "funnel.json").unlink()  # a run stopped before it wrote its funnel
    row = synth_outcome(out, timed_out=True, exit_code=-9, log="")
    assert row["rejected"] == {"no_failing_test": 2, "timeout": 1} and row["synth_status"] == "timeout"
    assert "synth_log" not in row  # a batch was decided: not "no batch finished"
    assert synth_cell(row) == "0 (timeout); rejected: no_failing_test 2, timeout 1"

    assert (
        synth_outcome(tmp_path / "none", timed_out=True, exit_code=-9, log="")["synth_log"]
        == "no batch finished"
    )
    crashed = synth_outcome(tmp_path / "empty", timed_out=False, exit_code=1, log="a\nerror: boom")
    assert crashed["synth_status"] == "failed" and "boom" in str(crashed["synth_log"])
    _write(out / "tasks.jsonl", [{"id": "t1"}])
    made = synth_outcome(out, timed_out=False, exit_code=0, log="")
    assert made["tasks"] == 1 and synth_cell(made) == "1"  # rejections are shown only without a task


def test_a_tasks_cell_with_a_reason_reads_back_as_the_same_cell() -> None:
    line = "| tzdata | 2026.6 | 30/0/0 | 30/0/0 | reproduced | 0; the package defines no function \\| x |  |"
    row = row_of(line, "README.md at commit x")
    assert row["synth"] == {"tasks": 0, "synth_status": "done", "why": "the package defines no function | x"}
    assert table([row], 1).splitlines()[2] == line


def test_the_synthesis_limit_is_one_rule_over_the_rows_own_suite_and_the_cell_says_so() -> None:
    assert synth_limit({"test_s": 4.5}) == (240.0, "max(240 s, 3 x plain suite 4.5 s)")
    assert synth_limit({"test_s": 183.2}) == (549.6, "max(240 s, 3 x plain suite 183.2 s)")
    assert synth_limit(None) == (240.0, "max(240 s, 3 x plain suite 0 s)")  # no plain run: the base
    limit, rule = synth_limit({"test_s": 183.2})
    long = {"tasks": 0, "synth_status": "timeout", "limit_s": limit, "limit_rule": rule, "why": "slow | x"}
    cell = synth_cell(long)
    assert cell == "0 (timeout) in 549.6 s (max(240 s, 3 x plain suite 183.2 s)); slow \\| x"
    assert (
        synth_cell({"tasks": 2, "limit_s": 240.0, "limit_rule": "max(240 s, 3 x plain suite 4.5 s)"}) == "2"
    )
    line = f"| multidict | 7.2.1 | 1/0/0 | 1/0/0 | reproduced | {cell} |  |"
    row = row_of(line, "README.md at commit x")
    assert row["synth"] == {**long, "why": "slow | x"}
    assert table([row], 1).splitlines()[2] == line  # read back as the same cell


def test_a_plain_run_that_ran_fewer_tests_takes_the_limit_from_codekilns_longer_baseline() -> None:
    """s3fs 2026.9.0: 3 modules fail to import plainly (11 tests in 4.5 s) while codekiln's baseline
    runs 382; the plain time said nothing of the suite synthesis runs, and 240 s decided no candidate."""
    plain = {"test_s": 4.5, "passed": 11, "errors": 3}
    ck = {"baseline_s": 150.0, "passed": 376, "failed": 1, "skipped": 5}
    assert synth_limit(plain, ck) == (
        450.0,
        "max(240 s, 3 x codekiln suite 150 s (plain ran 14 of its 382 tests))",
    )
    assert synth_limit(plain, {**ck, "baseline_s": 60.0})[0] == 240.0  # still the base when short
    # the plain side ran as many tests: its own time, even when codekiln's run took longer
    same = {"test_s": 183.2, "passed": 4298, "skipped": 180}
    assert synth_limit(same, {"baseline_s": 300.0, "passed": 4298, "skipped": 180}) == synth_limit(same)
    # a build record without a baseline time (rows before it was kept): the plain rule
    assert synth_limit(plain, {k: v for k, v in ck.items() if k != "baseline_s"}) == synth_limit(plain)
    # a shorter codekiln run never lowers the plain limit
    assert synth_limit({"test_s": 200.0, "passed": 1}, {"baseline_s": 90.0, "passed": 9})[0] == 600.0
