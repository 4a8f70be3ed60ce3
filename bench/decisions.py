"""The decisions on the bench's candidate list, as one hash: proof that a refactor changed no behaviour.

    nice -n 10 .venv/bin/python bench/decisions.py                   # 150 candidates, the default gate
    nice -n 10 .venv/bin/python bench/decisions.py --json before.json   # also every decision, to diff

Plans the candidates exactly as `bench/synth.py` does (toolz 1.2.0, seed 0, the first 150 of the
seeded list), validates them with the default `ValidateConfig` (the grader gate, as `codekiln synth`
does) in batches of 32 on one sandbox, and prints a SHA-256 over each candidate's decision in order:
for a task its id, FAIL_TO_PASS, PASS_TO_PASS, hidden tests and problem statement; for a rejection its
reason. Timings and free-text details (which hold durations) are left out, so two runs of the same
code give the same hash. Run it before and after a change: a different hash means different decisions,
and `--json` files say which.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import Counter
from pathlib import Path

SPEC = "pypi:toolz==1.2.0"


def decision_row(decision: object) -> dict[str, object]:
    """What the hash covers of one decision."""
    from codekiln.tasks.records import TaskRecord

    if isinstance(decision, TaskRecord):
        return {
            "candidate": decision.candidate_id,
            "task": decision.instance_id,
            "FAIL_TO_PASS": decision.FAIL_TO_PASS,
            "PASS_TO_PASS": decision.PASS_TO_PASS,
            "hidden_tests": decision.hidden_tests,
            "statement": decision.problem_statement,
        }
    return {"candidate": decision.candidate_id, "rejected": str(decision.reason)}  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=150)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--json", type=Path, help="write every decision's hashed fields here")
    args = parser.parse_args()

    from codekiln.envs import build_env
    from codekiln.tasks.synth import SynthConfig, plan_candidates
    from codekiln.tasks.validation.coverage_map import coverage_map
    from codekiln.tasks.validation.validate import ValidateConfig, Validator

    start = time.monotonic()
    env = build_env(SPEC)
    cmap = coverage_map(env)
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=SPEC, out=Path("unused")))
    candidates = candidates[: args.candidates]
    decisions = []
    with Validator(env, cmap, entities, ValidateConfig()) as validator:
        for i in range(0, len(candidates), args.batch):
            decisions += validator.validate(candidates[i : i + args.batch])
    rows = [decision_row(d) for d in decisions]
    blob = json.dumps(rows, sort_keys=True, separators=(",", ":")).encode()
    tally = Counter(str(r.get("rejected", "task")) for r in rows)
    print(f"{len(rows)} candidates of {SPEC}: {dict(sorted(tally.items()))}")
    print(f"decisions sha256: {hashlib.sha256(blob).hexdigest()}  ({time.monotonic() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
