"""The discriminative search and its evidence, on synthetic pools whose labels are known by construction:
a test fails when the search picks a wrong program, or spends its budget the way MBR-exec does."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from codekiln.verify.domains import infer_domains
from codekiln.verify.evidence import clusters, evidence_key, rank
from codekiln.verify.problems import Example
from codekiln.verify.runner import Program, Runner
from codekiln.verify.search import SearchSelector
from codekiln.verify.selectors import SELECTORS, View


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    with Runner(timeout_s=0.5) as r:
        yield r


def view(programs: list[str], domains_from: list[tuple[object, ...]], public: Example) -> View:
    return View(
        problem_id="synthetic",
        statement="",
        public=[public],
        domains=infer_domains(domains_from),
        programs=[Program(code, "f") for code in programs],
    )


def picks(name: str, v: View, runner: Runner, budget: int, seeds: int = 12) -> list[int]:
    return [SELECTORS[name]().select(v, runner, random.Random(s), budget).index for s in range(seeds)]


# Sum of a list. Two wrong programs raise on one-element lists, where the other three return; two more are
# wrong on longer lists, each in its own way.
SUMS = [
    "def f(xs):\n    return sum(xs)\n",
    "def f(xs):\n    return xs[0] + xs[1] + sum(xs[2:])\n",
    "def f(xs):\n    return xs[1] + xs[0] + sum(xs[2:])\n",
    "def f(xs):\n    return sum(xs) + (len(xs) > 5)\n",
    "def f(xs):\n    return sum(xs) - (len(xs) >= 4)\n",
]


def test_search_counts_raising_where_most_return_as_wrong(runner: Runner) -> None:
    v = view(SUMS, [([5, -90, 90, 3],), ([7],)], Example(input="([1, 2, 3],)", output="6"))
    assert picks("search", v, runner, 5 * 24) == [0] * 12


# Double a number. One wrong program differs on one input in ten; eight others are wrong everywhere except
# there and on the public example, each in its own way (so on a telling input they side with the right program). MBR-exec, spending
# the budget on all ten programs, rarely sees a telling input; the search runs most of its inputs on the
# two leaders only.
RARE = [
    "def f(x):\n    return 2 * x\n",
    "def f(x):\n    return 2 * x + (x % 10 == 3)\n",
    *(f"def f(x):\n    return 2 * x if x % 10 in (3, 5) else 2 * x + {j}\n" for j in range(1, 9)),
]


def test_search_spends_its_budget_on_the_leaders(runner: Runner) -> None:
    v = view(RARE, [(0,), (99,)], Example(input="(5,)", output="10"))
    budget = 10 * 4

    def telling(inputs: list[str]) -> bool:
        return any(int(t.strip("(,)")) % 10 == 3 for t in inputs)

    search = [SearchSelector().select(v, runner, random.Random(s), budget) for s in range(30)]
    mbr = [SELECTORS["mbr"]().select(v, runner, random.Random(s), budget) for s in range(30)]
    assert all(c.executions <= budget for c in search)
    found = [c for c in search if telling(c.inputs)]
    assert len(found) >= 2 * sum(telling(c.inputs) for c in mbr)
    assert all(c.index == 0 for c in found)  # once told apart, the right one wins the vote


def test_evidence_ranks_failures_first_and_ignores_inputs_most_fail_on() -> None:
    keys = ["right", "raises", "raises2", "other", "other2"]
    rows = {
        "a": ["1", "!raise:IndexError", "!raise:IndexError", "1", "1"],  # most return: failing counts
        "b": ["!raise:ValueError", "!raise:ValueError", "!raise:ValueError", "0", "2"],  # a precondition
        "c": ["5", "5", "5", "4", "5"],
    }
    outs = {(k, t): row[n] for t, row in rows.items() for n, k in enumerate(keys)}
    inputs = list(rows)
    groups = clusters(keys, [0, 1, 2, 3, 4], outs, inputs)
    score = evidence_key(groups, keys, outs, inputs)
    assert score[0] == (0, 2 + 2 + 3)  # its failure on "b" is no evidence (most fail there too)
    assert score[1] == (-1, 1 + 2 + 3)  # the two that raise on "a" form one group
    assert (score[3], score[4]) == ((0, 2), (0, 2 + 3))
    assert rank(groups, keys, outs, inputs) == [[[0]], [[4]], [[3]], [[1, 2]]]
