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
"""

from __future__ import annotations

from codekiln.grading.subject import GradingEnv

HEADROOM = 10.0
"""A graded run may take this many times the environment's measured baseline."""
FLOOR_S = 60.0
"""No derived limit is shorter (process start-up, a short suite measured on a fast machine)."""


def derived_limit(measured_s: float, ceiling_s: float) -> float:
    """The limit of a run whose tests took `measured_s` when measured (0: never measured: `ceiling_s`)."""
    if measured_s <= 0:
        return ceiling_s
    return min(ceiling_s, max(FLOOR_S, HEADROOM * measured_s))


def graded_limit(env: GradingEnv) -> float:
    """The limit of one graded run of `env`'s tests (see the module docstring)."""
    return derived_limit(float(env.steps_s.get("baseline", 0.0)), env.test.timeout_s)


__all__ = ["FLOOR_S", "HEADROOM", "derived_limit", "graded_limit"]
