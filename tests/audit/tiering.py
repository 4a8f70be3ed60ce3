"""Which paths a red-team test of one patch runs by default, and which in the slow tier (`--run-slow`).

The agent path (`codekiln.audit.grader.play_commands`) replays a test's patch through `git apply` in a
scripted episode and grades the change it reads back: the grader meets the same patch as the test's
predictions case, which runs by default. The read-back itself runs by default in `test_redteam.py`
(the gold and each class's first attack through the agent path, on both libraries), so a module's own
agent case checks nothing the default tier does not, at the cost of a sandbox and a grade. Those cases
run in the slow tier, the skip naming the default tests that cover them.
"""

from __future__ import annotations

from typing import Any

import pytest

AGENT_COVER = (
    "test_redteam.py::test_the_gold_patch_resolves_in_the_same_harness and "
    "test_redteam.py::test_attack_is_not_scored_resolved (each class's first attack) drive the agent path"
)


def agent_case(module: str, test: str) -> Any:
    """The slow mark of `module`'s `test` through the agent path, naming its default cover."""
    cover = f"{module}::{test}'s predictions case grades the same patch; {AGENT_COVER}"
    return pytest.mark.slow(covered_by=cover)


def paths(module: str, test: str) -> list[Any]:
    """`PATHS` as parameters of `module`'s `test`: the predictions path by default, the agent path in
    the slow tier (see the module docstring)."""
    return [
        pytest.param("predictions", id="predictions"),
        pytest.param("agent", id="agent", marks=agent_case(module, test)),
    ]
