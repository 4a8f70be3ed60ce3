"""The verifier as an agent loop: a model writes an input generator, sees how the candidates split on
its inputs, and refines it; the inputs found then select a candidate as the search's do.

    selector = AgentSelector(make_model("embedded"), turns=3, save=trajectories.append)
    choice = selector.select(view, runner, rng, budget)

Each turn the model answers with a ```python block defining `gen()`, which returns a list of argument
tuples. The generator runs in the execution worker (sandboxed, with the per-call limits; it never
runs on the host); its inputs are checked by the problem's validator (`domains.valid`), the valid
new ones are run on the candidates (within the selection's budget), and the model is told how many
were valid and how many behaviour groups the candidates now form, with an input that split them.

Reward, for RL on this loop (e.g. the GRPO stage, one trajectory per sample): `reward(trajectory)` is
1.0 when the trajectory found at least one valid distinguishing input (a valid input on which two
candidates' outputs differ), else 0.0. Every trajectory (messages, turns, reward) is handed to `save`.
"""

from __future__ import annotations

import ast
import random
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from codekiln.core.records import Record
from codekiln.verify.domains import valid
from codekiln.verify.evidence import clusters, rank
from codekiln.verify.pools import extract_code
from codekiln.verify.runner import Program, Runner
from codekiln.verify.selectors import Choice, View, public_survivors

PROMPT = """Several candidate programs implement this function; some are wrong. Find inputs on which they \
behave differently. Answer with one ```python code block defining `gen()`, which returns a list of \
argument tuples for `{entry}` (at most {per_turn}), e.g. `def gen():\\n    return [({example},)]`.

```python
{statement}```"""

FEEDBACK = """Your generator gave {made} inputs, {valid} valid and new. The {k} candidates now form {groups} \
behaviour groups (before: {before}).{split} Write an improved `gen()` to split them further."""


class Turn(BaseModel):
    """One model turn: what it wrote and what its inputs did."""

    reply: str
    error: str | None = None
    made: int = 0
    valid: int = 0
    groups_before: int = 1
    groups_after: int = 1
    splitting: list[str] = []


class AgentTrajectory(Record):
    """One selection by the agent: the conversation, its turns, the reward, the pick."""

    problem_id: str
    messages: list[dict[str, Any]]
    turns: list[Turn]
    reward: float
    choice: int


def reward(turns: list[Turn]) -> float:
    """1.0 when some turn found a valid input that splits the candidates, else 0.0."""
    return 1.0 if any(t.splitting for t in turns) else 0.0


def _inputs_of(text: str) -> list[tuple[Any, ...]]:
    """Argument tuples from a generator's normalised output (a literal list; non-tuples become 1-tuples)."""
    value = ast.literal_eval(text)
    if not isinstance(value, list | tuple):
        raise ValueError("gen() must return a list of argument tuples")
    return [item if isinstance(item, tuple) else (item,) for item in value]


class AgentSelector:
    """See the module docstring. `turns` model calls per selection, at most `per_turn` inputs each."""

    name = "agent"

    def __init__(
        self,
        model: Any,
        *,
        turns: int = 3,
        per_turn: int = 8,
        save: Callable[[AgentTrajectory], None] | None = None,
    ) -> None:
        self.model, self.turns, self.per_turn, self.save = model, turns, per_turn, save

    def select(self, view: View, runner: Runner, rng: random.Random, budget: int) -> Choice:
        keep, used = public_survivors(view, runner)
        keys = [p.key for p in view.programs]
        progs = [view.programs[i] for i in keep]
        example = view.public[0].input.strip("(),") if view.public else "..."
        entry = view.programs[0].entry
        prompt = PROMPT.format(entry=entry, per_turn=self.per_turn, example=example, statement=view.statement)
        messages: list[dict[str, Any]] = [{"role": "user", "content": prompt}]
        inputs: list[str] = []
        outs: dict[tuple[str, str], str] = {}
        turns: list[Turn] = []
        proposed = valid_n = 0
        for _ in range(self.turns):
            if used + len(progs) > budget:
                break
            reply = self.model.chat(messages, None)
            messages.append({"role": "assistant", "content": reply.text})
            turn = Turn(reply=reply.text, groups_before=len(clusters(keys, keep, outs, inputs)))
            gen = Program(extract_code(reply.text), "gen")
            produced = runner.run([gen], ["()"])[(gen.key, "()")]
            try:
                if produced.startswith("!"):
                    raise ValueError(f"gen() failed: {produced[1:]}")
                made = _inputs_of(produced)
            except (ValueError, SyntaxError) as err:
                turn.error = str(err)
                messages.append(
                    {"role": "user", "content": f"{err}. Define gen() returning a list of tuples."}
                )
                turns.append(turn)
                continue
            turn.made = len(made)
            proposed += len(made)
            room = max(0, (budget - used) // len(progs))
            fresh = [repr(a) for a in made if valid(view.domains, a)]
            fresh = [t for t in dict.fromkeys(fresh) if t not in inputs][: min(self.per_turn, room)]
            turn.valid = len(fresh)
            valid_n += len(fresh)
            if fresh:
                outs.update(runner.run(progs, fresh))
                used += len(progs) * len(fresh)
            for text in fresh:
                if len({outs[(p.key, text)] for p in progs}) > 1:
                    turn.splitting.append(text)
            inputs += fresh
            turn.groups_after = len(clusters(keys, keep, outs, inputs))
            split = f" For example {turn.splitting[0]} split them." if turn.splitting else ""
            messages.append(
                {
                    "role": "user",
                    "content": FEEDBACK.format(
                        made=turn.made,
                        valid=turn.valid,
                        k=len(progs),
                        groups=turn.groups_after,
                        before=turn.groups_before,
                        split=split,
                    ),
                }
            )
            turns.append(turn)
        groups = clusters(keys, keep, outs, inputs)
        index = rng.choice(rng.choice(rank(groups, keys, outs, inputs)[0]))
        if self.save is not None:
            self.save(
                AgentTrajectory(
                    problem_id=view.problem_id,
                    messages=messages,
                    turns=turns,
                    reward=reward(turns),
                    choice=index,
                )
            )
        public = [e.input for e in view.public]
        return Choice(
            index=index, inputs=public + inputs, executions=used, proposed=proposed, valid_inputs=valid_n
        )
