"""The model-free discriminative verifier: search for valid inputs that tell the leading candidates apart,
then choose by reference-free evidence.

    choice = SearchSelector().select(view, runner, rng, budget=8 * 32)

After the public-example filter:

1. A share `first` of the budget runs random valid inputs (drawn from the domains) on every survivor.
2. The rest goes to the contenders: the candidates of the `top` best-ranked behaviour groups (see
   `evidence.rank`; the next group joins while they are fewer than two). Each round proposes `batch`
   new valid inputs (fresh samples; with probability `mutate_share`, off by default, a mutation of an
   input that split the candidates) and runs them on the contenders only. An input on which the
   contenders disagree is run on every other survivor too (those splitting the leading group first,
   and the round is sized to leave room for one) and joins the evidence; the others are only reported
   in `Choice.inputs`. An input on which every contender gives the same output cannot change their
   order (each gets the same agreement and failure count from it), so the budget buys several times
   the inputs that running each on all K candidates would.
3. The choice: a member of the best-ranked group (`evidence.rank`: fewest failures on inputs whose
   commonest output is not a failure, then MBR-exec agreement).

Measured (`bench/verify.py`, README; paired over the same K-subsets, `metrics.paired_gap`): at 32
calls per candidate it is level with MBR-exec at K=4-16 (+0.008 [-0.02,+0.04] at K=4) and ahead at K=2
(+0.033 [+0.01,+0.06]); at 8 calls per candidate it is ahead (Best@8 0.38 against 0.29, +0.086
[+0.02,+0.16]), which is what focusing buys. Mutating splitting inputs did not help on the dev problems
(80-163, noise-level differences); the earlier search (mutation and shrinking of splitting inputs,
agreement over the inputs it found) trailed MBR-exec (0.350 against 0.393 at K=8). No other choice
rule did better than the one in `evidence` (its docstring has the table, `bench/verify_rules.py` the
code): the evidence, not the search, is the limit.
"""

from __future__ import annotations

import ast
import random

from codekiln.verify.domains import mutate, sample, valid
from codekiln.verify.evidence import clusters, rank
from codekiln.verify.runner import Runner
from codekiln.verify.selectors import Choice, View, public_survivors, random_inputs, run_all


class SearchSelector:
    """See the module docstring. The search stops when the budget is spent or `patience` rounds in a row
    proposed no new valid input (a small domain runs out)."""

    name = "search"

    def __init__(
        self,
        first: float = 0.4,
        top: int = 2,
        batch: int = 4,
        mutate_share: float = 0.0,
        patience: int = 8,
    ) -> None:
        self.first, self.top, self.batch = first, top, batch
        self.mutate_share, self.patience = mutate_share, patience

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        keep, used = public_survivors(view, runner)
        keys = [p.key for p in view.programs]
        public = [e.input for e in view.public]
        if len(keep) == 1:
            return Choice(index=keep[0], inputs=public, executions=used)
        per = max(1, (budget - used) // len(keep))
        inputs = random_inputs(view.domains, max(1, int(per * self.first)), rng)
        outs = run_all(runner, [view.programs[i] for i in keep], inputs)
        used += len(keep) * len(inputs)
        proposed = valid_n = len(inputs)
        seen = set(inputs)
        tried = list(inputs)
        splitting = [t for t in inputs if len({outs[(keys[i], t)] for i in keep}) > 1]
        stale = 0
        while stale < self.patience:
            tiers = rank(clusters(keys, keep, outs, inputs), keys, outs, inputs)
            contenders = [i for tier in tiers for g in tier for i in g][: self._width(tiers)]
            rest = [view.programs[i] for i in keep if i not in contenders]
            # leave room to run one telling input on the rest
            room = min(self.batch, (budget - used - len(rest)) // max(1, len(contenders)))
            if len(contenders) < 2 or room < 1:
                break
            fresh: list[str] = []
            for _ in range(room * 4):
                if len(fresh) >= room:
                    break
                if rng.random() < self.mutate_share:
                    parent = rng.choice(splitting or tried)
                    args = mutate(ast.literal_eval(parent), view.domains, rng)
                else:
                    args = sample(view.domains, rng)
                proposed += 1
                text = repr(args)
                if valid(view.domains, args):
                    valid_n += 1
                    if text not in seen:
                        seen.add(text)
                        fresh.append(text)
            stale = 0 if fresh else stale + 1
            if not fresh:
                continue
            tried += fresh
            part = run_all(runner, [view.programs[i] for i in contenders], fresh)
            used += len(contenders) * len(fresh)
            telling = [t for t in fresh if self._tells(part, [keys[i] for i in contenders], t)]
            leader = [keys[i] for i in tiers[0][0]]
            telling.sort(key=lambda t: not self._tells(part, leader, t))  # splitting the leader first
            if rest:
                telling = telling[: max(0, (budget - used) // len(rest))]
                outs.update(run_all(runner, rest, telling))
                used += len(rest) * len(telling)
            outs.update({k: v for k, v in part.items() if k[1] in telling})
            inputs += telling
            splitting += telling
        best = rng.choice(rank(clusters(keys, keep, outs, inputs), keys, outs, inputs)[0])
        return Choice(
            index=rng.choice(best),
            inputs=public + tried,
            executions=used,
            proposed=proposed,
            valid_inputs=valid_n,
        )

    def _width(self, tiers: list[list[list[int]]]) -> int:
        """How many candidates contend: those of the `top` best-ranked groups (ties in rank order), and
        the next group's too while that makes fewer than two."""
        groups = [g for tier in tiers for g in tier]
        n = sum(len(g) for g in groups[: self.top])
        return n if n >= 2 or len(groups) <= self.top else n + len(groups[self.top])

    @staticmethod
    def _tells(outs: dict[tuple[str, str], str], keys: list[str], text: str) -> bool:
        """True when the contenders disagree on the input (all failing alike leaves their order as it is)."""
        return len({outs[(k, text)] for k in keys}) > 1
