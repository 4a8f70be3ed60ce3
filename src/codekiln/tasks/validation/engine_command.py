"""The test command synthesis's own runs use (the coverage map and validation's runs), never the
grader's: the repository's command, less what only times the code.

    command = engine_command(env.test, env.packages)   # env.test with `--benchmark-disable` where it applies

pytest-benchmark's `benchmark` fixture runs the function it times in rounds until a time budget is spent
(about a second a test by default), and under the coverage tracer each round is slower still: mapping
multidict 7.2.1 spent 783 of its 1,025 test-seconds in its 357 benchmark tests (3 files of 36), the rest of
its 3,494 sampled tests a median 15 ms. What a bug changes, and which lines a test runs, one call shows:
`--benchmark-disable` runs each timed function once, as a plain test. The map's durations then measure
those same runs, so validation's timeouts, scaled from them, hold for its runs, which take the same
option. The grader agents face runs the repository's command unchanged, so every task's gold and empty
patches are still confirmed on the suite as its maintainers run it (the gate). An environment without
pytest-benchmark, or whose command turns it off or on already, keeps its command.
"""

from __future__ import annotations

from collections.abc import Iterable

from codekiln.envs.deps import dist_name
from codekiln.grading import TestCommand

BENCHMARK_OFF = "--benchmark-disable"
"""pytest-benchmark's option: every benchmarked function runs once, untimed."""


def engine_command(test: TestCommand, packages: Iterable[str]) -> TestCommand:
    """`test` with BENCHMARK_OFF added where the environment has pytest-benchmark (`packages`: its pip
    freeze) and the command does not already say whether to benchmark (see the module docstring)."""
    if not any(dist_name(p) == "pytest-benchmark" for p in packages):
        return test
    if any(
        a.startswith(("--benchmark-disable", "--benchmark-enable", "--benchmark-skip", "--benchmark-only"))
        for a in test.args
    ):
        return test
    return test.model_copy(update={"args": [*test.args, BENCHMARK_OFF]})


__all__ = ["BENCHMARK_OFF", "engine_command"]
