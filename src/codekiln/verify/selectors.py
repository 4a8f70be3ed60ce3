"""Selectors: pick one of K candidate programs using only what a verifier may see, through one interface.

    choice = SELECTORS["search"]().select(view, runner, rng, budget=16 * 64)
    choice.index, choice.inputs, choice.executions

A `View` is the public side of a problem (statement, public examples, input domains) and the K
programs. `budget` caps the calls (candidate x input executions, cached or not) one selection may
request, so selectors compare at equal execution budgets. Selectors:

- random: any candidate.
- public: a candidate that passes every public example (any, when none does).
- majority: AlphaCode-style clustering: the public filter, then candidates grouped by their outputs
  on random valid inputs; a member of the largest group.
- mbr: MBR-exec: the public filter, then the candidate whose outputs on random valid inputs agree,
  input by input, with the most other candidates' outputs.
- codet: CodeT dual agreement with tests written by a model (`View.tests`): candidates grouped by the
  tests they pass; the group maximising (size x tests passed).
- search: the model-free discriminative verifier (`codekiln.verify.search`): random valid inputs on
  every candidate, then inputs run only on the leading candidates, kept when they tell those apart;
  it chooses by failures on inputs most candidates handle, then agreement (`codekiln.verify.evidence`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from codekiln.verify.domains import Domain, sample, valid
from codekiln.verify.evidence import agreement, clusters
from codekiln.verify.problems import Example
from codekiln.verify.runner import Program, Runner


@dataclass
class View:
    """What a selector may see of a problem, and the K candidates."""

    problem_id: str
    statement: str
    public: list[Example]
    domains: list[Domain]
    programs: list[Program]
    tests: list[Example] = field(default_factory=list)
    """Model-written tests (CodeT); empty unless a test model was given."""


@dataclass
class Choice:
    """A selection and what it cost."""

    index: int
    inputs: list[str]
    """Every input the selector ran the candidates on."""
    executions: int = 0
    """Calls requested (candidates x inputs, cache hits included)."""
    proposed: int = 0
    """Inputs generated (search only), of which `valid_inputs` passed the validator."""
    valid_inputs: int = 0


class Selector(Protocol):
    name: str

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice: ...


def run_all(runner: Runner, programs: list[Program], inputs: list[str]) -> dict[tuple[str, str], str]:
    return runner.run(programs, inputs) if inputs and programs else {}


def public_survivors(view: View, runner: Runner) -> tuple[list[int], int]:
    """Indices of the candidates passing every public example (all when none does), and the calls used."""
    inputs = [e.input for e in view.public]
    outs = run_all(runner, view.programs, inputs)
    keep = [
        i for i, p in enumerate(view.programs) if all(outs[(p.key, e.input)] == e.output for e in view.public)
    ]
    return (keep or list(range(len(view.programs)))), len(view.programs) * len(inputs)


def random_inputs(
    domains: list[Domain], n: int, rng: random.Random, avoid: frozenset[str] = frozenset()
) -> list[str]:
    out: dict[str, None] = {}
    for _ in range(n * 4):
        if len(out) >= n:
            break
        args = sample(domains, rng)
        text = repr(args)
        if text not in avoid and valid(domains, args):
            out[text] = None
    return list(out)


class RandomSelector:
    name = "random"

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        return Choice(index=rng.randrange(len(view.programs)), inputs=[])


class PublicSelector:
    name = "public"

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        keep, used = public_survivors(view, runner)
        return Choice(index=rng.choice(keep), inputs=[e.input for e in view.public], executions=used)


class MajoritySelector:
    name = "majority"

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        keep, used = public_survivors(view, runner)
        n = max(1, (budget - used) // len(view.programs))
        inputs = random_inputs(view.domains, n, rng)
        survivors = [view.programs[i] for i in keep]
        outs = run_all(runner, survivors, inputs)
        keys = [p.key for p in view.programs]
        groups = clusters(keys, keep, outs, inputs)
        best = rng.choice([g for g in groups if len(g) == len(groups[0])])
        public = [e.input for e in view.public]
        return Choice(
            index=rng.choice(best), inputs=public + inputs, executions=used + len(survivors) * len(inputs)
        )


class CodetSelector:
    name = "codet"

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        tests = view.tests[: max(1, budget // len(view.programs))]
        outs = run_all(runner, view.programs, [t.input for t in tests])
        groups: dict[tuple[bool, ...], list[int]] = {}
        for i, p in enumerate(view.programs):
            groups.setdefault(tuple(outs[(p.key, t.input)] == t.output for t in tests), []).append(i)
        best = max(groups.items(), key=lambda kv: (len(kv[1]) * sum(kv[0]), len(kv[1])))[1]
        return Choice(
            index=rng.choice(best),
            inputs=[t.input for t in tests],
            executions=len(view.programs) * len(tests),
        )


class MbrSelector:
    """MBR-exec: the candidate agreeing most with the others, input by input, on random valid inputs."""

    name = "mbr"

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        keep, used = public_survivors(view, runner)
        n = max(1, (budget - used) // len(view.programs))
        inputs = random_inputs(view.domains, n, rng)
        outs = run_all(runner, [view.programs[i] for i in keep], inputs)
        score = agreement(keep, [p.key for p in view.programs], outs, inputs)
        top = max(score.values())
        public = [e.input for e in view.public]
        return Choice(
            index=rng.choice([i for i in keep if score[i] == top]),
            inputs=public + inputs,
            executions=used + len(keep) * len(inputs),
        )


def _search() -> Selector:
    from codekiln.verify.search import SearchSelector  # it builds on this module

    return SearchSelector()


# The model-free selectors (codet reads `View.tests`; the agent, which needs a model, is `agent.AgentSelector`).
SELECTORS: dict[str, Callable[[], Selector]] = {
    "random": RandomSelector,
    "public": PublicSelector,
    "majority": MajoritySelector,
    "mbr": MbrSelector,
    "codet": CodetSelector,
    "search": _search,
}
