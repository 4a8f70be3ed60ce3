"""The validation engine on real toolz 1.2.0 code and tests, in real bwrap sandboxes.

The warm engine (forked runs, bugs swapped into live functions or re-imported) must decide exactly as
the fresh engine (one pytest process per run); reruns catch a planted flaky test; a bug that loops
forever is stopped by the timeout; each rejection carries its reason.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import FIXTURE_TEST, PLANTED_TEST, planted_env, toolz_env, toolz_parts

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.envs import EnvRecord, env_sandbox
from codekiln.grading import TestRun
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.validation.coverage_map import CoverageMap, touched_lines
from codekiln.tasks.validation.testexec import Job, JobResult, WarmExecutor
from codekiln.tasks.validation.validate import ValidateConfig, Validator, validate_candidates


@pytest.fixture(scope="module")
def env() -> EnvRecord:
    return toolz_env()


@pytest.fixture(scope="module")
def parts(env: EnvRecord) -> tuple[CoverageMap, list[Entity], list[Candidate]]:
    return toolz_parts(env)


def _candidate(env: EnvRecord, entity: str, old: str, new: str, name: str = "hand_made") -> Candidate:
    rel = entity.split("::")[0]
    text = (Path(env.snapshot_path) / rel).read_text()
    assert old in text
    patch = make_diff(rel, text, text.replace(old, new, 1))
    return Candidate(
        id=diff_hash(patch)[:16], patch=patch, mutators=[name], entities=[entity], files=[rel], seed=0
    )


def test_touched_lines_cover_removals_and_insertion_points() -> None:
    old = "a\nb\nc\nd\n"
    assert touched_lines(make_diff("m.py", old, "a\nB\nc\nd\n")) == {"m.py": {2}}
    assert touched_lines(make_diff("m.py", old, "a\nb\nnew\nc\nd\n")) == {"m.py": {2, 3}}


@pytest.mark.root  # validation in bwrap sandboxes
def test_coverage_map_uses_the_test_runs_ids(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    cmap, entities, _ = parts
    assert set(cmap.tests) == set(env.baseline)
    remove = next(e for e in entities if e.id == "toolz/itertoolz.py::remove")
    covering = cmap.tests_for({remove.file: range(remove.start_line, remove.end_line + 1)})
    assert "toolz/tests/test_itertoolz.py::test_remove" in covering
    assert all(t.startswith("toolz/tests/") for t in covering)
    assert not cmap.tests_for({"toolz/itertoolz.py": [1]})  # the module docstring line runs only at import


def _verdict(d: TaskRecord | RejectedCandidate) -> tuple[object, ...]:
    if isinstance(d, TaskRecord):
        return ("task", d.FAIL_TO_PASS, d.PASS_TO_PASS)
    return ("rejected", d.reason)


def _same_decisions(
    env: EnvRecord, cmap: CoverageMap, entities: list[Entity], picked: list[Candidate]
) -> None:
    warm = validate_candidates(env, cmap, entities, picked)
    fresh = validate_candidates(env, cmap, entities, picked, ValidateConfig(engine="fresh"))
    for w, f in zip(warm, fresh, strict=True):
        assert type(w) is type(f), (w, f)
        if isinstance(w, TaskRecord) and isinstance(f, TaskRecord):
            assert (w.FAIL_TO_PASS, w.PASS_TO_PASS, w.hidden_tests) == (
                f.FAIL_TO_PASS,
                f.PASS_TO_PASS,
                f.hidden_tests,
            )
        else:
            assert isinstance(w, RejectedCandidate) and isinstance(f, RejectedCandidate)
            assert w.reason == f.reason, (w.detail, f.detail)


@pytest.mark.root  # validation in bwrap sandboxes
def test_warm_engine_decides_like_fresh_processes(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    """Bugs swapped into live functions, and a removed method (which needs a re-import)."""
    cmap, entities, candidates = parts
    removed = next(c for c in candidates if c.mutators == ["remove_method"])
    with Validator(env, cmap, entities) as v:
        job = Job(removed.id, v.select(removed), v.buggy_files(removed), timeout=30)
        assert v.warm.run([job])[removed.id].reimported == "functions were added or removed"
    _same_decisions(env, cmap, entities, [*candidates[:2], removed])


@pytest.mark.root  # validation in bwrap sandboxes
def test_removed_generator_expression_is_swapped_not_reimported(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    """A bug that removes a nested code object (a generator expression): its function's new code
    makes the nested ones, so the change is swapped in; the verdict matches fresh processes."""
    cmap, entities, _ = parts
    cand = _candidate(env, "toolz/itertoolz.py::count", "return sum(1 for i in seq)", "return sum(seq)")
    with Validator(env, cmap, entities) as v:
        job = Job(cand.id, v.select(cand), v.buggy_files(cand), timeout=30)
        result = v.warm.run([job])[cand.id]
        assert result.reimported is None, result.reimported
        assert result.runs[0].statuses["toolz/tests/test_itertoolz.py::test_count"] == "failed"
        assert 0.0 < result.cpu_s < result.duration_s + 0.05  # the child's resource usage came back
        [task] = v.validate([cand])
    assert isinstance(task, TaskRecord), task
    assert "toolz/tests/test_itertoolz.py::test_count" in task.FAIL_TO_PASS
    _same_decisions(env, cmap, entities, [cand])


@pytest.mark.root  # validation in bwrap sandboxes
@pytest.mark.slow
def test_warm_engine_decides_like_fresh_processes_at_import_time(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    """A default argument, and code that runs at import time (toolz builds its signature registry
    then): both re-imported, the second checked against the whole suite."""
    cmap, entities, candidates = parts
    at_import = next(
        c
        for c in candidates
        if c.files == ["toolz/_signatures.py"] and cmap.runs_at_import(touched_lines(c.patch))
    )
    default_arg = next(c for c in candidates if c.mutators == ["change_default_arg"])
    with Validator(env, cmap, entities) as v:
        assert len(v.select(at_import)) == len(v.passing)
    _same_decisions(env, cmap, entities, [at_import, default_arg])


@pytest.mark.root  # validation in bwrap sandboxes
def test_each_rejection_keeps_its_reason(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    cmap, entities, _ = parts
    cand = _candidate(
        env,
        "toolz/itertoolz.py::remove",
        "return filterfalse(predicate, seq)",
        "return filter(predicate, seq)",
    )

    def result(*runs: dict[str, str], **kw: object) -> JobResult:
        return JobResult("x", runs=[TestRun(statuses=s) for s in runs], **kw)  # type: ignore[arg-type]

    with Validator(env, cmap, entities) as v:
        tests = v.select(cand)
        assert "toolz/tests/test_itertoolz.py::test_remove" in tests
        ok = dict.fromkeys(tests, "passed")
        bad = {**ok, "toolz/tests/test_itertoolz.py::test_remove": "failed"}
        verdicts = {
            "clean": v.decide(cand, tests, result(ok), result(ok, ok, ok)),
            "flaky bug": v.decide(cand, tests, result(bad, ok, bad), result(ok, ok, ok)),
            "flaky gold": v.decide(cand, tests, result(bad, bad, bad), result(ok, bad, ok)),
            "broken gold": v.decide(cand, tests, result(bad, bad, bad), result(bad, bad, bad)),
            "error": v.decide(cand, tests, JobResult("x", error="the sandbox died"), result(ok)),
            "timeout": v.decide(
                cand, tests, JobResult("x", runs=[TestRun(timed_out=True, error="timeout")]), result(ok)
            ),
        }
        task = v.decide(cand, tests, result(bad, bad, bad), result(ok, ok, ok))
    reasons = {k: d.reason for k, d in verdicts.items() if isinstance(d, RejectedCandidate)}
    assert reasons == {
        "clean": RejectReason.no_failing_test,
        "flaky bug": RejectReason.flaky,
        "flaky gold": RejectReason.flaky,
        "broken gold": RejectReason.gold_failed,
        "error": RejectReason.infra_error,
        "timeout": RejectReason.timeout,
    }
    assert isinstance(task, TaskRecord)
    assert task.FAIL_TO_PASS == ["toolz/tests/test_itertoolz.py::test_remove"]
    assert task.hidden_tests == ["toolz/tests/test_itertoolz.py"]
    # the failing test is hidden: the statement describes it and never names it
    assert "test_remove" not in task.problem_statement and "filterfalse" not in task.problem_statement


@pytest.mark.root  # validation in bwrap sandboxes
def test_the_grader_gate_grades_gold_and_empty_patches_for_real(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    cmap, entities, candidates = parts
    with Validator(env, cmap, entities, ValidateConfig(gate="grader")) as v:
        gated = v.validate(candidates[:6])
        shared = dict(v.gold_cache.graded)
    tasks = [d for d in gated if isinstance(d, TaskRecord)]
    details = [t.validation.detail if t.validation else "" for t in tasks]
    assert len(tasks) >= 2 and all(d.startswith("grader: gold resolved") for d in details), details
    # one task of the first batch is audited by real grades (its gold's is the shared run where that ran
    # exactly its tests); the others stand on the grader's shared run of their tests on the snapshot and
    # the engine's runs on their buggy tree (tasks.validation.gate)
    audited = ("grader: gold resolved in ", "grader: gold resolved by the shared run of exactly its tests (")
    assert sum(d.startswith(audited) for d in details) == 1, details
    assert sum("shared run" in d and "engine runs on the same tree" in d for d in details) == len(tasks) - 1
    assert all(shared.get(t) == "passed" for task in tasks for t in task.tests)


@pytest.mark.root  # validation in bwrap sandboxes
def test_a_bug_that_never_returns_is_stopped(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    cmap, entities, _ = parts
    loop = _candidate(
        env, "toolz/itertoolz.py::remove", "return filterfalse(predicate, seq)", "while True:\n        pass"
    )
    broken = _candidate(
        env,
        "toolz/itertoolz.py::remove",
        "return filterfalse(predicate, seq)",
        "return filterfalse(predicate, seq",
    )
    decisions = validate_candidates(
        env, cmap, entities, [loop, broken], ValidateConfig(timeout_min_s=2, timeout_factor=2)
    )
    assert [getattr(d, "reason", None) for d in decisions] == [
        RejectReason.timeout,
        RejectReason.syntax_error,
    ]


@pytest.mark.root  # validation in bwrap sandboxes
def test_a_planted_flaky_test_is_caught_and_dropped(
    toolz_src: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = planted_env(toolz_src, tmp_path_factory.mktemp("planted"))
    cmap, entities, candidates = toolz_parts(env)
    on_target = [c for c in candidates if c.entities == ["toolz/itertoolz.py::frequencies"]]
    elsewhere = [c for c in candidates if c.entities == ["toolz/itertoolz.py::remove"]]
    assert on_target and elsewhere
    decisions = validate_candidates(env, cmap, entities, [*on_target, *elsewhere])
    for cand, d in zip([*on_target, *elsewhere], decisions, strict=True):
        covered = PLANTED_TEST in cmap.tests_for(
            {"toolz/itertoolz.py": touched_lines(cand.patch)["toolz/itertoolz.py"]}
        )
        if cand in on_target:
            assert covered
            assert isinstance(d, RejectedCandidate) and d.reason == RejectReason.flaky, d
            assert d.validation is not None and PLANTED_TEST in d.validation.flaky
        else:
            assert not covered
            assert not (isinstance(d, RejectedCandidate) and d.reason == RejectReason.flaky), d
    assert any(isinstance(d, TaskRecord) for d in decisions)


@pytest.mark.root  # validation in bwrap sandboxes
def test_reruns_in_one_child_get_fresh_fixtures_and_a_fresh_import(
    toolz_src: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A job's repeats share one forked child: each rerun must set its fixtures up anew (a stale
    tmp_path fails the planted test), with the code swapped in or re-imported alike."""
    env = planted_env(toolz_src, tmp_path_factory.mktemp("planted"))
    rel = "toolz/itertoolz.py"
    text = (Path(env.snapshot_path) / rel).read_text()
    same = {rel: text.replace("def remove(", "def remove(  ", 1)}  # a change that alters no behaviour
    with env_sandbox(env) as sb:
        results = WarmExecutor(sb, env.test).run(
            [
                Job("swap", [FIXTURE_TEST], same, repeat=3),
                Job("reimport", [FIXTURE_TEST], same, repeat=3, reimport=True),
            ]
        )
    for job in ("swap", "reimport"):
        runs = results[job].runs
        assert [r.statuses.get(FIXTURE_TEST) for r in runs] == ["passed"] * 3, (job, runs)
    assert results["reimport"].reimported and not results["swap"].reimported


@pytest.mark.root  # validation in bwrap sandboxes
def test_clean_reruns_are_reused_by_later_batches(
    toolz_src: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The clean side's reruns are kept per test: a later batch's union job leaves out the tests an
    earlier union reran (here the later candidate's selection differs but overlaps), and their kept
    results still decide. The planted test fails every second run, so it failed in one of the first
    union's reruns: a later candidate over it is still flaky."""
    env = planted_env(toolz_src, tmp_path_factory.mktemp("planted"))
    cmap, entities, candidates = toolz_parts(env)
    on_target = next(c for c in candidates if c.entities == ["toolz/itertoolz.py::frequencies"])
    submitted: list[list[Job]] = []

    class Recording(Validator):
        def _run(self, jobs: list[Job]) -> dict[str, JobResult]:
            submitted.append(jobs)
            return super()._run(jobs)

    with Recording(env, cmap, entities, ValidateConfig(gate="fast")) as v:
        first = set(v.select(on_target))
        overlapping = next(
            c
            for c in candidates
            if c.entities != on_target.entities
            and first & set(v.select(c))
            and not set(v.select(c)) <= first
            and PLANTED_TEST not in v.select(c)
        )
        later = v.select(overlapping)
        decisions = v.validate([on_target]) + v.validate([overlapping, on_target])
    first_union = next(j for j in submitted[0] if j.id == "gold:union")
    assert set(first_union.tests) == first and PLANTED_TEST in first
    later_union = next(j for j in submitted[1] if j.id == "gold:union")
    assert set(later_union.tests) == set(later) - first
    for d in (decisions[0], decisions[2]):
        assert isinstance(d, RejectedCandidate) and d.reason == RejectReason.flaky, d
        assert d.validation is not None and PLANTED_TEST in d.validation.flaky
    alone = validate_candidates(env, cmap, entities, [overlapping], ValidateConfig(gate="fast"))
    assert _verdict(decisions[1]) == _verdict(alone[0])
