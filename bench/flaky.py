"""Benchmark: how many `flaky` verdicts of the validation engine fresh-process reruns confirm.

    PYTHONPATH=src nice -n 10 .venv/bin/python bench/flaky.py pypi:toolz==1.2.0 --candidates 60
    PYTHONPATH=src nice -n 10 .venv/bin/python bench/flaky.py pypi:boltons==25.0.0 --check all

Plans the candidates as `codekiln synth` does (seed 0, the first `--candidates` of the seeded list),
validates them in batches of 32 with the default engine and the fast gate (`ValidateConfig(gate=
"fast")`), then checks verdicts against the reference: fresh-process reruns, made here with
`grading.run_tests` alone (nothing of the validation engine), each run a new pytest process with its
own PYTHONHASHSEED and its own test order, on a workspace reset before each candidate. A candidate is
flaky by the reference when one of its first run's failing tests passes in a rerun with the bug
(`--reruns` runs), or a selected test passes in some but not all clean runs. With `--check flaky`
(the default) only the engine's `flaky` verdicts are checked: an unconfirmed one is spurious. With
`--check all` every candidate the engine decided from its runs is checked, which also counts
flakiness the engine missed. Prints the counts and the spurious rate (spurious / candidates).

The script uses only APIs that predate issue #24, so pointing PYTHONPATH at an older checkout's src
measures that code against the same reference.
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

SEEDS = [101, 202, 303, 404, 505]


def reference_runs(sandbox, command, tests, files, reruns, timeout):  # type: ignore[no-untyped-def]
    """`reruns` fresh-process runs of `tests` with `files` in place, each its own seed and order."""
    from codekiln.grading import run_tests

    sandbox.reset()
    for rel, text in files.items():
        sandbox.write_file(rel, text)
    runs = []
    for n in range(reruns):
        seed = SEEDS[n % len(SEEDS)]
        order = random.Random(seed).sample(tests, len(tests))
        env = {**command.env, "PYTHONHASHSEED": str(seed), "PYTHONDONTWRITEBYTECODE": "1"}
        runs.append(run_tests(sandbox, command.model_copy(update={"env": env}), order, timeout=timeout))
    return runs


def reference_flaky(validator, cand, decision, reruns, clean_cache):  # type: ignore[no-untyped-def]
    """The tests that fresh-process reruns find unstable for one decided candidate."""
    v = decision.validation
    tests = sorted(v.after)
    failing = [t for t in tests if v.after[t] != "passed"]
    timeout = max(60.0, 20 * validator.cmap.duration(tests))
    unstable = set()
    if failing:
        files = validator.buggy_files(cand)
        for run in reference_runs(validator.sandbox, validator.env.test, failing, files, reruns, timeout):
            unstable |= {t for t in failing if run.statuses.get(t) == "passed"}
    key = tuple(tests)
    if key not in clean_cache:
        runs = reference_runs(validator.sandbox, validator.env.test, tests, {}, reruns, timeout)
        passes = [{t for t in tests if r.statuses.get(t) == "passed"} for r in runs]
        clean_cache[key] = {t for t in tests if 0 < sum(t in p for p in passes) < len(runs)}
    return unstable | clean_cache[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default="pypi:toolz==1.2.0")
    parser.add_argument("--candidates", type=int, default=60)
    parser.add_argument("--reruns", type=int, default=3, help="reference runs per side")
    parser.add_argument("--check", choices=["flaky", "all"], default="flaky")
    args = parser.parse_args()

    from codekiln.envs import build_env
    from codekiln.tasks.records import RejectedCandidate, RejectReason
    from codekiln.tasks.synth import SynthConfig, plan_candidates
    from codekiln.tasks.validation.coverage_map import coverage_map
    from codekiln.tasks.validation.validate import ValidateConfig, Validator

    env = build_env(args.spec)
    cmap = coverage_map(env)
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=args.spec, out=Path("unused")))
    candidates = candidates[: args.candidates]
    start = time.monotonic()
    with Validator(env, cmap, entities, ValidateConfig(gate="fast")) as v:
        decisions = []
        for i in range(0, len(candidates), 32):
            decisions += v.validate(candidates[i : i + 32])
        engine_s = time.monotonic() - start
        v.warm.stop()
        flaky = {
            d.candidate_id
            for d in decisions
            if isinstance(d, RejectedCandidate) and d.reason == RejectReason.flaky
        }
        judged = [
            (c, d)
            for c, d in zip(candidates, decisions, strict=True)
            if d.validation is not None and (args.check == "all" or c.id in flaky)
        ]
        clean_cache: dict[tuple[str, ...], set[str]] = {}
        confirmed, missed, examples = 0, 0, []
        for cand, d in judged:
            ref = reference_flaky(v, cand, d, args.reruns, clean_cache)
            if cand.id in flaky and ref:
                confirmed += 1
            elif cand.id in flaky:
                examples.append(f"  spurious: {cand.id} {d.validation.flaky[:3]}")
            elif ref:
                missed += 1
                examples.append(f"  missed: {cand.id} {sorted(ref)[:3]}")
    spurious = len(flaky) - confirmed
    print(f"{env.name} {env.version}: {len(candidates)} candidates, engine {engine_s:.0f} s wall")
    print(
        f"  decisions: {sum(1 for d in decisions if not isinstance(d, RejectedCandidate))} tasks, {len(flaky)} flaky"
    )
    print(f"  checked against {args.reruns} fresh-process reruns per side: {len(judged)} ({args.check})")
    print(
        f"  flaky confirmed {confirmed}, spurious {spurious} ({spurious / max(1, len(candidates)):.1%} of candidates)"
    )
    if args.check == "all":
        print(f"  flakiness the engine missed: {missed}")
    print("\n".join(examples[:10]))


if __name__ == "__main__":
    main()
