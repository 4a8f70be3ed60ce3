"""Where the default path's validation CPU goes, per phase and per kind of warm job: the profile to
read before choosing a speed lever for `bench/synth.py`'s headline (py-spy is not installed here).

    nice -n 10 .venv/bin/python bench/synth_profile.py            # 150 toolz candidates, warm map

Validates the candidates `bench/synth.py` uses (toolz 1.2.0, seed 0, the first 150) with the default
`ValidateConfig` (the grader gate) in batches of 32, as `bench/decisions.py` does, and prints:
- per phase, CPU seconds by the cgroup clock of `bench/synth.py` (this process and everything it
  starts, sandboxes included), each phase timed around the method that does it: the warm engine's
  batches, the clean side's fresh reruns, the gate's shared grader run, its in-memory checks, the
  audit's real grades, and the decisions (verdict, statements);
- the host process's own CPU (codekiln's Python, every thread: selection, the decisions, the gate's
  in-memory checks, the supervision of sandbox commands), apart from the sandboxes', which the cgroup
  total holds too: host-side changes are read there, less moved by other jobs' load;
- per kind of warm job (a bug swapped in, a bug re-imported because its code runs at import time,
  a selection's clean run), the jobs, their tests and their CPU inside the sandbox
  (`JobResult.cpu_s`: the runner's work and the forked child's resource usage).
The coverage map is loaded from its cache (its cold cost is `bench/synth.py`'s "coverage map" line).
Phases overlap nowhere except that the engine's batches hold the fresh reruns (listed inside them).
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from synth import SPEC, Clock

LABELS = [
    "engine batches (warm jobs + fresh reruns)",
    "  of which the clean side's fresh reruns",
    "gate: shared grader run",
    "gate: in-memory checks",
    "gate: the audit's real grades",
    "decisions (verdict, statements)",
]


def timed(owner: Any, name: str, label: str, clock: Clock, cpu: defaultdict[str, float]) -> None:
    """Add the CPU seconds of every call of `owner.name` to `cpu[label]`."""
    inner: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = clock.cpu() or 0.0
        try:
            return inner(*args, **kwargs)
        finally:
            cpu[label] += (clock.cpu() or 0.0) - start

    setattr(owner, name, wrapper)


def main() -> None:
    from codekiln.envs import build_env
    from codekiln.tasks.synth import SynthConfig, plan_candidates
    from codekiln.tasks.validation import gate, testexec, validate
    from codekiln.tasks.validation.coverage_map import coverage_map

    clock = Clock()
    if clock.group is None:
        sys.exit(
            "no cgroup-v1 cpuacct group could be made: this profile needs the cgroup clock (run as root)"
        )
    env = build_env(SPEC)
    cmap = coverage_map(env)
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=SPEC, out=Path("unused")))
    candidates = candidates[:150]
    cpu: defaultdict[str, float] = defaultdict(float)
    jobs: defaultdict[str, float] = defaultdict(float)
    phases = [
        (testexec.WarmExecutor, "run"),
        (testexec, "fresh_runs"),
        (gate.GraderGate, "shared_run"),
        (gate.GraderGate, "shortcut"),
        (gate.GraderGate, "exact_verdict"),
        (validate.Validator, "decide"),
    ]
    for (owner, name), label in zip(phases, LABELS, strict=True):
        timed(owner, name, label, clock, cpu)
    run_warm = testexec.WarmExecutor._run_warm

    def counted(self: testexec.WarmExecutor, batch: list[testexec.Job]) -> dict[str, testexec.JobResult]:
        results = run_warm(self, batch)
        for job in batch:
            kind = "clean run" if job.id.startswith("gold:") else "re-imported bug" if job.reimport else "bug"
            jobs[f"{kind}: jobs"] += 1
            jobs[f"{kind}: tests"] += len(job.tests)
            jobs[f"{kind}: CPU s"] += results[job.id].cpu_s
        return results

    testexec.WarmExecutor._run_warm = counted  # type: ignore[method-assign,assignment]
    try:
        start, host = clock.cpu() or 0.0, time.process_time()
        with validate.Validator(env, cmap, entities, validate.ValidateConfig()) as validator:
            for i in range(0, len(candidates), 32):
                validator.validate(candidates[i : i + 32])
        total, host = (clock.cpu() or 0.0) - start, time.process_time() - host
    finally:
        clock.close()
    print(f"validation of {len(candidates)} candidates of {SPEC}: {total:.2f} CPU s (cgroup)")
    print(f"  of which the host process (codekiln's own Python): {host:.2f}")
    for label in LABELS:
        print(f"  {label}: {cpu[label]:.2f}")
    print("warm jobs inside the sandbox (the runner's work and each forked child's resource usage):")
    for kind in ("bug", "re-imported bug", "clean run"):
        n, tests, seconds = (jobs[f"{kind}: {k}"] for k in ("jobs", "tests", "CPU s"))
        per = f", {1000 * seconds / n:.0f} ms per job" if n else ""
        print(f"  {kind}: {n:.0f} jobs, {tests:.0f} tests, {seconds:.2f} CPU s{per}")


if __name__ == "__main__":
    main()
