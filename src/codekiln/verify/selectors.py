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
- search: the model-free discriminative verifier. After the public filter it spends the budget
  looking for valid inputs that split the candidates into more behaviour clusters: fresh inputs
  drawn from the domains, mutations of inputs already found (splitting ones first), each splitting
  input shrunk to the smallest that splits the candidates the same way. It then chooses by
  reference-free evidence: MBR-exec's agreement on the inputs found (with `failures=True`, first the
  cluster that fails -- raises, times out, crashes -- on the fewest valid inputs on which another
  cluster returns normally; off by default: it did not help on the bench's pools).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from codekiln.verify.domains import Domain, mutate, sample, shrink, size, valid
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


def _run(runner: Runner, programs: list[Program], inputs: list[str]) -> dict[tuple[str, str], str]:
    return runner.run(programs, inputs) if inputs and programs else {}


def public_survivors(view: View, runner: Runner) -> tuple[list[int], int]:
    """Indices of the candidates passing every public example (all when none does), and the calls used."""
    inputs = [e.input for e in view.public]
    outs = _run(runner, view.programs, inputs)
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


def clusters(
    keys: list[str], indices: list[int], outs: dict[tuple[str, str], str], inputs: list[str]
) -> list[list[int]]:
    """Candidates (by index) grouped by their outputs on `inputs`, largest group first."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in indices:
        groups.setdefault(tuple(outs[(keys[i], t)] for t in inputs), []).append(i)
    return sorted(groups.values(), key=len, reverse=True)


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
        outs = _run(runner, survivors, inputs)
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
        outs = _run(runner, view.programs, [t.input for t in tests])
        groups: dict[tuple[bool, ...], list[int]] = {}
        for i, p in enumerate(view.programs):
            groups.setdefault(tuple(outs[(p.key, t.input)] == t.output for t in tests), []).append(i)
        best = max(groups.items(), key=lambda kv: (len(kv[1]) * sum(kv[0]), len(kv[1])))[1]
        return Choice(
            index=rng.choice(best),
            inputs=[t.input for t in tests],
            executions=len(view.programs) * len(tests),
        )


def agreement(
    indices: list[int], keys: list[str], outs: dict[tuple[str, str], str], inputs: list[str]
) -> dict[int, int]:
    """MBR-exec's score: for each candidate, over every input, how many other candidates give its output."""
    score = dict.fromkeys(indices, 0)
    for t in inputs:
        counts: dict[str, int] = {}
        for i in indices:
            counts[outs[(keys[i], t)]] = counts.get(outs[(keys[i], t)], 0) + 1
        for i in indices:
            score[i] += counts[outs[(keys[i], t)]] - 1
    return score


class MbrSelector:
    """MBR-exec: the candidate agreeing most with the others, input by input, on random valid inputs."""

    name = "mbr"

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        keep, used = public_survivors(view, runner)
        n = max(1, (budget - used) // len(view.programs))
        inputs = random_inputs(view.domains, n, rng)
        outs = _run(runner, [view.programs[i] for i in keep], inputs)
        score = agreement(keep, [p.key for p in view.programs], outs, inputs)
        top = max(score.values())
        public = [e.input for e in view.public]
        return Choice(
            index=rng.choice([i for i in keep if score[i] == top]),
            inputs=public + inputs,
            executions=used + len(keep) * len(inputs),
        )


def evidence_choice(
    groups: list[list[int]],
    keys: list[str],
    outs: dict[tuple[str, str], str],
    inputs: list[str],
    rng: random.Random,
    *,
    failures: bool = True,
) -> list[int]:
    """The group with the fewest failures on inputs where another group returns normally, then the one
    agreeing most with the others input by input (MBR-exec's score)."""

    def failed(group: list[int]) -> int:
        count = 0
        for t in inputs:
            mine = outs[(keys[group[0]], t)]
            if mine.startswith("!") and any(not outs[(keys[g[0]], t)].startswith("!") for g in groups):
                count += 1
        return count

    every = [i for g in groups for i in g]
    agree = agreement(every, keys, outs, inputs)
    scored = [((failed(g) if failures else 0, -agree[g[0]]), g) for g in groups]
    best = min(score for score, _ in scored)
    return rng.choice([g for score, g in scored if score == best])


class SearchSelector:
    """The discriminative input search (see the module docstring). `batch` inputs are tried per round,
    a share `explore` of them fresh samples, the rest mutations (two thirds of splitting inputs); the
    search stops when the budget is spent or `patience` rounds in a row found no new valid input."""

    name = "search"

    def __init__(
        self,
        batch: int = 8,
        initial: int = 4,
        patience: int = 8,
        explore: float = 0.5,
        failures: bool = False,
    ) -> None:
        self.batch, self.initial, self.patience = batch, initial, patience
        self.explore, self.failures = explore, failures

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        keep, used = public_survivors(view, runner)
        keys = [p.key for p in view.programs]
        public = [e.input for e in view.public]
        if len(keep) == 1:
            return Choice(index=keep[0], inputs=public, executions=used)
        progs = [view.programs[i] for i in keep]
        k = len(progs)
        inputs: list[str] = []
        args_of: dict[str, tuple[Any, ...]] = {}
        splitting: list[str] = []
        outs: dict[tuple[str, str], str] = {}
        proposed = valid_n = 0

        def partition(extra: list[str]) -> int:
            return len(clusters(keys, keep, outs, inputs + extra))

        def split_of(text: str) -> tuple[tuple[int, ...], ...]:
            return tuple(tuple(g) for g in clusters(keys, keep, outs, [text]))

        def propose(n: int) -> list[tuple[Any, ...]]:
            out = []
            for _ in range(n):
                roll = rng.random()
                if roll < self.explore or not inputs:
                    out.append(sample(view.domains, rng))
                elif splitting and roll < self.explore + (1 - self.explore) * 0.67:
                    out.append(mutate(args_of[rng.choice(splitting)], view.domains, rng))
                else:
                    out.append(mutate(args_of[rng.choice(inputs)], view.domains, rng))
            return out

        round_size, stale = self.initial, 0
        while used + k * round_size <= budget and stale < self.patience:
            fresh: list[str] = []
            for args in propose(round_size):
                proposed += 1
                text = repr(args)
                if valid(view.domains, args):
                    valid_n += 1
                    if text not in args_of:
                        args_of[text] = args
                        fresh.append(text)
            round_size = self.batch
            stale = 0 if fresh else stale + 1  # a small domain runs out of new inputs
            if not fresh:
                continue
            outs.update(_run(runner, progs, fresh))
            used += k * len(fresh)
            for text in fresh:
                before = partition([])
                inputs.append(text)
                if partition([]) > before:
                    small, spent = self._shrink(
                        text, args_of, split_of, view, runner, progs, outs, budget - used
                    )
                    used += spent
                    splitting.append(small)
                    if small != text:
                        inputs.append(small)
        groups = clusters(keys, keep, outs, inputs)
        best = evidence_choice(groups, keys, outs, inputs, rng, failures=self.failures)
        return Choice(
            index=rng.choice(best),
            inputs=public + inputs,
            executions=used,
            proposed=proposed,
            valid_inputs=valid_n,
        )

    def _shrink(
        self,
        text: str,
        args_of: dict[str, tuple[Any, ...]],
        split_of: Callable[[str], tuple[tuple[int, ...], ...]],
        view: View,
        runner: Runner,
        progs: list[Program],
        outs: dict[tuple[str, str], str],
        left: int,
    ) -> tuple[str, int]:
        """The smallest valid neighbour of a splitting input that splits the candidates the same way
        (one round of `shrink`, within the calls `left`); the input itself when none does. Also returns
        the calls spent."""
        target = split_of(text)
        variants = [v for v in shrink(args_of[text]) if valid(view.domains, v) and repr(v) not in args_of]
        variants = sorted(variants, key=size)[: max(0, left // len(progs))]
        if not variants:
            return text, 0
        texts = [repr(v) for v in variants]
        outs.update(_run(runner, progs, texts))
        for v, t in zip(variants, texts, strict=True):
            if split_of(t) == target:
                args_of[t] = v
                return t, len(progs) * len(texts)
        return text, len(progs) * len(texts)


# The model-free selectors (codet reads `View.tests`; the agent, which needs a model, is `agent.AgentSelector`).
SELECTORS: dict[str, Callable[[], Selector]] = {
    "random": RandomSelector,
    "public": PublicSelector,
    "majority": MajoritySelector,
    "mbr": MbrSelector,
    "codet": CodetSelector,
    "search": SearchSelector,
}
