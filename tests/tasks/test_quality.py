"""Difficulty features, the quality filter and compact records, driven through real synthesis runs on
toolz 1.2.0 (seed 0: its second and third candidates break `import toolz`, so every selected test
fails to collect; synthesis puts the 8 cheapest of the first 32 candidates first, so they are decided
in the second batch) and checked on the records, the CLI, the export and the HTML report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from synth_support import TOOLZ
from typer.testing import CliRunner

from codekiln.cli.synth import app as synth_app
from codekiln.cli.tasks import app as tasks_app
from codekiln.core.errors import ConfigError
from codekiln.reports.html import build_report
from codekiln.tasks.quality import (
    KEEP_TESTS,
    TaskFilter,
    balance,
    compact,
    group_of,
    mix,
    screen,
    select_tasks,
)
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord, Validation
from codekiln.tasks.synth import (
    DETAILS,
    REJECTED,
    TASKS,
    Keeper,
    SynthConfig,
    read_decisions,
    read_funnel,
    synthesize,
)


def _synth(out: Path, max_tasks: int, **options: object) -> Path:
    synthesize(SynthConfig(spec=TOOLZ, out=out, max_tasks=max_tasks, workers=1, batch_size=8, **options))  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default filter, with the full statuses asked for."""
    return _synth(tmp_path_factory.mktemp("quality") / "default", 9, details=True)


@pytest.fixture(scope="module")
def allowed_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Import breakage allowed, no side file."""
    quality = TaskFilter(allow_import_breakage=True)
    return _synth(tmp_path_factory.mktemp("quality") / "allowed", 10, quality=quality)


def _tasks(out: Path) -> list[TaskRecord]:
    return [d for d in read_decisions(out) if isinstance(d, TaskRecord)]


def _rejected(out: Path) -> list[RejectedCandidate]:
    return [d for d in read_decisions(out) if isinstance(d, RejectedCandidate)]


def test_default_synth_drops_import_breakage_as_a_reason_of_its_own(default_run: Path) -> None:
    funnel = read_funnel(default_run)
    assert funnel.rejected.get("import_breakage", 0) >= 1 and funnel.validated == len(_tasks(default_run))
    assert json.loads((default_run / "funnel.json").read_text())["rejected"] == funnel.rejected
    assert not any(t.difficulty and t.difficulty.import_breakage for t in _tasks(default_run))
    broken = [r for r in _rejected(default_run) if r.reason == RejectReason.import_breakage]
    for r in broken:
        v = r.validation
        assert v is not None and v.trimmed and "--allow-import-breakage" in r.detail
        assert v.counts["after"] == {"missing": v.selected} and v.selected > 100
        assert len(v.after) == KEEP_TESTS and set(v.after.values()) == {"missing"}


def test_allowed_import_breakage_is_kept_with_its_features(allowed_run: Path) -> None:
    tasks = _tasks(allowed_run)
    broken = [t for t in tasks if t.difficulty and t.difficulty.import_breakage]
    assert broken and len(broken) < len(tasks)
    for t in tasks:
        d = t.difficulty
        assert d is not None and d.n_selected == len(t.tests) and d.n_fail_to_pass == len(t.FAIL_TO_PASS)
        assert d.f2p_share == round(len(t.FAIL_TO_PASS) / len(t.tests), 4)
        assert d.files_changed >= 1 and d.lines_changed >= 1 and t.mutators
        assert not d.import_breakage or not t.PASS_TO_PASS  # import breakage fails every selected test
    assert [screen(t, TaskFilter()) is None for t in tasks] == [t not in broken for t in tasks]
    assert {t.instance_id for t in select_tasks(tasks, TaskFilter())} == {
        t.instance_id for t in tasks if t not in broken
    }
    tight = [t for t in tasks if screen(t, TaskFilter(allow_import_breakage=True, max_f2p_share=0.01))]
    assert {t.instance_id for t in tight} == {t.instance_id for t in tasks if t.difficulty.f2p_share > 0.01}  # type: ignore[union-attr]
    assert mix(tasks)["import_breakage"] == {"no": len(tasks) - len(broken), "yes": len(broken)}


def test_records_are_compact_and_details_go_to_the_side_file_only_when_asked(
    default_run: Path, allowed_run: Path
) -> None:
    assert not (allowed_run / DETAILS).exists()
    decisions = list(read_decisions(default_run))
    details = {json.loads(x)["candidate_id"]: json.loads(x) for x in (default_run / DETAILS).open()}
    assert set(details) == {d.candidate_id for d in decisions}
    for d in decisions:
        full = Validation.model_validate(details[d.candidate_id or ""]["validation"])
        assert d.validation is not None and d.validation.trimmed and not full.trimmed
        assert len(full.after) == d.validation.selected  # every selected test's status, in the side file
        if isinstance(d, TaskRecord):
            assert d.validation.after == {t: full.after[t] for t in d.FAIL_TO_PASS}
            assert not d.validation.before and not d.validation.gold
    for line in (default_run / REJECTED).open():
        assert len(line) < 6000  # toolz selects up to 192 tests; a full rejection was ~40 KB


def test_deleting_the_side_file_breaks_nothing(default_run: Path, tmp_path: Path) -> None:
    out = shutil.copytree(default_run, tmp_path / "run")
    (out / DETAILS).unlink()
    runner = CliRunner(env={"COLUMNS": "250"})
    stats = runner.invoke(tasks_app, ["stats", str(out)])
    assert stats.exit_code == 0, stats.output
    assert "difficulty mix" in stats.output and "import_breakage" in stats.output
    n = len(_tasks(out))
    assert stats.output.strip().splitlines()[-1] == f"{n} tasks valid"
    exported = runner.invoke(tasks_app, ["export", str(out), "--format", "harbor"])
    assert exported.exit_code == 0, exported.output
    assert len([p for p in (out / "harbor").iterdir() if p.is_dir()]) == n
    html = build_report([out], tmp_path / "report.html").path.read_text()
    assert 'data-testid="chart-mix-level"' in html and 'data-testid="chart-mix-f2p_share"' in html
    again = runner.invoke(synth_app, [TOOLZ, "--out", str(out), "--max-tasks", str(n), "--workers", "1"])
    assert again.exit_code == 0 and "0 candidates decided" in again.output, again.output


def test_export_filters_and_balances(allowed_run: Path, tmp_path: Path) -> None:
    out = shutil.copytree(allowed_run, tmp_path / "run")
    tasks = _tasks(out)
    runner = CliRunner(env={"COLUMNS": "250"})

    def exported(*options: str) -> int:
        shutil.rmtree(out / "harbor", ignore_errors=True)
        res = runner.invoke(tasks_app, ["export", str(out), "--format", "harbor", *options])
        assert res.exit_code == 0, res.output
        return len([p for p in (out / "harbor").iterdir() if p.is_dir()])

    n_broken = sum(1 for t in tasks if t.difficulty and t.difficulty.import_breakage)
    assert exported() == len(tasks) - n_broken
    assert exported("--allow-import-breakage") == len(tasks)
    groups = {group_of(t, "mutator") for t in tasks}
    assert exported("--allow-import-breakage", "--balance", "mutator", "--limit", "2") == min(2, len(tasks))
    assert exported("--allow-import-breakage", "--balance", "mutator") == len(groups) * min(
        sum(1 for t in tasks if group_of(t, "mutator") == g) for g in groups
    )
    bad = runner.invoke(tasks_app, ["export", str(out), "--max-f2p-share", "2"])
    assert isinstance(bad.exception, ConfigError) and "0 to 1" in str(bad.exception.hint)


def test_balance_round_robins_and_cuts_to_the_smallest_group(allowed_run: Path) -> None:
    task = _tasks(allowed_run)[0]
    made = [task.model_copy(update={"mutators": [m], "instance_id": f"t{i}"}) for i, m in enumerate("aabbbc")]
    assert [t.instance_id for t in balance(made, "mutator")] == ["t0", "t2", "t5"]
    assert [t.instance_id for t in balance(made, "mutator", limit=5)] == ["t0", "t1", "t2", "t3", "t5"]
    assert [t.instance_id for t in balance(made, "mutator", limit=100)] == [t.instance_id for t in made]


def test_synth_quota_holds_each_group_to_its_share(allowed_run: Path) -> None:
    task = _tasks(allowed_run)[0].model_copy(deep=True)
    keeper = Keeper(
        SynthConfig(spec=TOOLZ, out=allowed_run, max_tasks=2, quality=TaskFilter(allow_import_breakage=True, balance="mutator")),
        n_mutators=2,
    )  # fmt: skip
    assert keeper.keep(task) is task
    second = keeper.keep(task.model_copy(update={"instance_id": "other"}))
    assert isinstance(second, RejectedCandidate) and second.reason == RejectReason.over_quota
    with pytest.raises(ConfigError, match="cannot balance by files"):
        Keeper(SynthConfig(spec=TOOLZ, out=allowed_run, quality=TaskFilter(balance="files")), 2)


def test_compact_rejections_stay_small_on_a_large_suite() -> None:
    tests = [f"tests/test_m{i // 100}.py::test_case_number_{i}" for i in range(1800)]
    after = {t: "failed" if i < 900 else "passed" for i, t in enumerate(tests)}
    full = Validation(before=dict.fromkeys(tests, "passed"), after=after, gold=dict.fromkeys(tests, "passed"))
    rejection = RejectedCandidate(
        candidate_id="c", repo="r", base_commit="b", reason=RejectReason.gold_failed, validation=full
    )
    small = compact(rejection)
    assert len(rejection.model_dump_json()) > 200_000 and len(small.model_dump_json()) < 3_000
    v = small.validation
    assert v is not None and v.selected == 1800 and list(v.after) == tests[:KEEP_TESTS]
    assert v.counts == {
        "before": {"passed": 1800},
        "after": {"failed": 900, "passed": 900},
        "gold": {"passed": 1800},
    }
    assert compact(small) == small


def test_old_full_records_read_with_their_features(default_run: Path) -> None:
    details = {json.loads(x)["candidate_id"]: json.loads(x) for x in (default_run / DETAILS).open()}
    for line in (default_run / TASKS).open():
        new = json.loads(line)
        old = {**new, "schema_version": 2, "validation": details[new["candidate_id"]]["validation"]}
        old["difficulty"] = {k: new["difficulty"][k] for k in ("files_changed", "lines_changed", "hunks", "n_bugs", "n_fail_to_pass", "level")}  # fmt: skip
        read = TaskRecord.model_validate(old)
        assert read.difficulty == TaskRecord.model_validate(new).difficulty
        assert compact(read).validation == TaskRecord.model_validate(new).validation
