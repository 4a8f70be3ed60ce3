"""Wall time of synthesis's steps up to its first decided batch on one library: where a short
`codekiln synth --max-tasks 3` spends its time before the first task (#15).

    nice -n 10 .venv/bin/python bench/synth_first_batch.py pypi:packaging==26.3 [BATCH]   # default 8
    nice -n 10 .venv/bin/python bench/synth_first_batch.py pypi:packaging==26.3 3 --seeded  # seeded order

Builds (or finds cached) the environment, then times the coverage map (cached when it exists: delete
`coverage-map.json` beside the environment's venv for a cold one), the candidate plan, the candidates'
test selections, and one `Validator.validate` of the first BATCH candidates in synthesis's order
(`selection.cheap_first`; `--seeded`: the seeded order, as before that existed), split
by the methods doing the work (each call is printed as it ends): the warm engine's batches, the fresh
pytest processes inside them (clean-side reruns, bugs run at import), the grader gate's shared run and
real grades, and the decisions. Wall time, not CPU: run it on an idle machine, or say the load.
"""

from __future__ import annotations

import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

WALL: defaultdict[str, float] = defaultdict(float)


def timed(owner: Any, name: str, label: str) -> None:
    """Add the wall time of every call of `owner.name` to WALL[label], printing each call."""
    inner: Callable[..., Any] = getattr(owner, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.monotonic()
        try:
            return inner(*args, **kwargs)
        finally:
            took = time.monotonic() - start
            WALL[label] += took
            print(f"  {label}: +{took:.1f} s", flush=True)

    setattr(owner, name, wrapper)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    spec = args[0]
    batch = int(args[1]) if len(args) > 1 else 8
    from codekiln.envs import build_env
    from codekiln.tasks.synth import SynthConfig, plan_candidates
    from codekiln.tasks.validation import gate, testexec, validate
    from codekiln.tasks.validation.coverage_map import coverage_map
    from codekiln.tasks.validation.selection import ordered_for_synthesis

    for (owner, name), label in [
        ((testexec.WarmExecutor, "run"), "engine batch"),
        ((testexec, "fresh_runs"), "  of which fresh pytest processes"),
        ((gate.GraderGate, "shared_run"), "gate: shared grader run"),
        ((gate.GraderGate, "exact_verdict"), "gate: real grades"),
        ((validate.Validator, "decide"), "decisions"),
    ]:
        timed(owner, name, label)
    start = time.monotonic()
    env = build_env(spec)
    print(f"environment {time.monotonic() - start:.1f} s; baseline tests {len(env.baseline)}", flush=True)
    step = time.monotonic()
    cmap = coverage_map(env)
    print(f"coverage map {time.monotonic() - step:.1f} s; tests mapped {len(cmap.tests)}", flush=True)
    step = time.monotonic()
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=spec, out=Path("unused")))
    if "--seeded" not in sys.argv:  # synthesis's own order (the cheapest first: `selection.cheap_first`)
        candidates = ordered_for_synthesis(
            candidates, cmap, env.baseline, {e.id: e for e in entities}, Path(env.snapshot_path)
        )
    print(f"plan {time.monotonic() - step:.1f} s; {len(entities)} entities, {len(candidates)} candidates")
    with validate.Validator(env, cmap, entities) as validator:
        for cand in candidates[:batch]:
            print(f"  selected {len(validator.select(cand))} tests for {cand.entities[0]}", flush=True)
        step = time.monotonic()
        decisions = validator.validate(candidates[:batch])
    print(f"first batch {time.monotonic() - step:.1f} s", flush=True)
    for decision in decisions:
        print("   ", getattr(decision, "reason", "task"), decision.candidate_id)
    print({k: round(v, 1) for k, v in WALL.items()}, f"total {time.monotonic() - start:.1f} s")


if __name__ == "__main__":
    main()
