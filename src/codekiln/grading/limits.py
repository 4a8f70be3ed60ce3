"""How long one graded test run may take: a multiple of the environment's measured test time, not a
flat limit.

    limit = graded_limit(env)      # seconds: the environment's baseline time x HEADROOM, in [FLOOR_S, ceiling]

A run past its limit scores `timeout` (0) either way; what the limit sets is what a hang costs. A flat
900 s cost 900 CPU-s per sample of a patch that hangs (an agent's infinite loop, a link to /dev/zero
read forever, a thread that never ends), 100 times the real test time of most tasks. The measure is
the environment's baseline (`EnvRecord.steps_s["baseline"]`: the full suite on the clean snapshot, so
at least any graded subset of it, with the guard's own cost, as every graded run has it).

Headroom for a slower or busier machine (CI's, a loaded training cluster): the sandbox's limit is
already load-tolerant (`sandbox.loadclock`: time its processes waited for a CPU is not counted, up to
3 times the limit of wall-clock time), so `HEADROOM` covers a slower CPU and a baseline measured on a
faster one, and `FLOOR_S` the start-up of a short run. The environment's own limit (`TestCommand
.timeout_s`, 900 s unless its profile says otherwise) is the ceiling, and the limit where no time was
measured (a record made before it was kept). An explicit limit (`codekiln eval --timeout`, or
`grade_patch(timeout=...)`) wins; synthesis's gate grades under the environment's own limit, so that no
decision of synthesis reads a measured time.

An exported verifier runs under a timeout of its whole (Harbor's `[verifier] timeout_sec`, swebench's
`run_evaluation --timeout` for a row's eval script), and a resolved tree of a task with a kept twin is
run twice in it (`grading.verifier_twin`): `verifier_limit` gives each run its share, so both fit.
"""

from __future__ import annotations

from codekiln.grading.subject import GradingEnv

HEADROOM = 10.0
"""A graded run may take this many times the environment's measured baseline."""
FLOOR_S = 60.0
"""No derived limit is shorter (process start-up, a short suite measured on a fast machine)."""
START_S = 120.0
"""Of an exported verifier's whole timeout, what is kept for all but its test runs (its container's
start, the patch check, the put-back between two runs)."""


def derived_limit(measured_s: float, ceiling_s: float) -> float:
    """The limit of a run whose tests took `measured_s` when measured (0: never measured: `ceiling_s`)."""
    if measured_s <= 0:
        return ceiling_s
    return min(ceiling_s, max(FLOOR_S, HEADROOM * measured_s))


def graded_limit(env: GradingEnv) -> float:
    """The limit of one graded run of `env`'s tests (see the module docstring)."""
    return derived_limit(float(env.steps_s.get("baseline", 0.0)), env.test.timeout_s)


def verifier_limit(env: GradingEnv, timeout_s: float, runs: int) -> float:
    """The limit of each of an exported verifier's `runs` graded runs (2 where a kept twin is shipped)
    within its whole `timeout_s`, less `START_S`: the derived limit (`graded_limit`) where that fits, its
    share of the rest otherwise, never under `FLOOR_S`."""
    return min(graded_limit(env), max(FLOOR_S, (timeout_s - START_S) / runs))


__all__ = ["FLOOR_S", "HEADROOM", "START_S", "derived_limit", "graded_limit", "verifier_limit"]
