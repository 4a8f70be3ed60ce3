"""The verifier's agent loop once with the real embedded model (SmolLM2-135M): its answers are rarely a
working generator, so this checks the path (prompt, sandboxed generator run, feedback, trajectory,
reward), not the model's skill."""

from __future__ import annotations

import random

import pytest

from codekiln.verify.agent import AgentSelector, AgentTrajectory
from codekiln.verify.domains import infer_domains
from codekiln.verify.problems import Example
from codekiln.verify.runner import Program, Runner
from codekiln.verify.selectors import View

pytestmark = [pytest.mark.model]  # ~5 s on an idle machine (two 64-token turns)


def test_embedded_model_drives_two_agent_turns() -> None:
    pytest.importorskip("llama_cpp", reason="needs llama-cpp-python (the embedded extra)")
    from codekiln.models import make_model

    model = make_model("embedded", max_tokens=64)
    view = View(
        problem_id="sort",
        statement="def f(xs):\n    '''Return a sorted copy of the list xs.'''\n",
        public=[Example(input="([3, 1, 2],)", output="[1, 2, 3]")],
        domains=infer_domains([([5, -10, 10, 3],), ([],)]),
        programs=[
            Program("def f(xs):\n    return sorted(xs)\n", "f"),
            Program("def f(xs):\n    return sorted(set(xs))\n", "f"),
        ],
    )
    saved: list[AgentTrajectory] = []
    with Runner() as runner:
        choice = AgentSelector(model, turns=2, save=saved.append).select(view, runner, random.Random(0), 64)
    (trajectory,) = saved
    assert len(trajectory.turns) == 2 and all(t.reply for t in trajectory.turns)
    assert [m["role"] for m in trajectory.messages] == ["user", "assistant", "user", "assistant", "user"]
    assert trajectory.reward == (1.0 if any(t.splitting for t in trajectory.turns) else 0.0)
    assert choice.index in (0, 1) and choice.executions <= 64
