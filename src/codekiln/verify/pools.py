"""Candidate pools with known correctness: model samples and near-miss mutants of the reference, labelled
by a large hidden test set.

    pool = build_pool(problem, runner, mutants=15, model=None, samples=0, seed=0)
    [c.correct for c in pool.candidates]

Candidates: the reference itself (one correct program, as a model's right answer would be), up to
`mutants` mutants of it made by codekiln's mutators (`codekiln.tasks.frontend.mutators`) inside the
entry point's body (second-order ones when first-order ones run out), and `samples` completions from
any model backend (`--model`). With `hard` (the default) only mutants that pass every public example
are kept: near misses that the public-example filter cannot tell from a right answer, which is
where verifiers differ. Labels: every
candidate runs on the hidden set: the problem's test inputs plus `random_inputs` generated inputs
inside the domains on which the reference returns normally; a candidate is correct when its
normalised output equals the reference's on every one. A mutant that agrees everywhere is
equivalent, and labelled correct. Public examples the reference disagrees with (HumanEval has a few
wrong docstrings) are dropped from the record the selectors see.
"""

from __future__ import annotations

import ast
import random
import re
from typing import Any

from pydantic import BaseModel

from codekiln.core.pyast import parse as parse_ast
from codekiln.core.records import Record
from codekiln.tasks.frontend.mutators import SourceFile, apply_edits, code_mutators
from codekiln.verify.domains import sample, valid
from codekiln.verify.problems import Example, Problem
from codekiln.verify.runner import Program, Runner

PROMPT = (
    "Complete this Python function. Answer with the whole function in one ```python code block.\n\n"
    "```python\n{statement}```"
)
_CODE_RE = re.compile(r"```(?:python|py)?\n(.*?)```", re.S)


class Candidate(BaseModel):
    """One program of a pool, with its hidden label."""

    cid: str
    origin: str
    """"reference", "mutant:<mutator>" or "model:<spec>"."""
    code: str
    correct: bool
    """Agrees with the reference on every hidden input (hidden from selectors)."""
    wrong_on: int
    """How many hidden inputs it disagrees on."""


class Pool(Record):
    """A problem's candidates and the size of the hidden set that labelled them."""

    problem_id: str
    entry_point: str
    candidates: list[Candidate]
    hidden_inputs: int
    public: list[Example]
    """The public examples the reference agrees with (what selectors may use)."""

    def programs(self) -> list[Program]:
        return [Program(c.code, self.entry_point) for c in self.candidates]


def _entry_node(tree: ast.Module, entry: str) -> ast.FunctionDef | None:
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == entry:
            return node
    return None


def _first_order(text: str, entry: str, rng: random.Random) -> list[tuple[str, str]]:
    """Every mutant one mutator makes at one site of `entry`'s body, in random order."""
    src = SourceFile("reference.py", text)
    func = _entry_node(src.tree, entry)
    if func is None:
        return []
    options: list[tuple[str, ast.AST, Any]] = []
    for mutator in code_mutators():
        for site in mutator.sites(func, src):
            options.append((mutator.name, site, mutator))
    rng.shuffle(options)
    out = []
    for name, site, mutator in options:
        edits = mutator.mutate(site, random.Random(rng.random()), src)
        if edits:
            try:
                out.append((name, apply_edits(text, edits)))
            except ValueError:
                continue
    return out


def mutants(problem: Problem, limit: int, rng: random.Random) -> list[tuple[str, str]]:
    """Up to `limit` distinct (mutators, program) mutants of the reference's entry-point body: first-order
    ones, then (when those run out) second-order ones made by mutating a first-order mutant again."""
    seen = {ast.dump(parse_ast(problem.reference))}
    out: list[tuple[str, str]] = []
    parents = [("", problem.reference)]
    for _order in range(2):
        children: list[tuple[str, str]] = []
        for prefix, parent in parents:
            for name, text in _first_order(parent, problem.entry_point, rng):
                try:
                    key = ast.dump(parse_ast(text))
                except SyntaxError:
                    continue
                if key not in seen:
                    seen.add(key)
                    children.append((f"{prefix}+{name}" if prefix else name, text))
        rng.shuffle(children)
        out += children[: limit - len(out)]
        if len(out) >= limit:
            break
        parents = children[:limit]
    return out


def extract_code(text: str) -> str:
    """The last fenced code block of a model's answer (or the whole answer when there is none)."""
    blocks = _CODE_RE.findall(text)
    return blocks[-1] if blocks else text


def model_samples(problem: Problem, model: Any, n: int) -> list[str]:
    """`n` completions of the problem from a codekiln model (see `codekiln.models.make_model`)."""
    messages = [{"role": "user", "content": PROMPT.format(statement=problem.statement)}]
    out = []
    for i in range(n):
        reply = model.chat(messages, None, seed=i, temperature=0.8)
        out.append(problem.program(extract_code(reply.text)).code)
    return out


def hidden_inputs(problem: Problem, runner: Runner, n_random: int, rng: random.Random) -> list[str]:
    """The labelling set: the problem's test inputs plus generated in-domain inputs on which the
    reference returns normally (not counted as executions of any selector)."""
    fresh = {
        repr(a)
        for a in (sample(problem.domains, rng) for _ in range(n_random * 2))
        if valid(problem.domains, a)
    }
    generated = sorted(fresh - set(problem.hidden))[:n_random]
    ref = problem.reference_program
    outs = runner.run([ref], generated)
    return list(problem.hidden) + [t for t in generated if not outs[(ref.key, t)].startswith("!")]


def build_pool(
    problem: Problem,
    runner: Runner,
    *,
    mutants_n: int = 15,
    hard: bool = True,
    model: Any = None,
    model_name: str = "",
    samples: int = 0,
    random_inputs: int = 200,
    seed: int = 0,
) -> Pool:
    """The labelled candidate pool of one problem (see the module docstring)."""
    rng = random.Random(f"{problem.problem_id}:{seed}")
    programs: list[tuple[str, str]] = [("reference", problem.reference)]
    pool_size = mutants_n * 4 if hard else mutants_n
    programs += [(f"mutant:{name}", text) for name, text in mutants(problem, pool_size, rng)]
    if model is not None and samples:
        programs += [(f"model:{model_name}", text) for text in model_samples(problem, model, samples)]
    ref = problem.reference_program
    progs = [Program(text, problem.entry_point) for _, text in programs]
    first = runner.run([*progs, ref], [e.input for e in problem.public])
    public = [e for e in problem.public if first[(ref.key, e.input)] == e.output]
    kept: list[int] = []
    for i, (origin, _text) in enumerate(programs):
        if origin.startswith("mutant:"):
            near_miss = all(first[(progs[i].key, e.input)] == e.output for e in public)
            if sum(programs[j][0].startswith("mutant:") for j in kept) >= mutants_n or (
                hard and not near_miss
            ):
                continue
        kept.append(i)
    inputs = hidden_inputs(problem, runner, random_inputs, rng)
    outs = runner.run([*(progs[i] for i in kept), ref], inputs)
    candidates = []
    for i in kept:
        wrong = sum(outs[(progs[i].key, t)] != outs[(ref.key, t)] for t in inputs)
        origin, text = programs[i]
        candidates.append(
            Candidate(cid=f"c{i}", origin=origin, code=text, correct=wrong == 0, wrong_on=wrong)
        )
    return Pool(
        problem_id=problem.problem_id,
        entry_point=problem.entry_point,
        candidates=candidates,
        hidden_inputs=len(inputs),
        public=public,
    )
