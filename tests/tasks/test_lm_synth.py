"""Model-written bugs through the whole synthesis pipeline on toolz 1.2.0: a scripted model's answers
become candidates that the real validation engine runs in bwrap sandboxes with toolz's own tests; the
funnel per strategy counts every step; a server that goes down mid-run stops the run with what it
finished kept, and the rerun ends with exactly the tasks of an uninterrupted run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lm_support import TOOLZ_FUNCTIONS, FakeServer, toolz_answers
from synth_support import TOOLZ, toolz_env, toolz_parts

from codekiln.core.errors import ConfigError, ModelError
from codekiln.models import make_model
from codekiln.models.scripted import ScriptedModel
from codekiln.reports import collect, render
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.frontend.lm import plan_requests
from codekiln.tasks.lm_bugs import LM_CALLS, LmConfig
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import REJECTED, TASKS, SynthConfig, read_funnel, synthesize
from codekiln.tasks.validation.validate import ValidateConfig

pytestmark = pytest.mark.root  # environments and validation in bwrap sandboxes

STRATEGIES = ["lm_modify", "lm_rewrite", "func_pm"]
LM_ONLY = STRATEGIES[:2]


@pytest.fixture(scope="module")
def itertoolz() -> dict[str, Entity]:
    _, entities, _ = toolz_parts(toolz_env())  # environment and coverage map built (cached) first
    return {e.qualname: e for e in entities if e.file == "toolz/itertoolz.py"}


def config(
    out: Path,
    concurrency: int = 1,
    strategies: list[str] = STRATEGIES,
    statements: str = "template",
    combine: int = 0,
) -> SynthConfig:
    return SynthConfig(
        spec=TOOLZ, out=out, max_tasks=10, max_candidates=4, workers=1, strategies=strategies, combine=combine,
        functions=TOOLZ_FUNCTIONS, lm=LmConfig(concurrency=concurrency, max_functions=None),
        validation=ValidateConfig(gate="fast", statements=statements),
    )  # fmt: skip


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def summary(out: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    tasks = [(r["instance_id"], r["source"], r["content_hash"]) for r in rows(out / TASKS)]
    return tasks, [(r["candidate_id"], r["reason"]) for r in rows(out / REJECTED)]


def test_a_scripted_model_drives_every_path_and_the_funnel_per_strategy(
    itertoolz: dict[str, Entity], tmp_path: Path
) -> None:
    answers = toolz_answers(itertoolz)
    requests = plan_requests(list(itertoolz.values()), STRATEGIES[:2], seed=0, only=TOOLZ_FUNCTIONS)
    assert len(requests) == 8
    model = ScriptedModel([answers[(r.strategy, r.entity.name)] for r in requests])
    out = tmp_path / "scripted"
    result = synthesize(config(out, combine=1), model=model)
    funnel = result.funnel.per_strategy
    modify, rewrite = funnel["lm_modify"], funnel["lm_rewrite"]
    assert (modify.calls, modify.parsed, modify.applied) == (4, 3, 1)
    assert modify.cheap_rejections == {"identical": 1, "unparsable": 1, "signature_changed": 1}
    assert (rewrite.calls, rewrite.parsed, rewrite.applied) == (4, 3, 1)
    assert rewrite.cheap_rejections == {"identical": 2, "no_code": 1}
    # both take bugs break test_take and become tasks; func_pm gets the other two candidate slots
    assert (modify.tried, modify.breaks_test, modify.valid) == (1, 1, 1)
    assert (rewrite.tried, rewrite.breaks_test, rewrite.valid) == (1, 1, 1)
    assert funnel["func_pm"].tried == 2 and modify.tokens > 0 and modify.tokens_per_valid == modify.tokens
    tasks = {t.source.value: t for t in (TaskRecord.model_validate(r) for r in rows(out / TASKS))}
    assert {"lm_modify", "lm_rewrite"} <= set(tasks)
    assert any("test_take" in t for t in tasks["lm_modify"].FAIL_TO_PASS)
    assert "islice(seq, n + 1)" in tasks["lm_modify"].bug_patch
    # then one pair of valid bugs of different strategies in itertoolz.py, on different functions
    combined = funnel["combined"]
    assert (combined.applied, combined.tried, combined.valid) == (1, 1, 1)
    pair = tasks["combined"]
    assert pair.difficulty is not None and pair.difficulty.n_bugs == 2 and len(set(pair.entities)) == 2
    assert {m.startswith("lm_") for m in pair.mutators} == {True, False}
    calls = rows(out / LM_CALLS)
    assert len(calls) == 8 and {c["prompt"] for c in calls} == {"lm_modify.v1", "lm_rewrite.v1"}
    assert {c["raw"] for c in calls} == {answers[(r.strategy, r.entity.name)] for r in requests}
    # resume: every call is recorded, so no model is needed and nothing is decided twice
    html = render(collect([out]))  # the HTML report shows the tasks per strategy
    assert 'data-testid="chart-strategies"' in html and "lm_rewrite: 1/1 validated" in html
    before = summary(out)
    again = synthesize(config(out, combine=1))
    assert again.new_decisions == 0 and summary(out) == before
    assert read_funnel(out).per_strategy["lm_modify"].model_dump() == modify.model_dump()


def test_a_server_down_mid_run_then_a_rerun_matches_an_uninterrupted_run(
    itertoolz: dict[str, Entity], tmp_path: Path
) -> None:
    answers = toolz_answers(itertoolz)
    server = FakeServer(lambda strategy, name: answers[(strategy, name)], delay=0.05)
    with server.running():
        whole = tmp_path / "whole"
        synthesize(config(whole, 3, LM_ONLY), model=make_model(f"openai:fake@{server.url}"))
        expected = summary(whole)
        assert len(expected[0]) >= 2
        server.answered.clear()
        server.up_for = 3
        out = tmp_path / "interrupted"
        model = make_model(f"openai:fake@{server.url}", retries=1, backoff=0.01)
        with pytest.raises(ModelError, match="cannot reach"):
            synthesize(config(out, 3, LM_ONLY), model=model)
        kept = rows(out / LM_CALLS)
        assert 3 <= len(kept) < 8 and not rows(out / TASKS)  # no validation before every call is made
        with pytest.raises(ConfigError, match="no model was given"):
            synthesize(config(out, 1, LM_ONLY))
        server.up_for = None
        synthesize(config(out, 3, LM_ONLY), model=model)
    assert len(server.answered) == 8  # the rerun made only the missing calls
    assert summary(out) == expected


CLEAN_ISSUE = "take returns too many items\n\nlist(take(2, [10, 20, 30])) gives three items, not two.\n"
LEAKING_ISSUE = "take is wrong\n\nIt should be `return itertools.islice(seq, n)` again.\n"


def test_model_written_statements_are_leak_checked_and_their_source_recorded(
    itertoolz: dict[str, Entity], tmp_path: Path
) -> None:
    answers = toolz_answers(itertoolz)
    issues = iter([CLEAN_ISSUE, LEAKING_ISSUE, LEAKING_ISSUE])

    def answer(strategy: str, name: str) -> str:
        return next(issues) if strategy == "statement" else answers[(strategy, name)]

    server = FakeServer(answer)
    with server.running():
        out = tmp_path / "statements"
        with pytest.raises(ConfigError, match="need a model"):
            synthesize(config(out, 1, LM_ONLY, "model"))
        synthesize(config(out, 1, LM_ONLY, "model"), model=make_model(f"openai:fake@{server.url}"))
    tasks = [TaskRecord.model_validate(r) for r in rows(out / TASKS)]
    assert [t.source.value for t in tasks] == ["lm_modify", "lm_rewrite"]
    first, second = tasks
    assert (first.statement_source, first.problem_statement) == ("model", CLEAN_ISSUE)
    # both answers for the second task quote the fix: the template wrote it instead
    assert (
        second.statement_source == "template" and "itertools.islice(seq, n)" not in second.problem_statement
    )
    assert [s for s, _ in server.answered].count("statement") == 3
