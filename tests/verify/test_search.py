"""The discriminative search and its evidence, on synthetic pools whose labels are known by construction:
each pool is built so that MBR-exec's agreement picks a wrong program, and the test fails if the search
chooses the way MBR-exec does."""

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


# Sum of a list. Three wrong programs share one bug (they raise on one-element lists), so on those inputs
# they "agree" with each other and outvote the right one under MBR-exec; a fourth is wrong on long lists.
SUMS = [
    "def f(xs):\n    return sum(xs)\n",
    "def f(xs):\n    return xs[0] + xs[1] + sum(xs[2:])\n",
    "def f(xs):\n    a, b, *rest = xs\n    return a + b + sum(rest)\n",
    "def f(xs):\n    return xs[1] + xs[0] + sum(xs[2:])\n",
    "def f(xs):\n    return sum(xs) + (len(xs) > 5)\n",
]


def test_search_counts_raising_where_most_return_as_wrong(runner: Runner) -> None:
    v = view(SUMS, [([5, -90, 90, 3],), ([7],)], Example(input="([1, 2, 3],)", output="6"))
    assert picks("search", v, runner, 5 * 24) == [0] * 12
    mbr = picks("mbr", v, runner, 5 * 24)
    assert sum(i in (1, 2, 3) for i in mbr) >= 6  # the shared failure often wins MBR-exec's vote


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
    keys = ["right", "raises", "raises2", "other"]
    outs = {
        ("right", "a"): "1", ("raises", "a"): "!raise:IndexError", ("raises2", "a"): "!raise:IndexError",
        ("other", "a"): "1",
        # most fail here: a precondition the validator does not know; no evidence either way
        ("right", "b"): "!raise:ValueError", ("raises", "b"): "!raise:ValueError",
        ("raises2", "b"): "!raise:ValueError", ("other", "b"): "0",
        ("right", "c"): "5", ("raises", "c"): "5", ("raises2", "c"): "5", ("other", "c"): "4",
    }  # fmt: skip
    inputs = ["a", "b", "c"]
    groups = clusters(keys, [0, 1, 2, 3], outs, inputs)
    score = evidence_key(groups, keys, outs, inputs)
    # "a" and "c" count for failures (at least a third return normally there), "b" does not; only "c"
    # counts for agreement ("a" ties a failure for the commonest output, "b"'s commonest is one)
    assert score[0] == (0, 2)
    assert score[1] == (-1, 2)  # the two that raise on "a", one group
    assert score[3] == (0, 0)
    assert rank(groups, keys, outs, inputs) == [[[0]], [[3]], [[1, 2]]]
