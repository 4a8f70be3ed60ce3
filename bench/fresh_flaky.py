"""The flaky column of bench/task_quality.py: a synth run's decisions checked against fresh-process
reruns (issue #24 item 2: spurious-flaky rate vs fresh-process reruns).

    PYTHONPATH=src nice -n 10 python bench/fresh_flaky.py pypi:toolz==1.2.0 OUT_DIR   # a synth --details dir

The reference is `bench/flaky.py`'s (`reference_runs`: `grading.run_tests` alone, nothing of the
validation engine; each run a new pytest process with its own PYTHONHASHSEED and test order, on a
workspace reset first). Every decision the engine made from its runs (those with full statuses in
`details.jsonl`: not timeouts, infrastructure errors or bugs that did not apply) is checked:
- with the bug: the tests that failed in the engine's first run, rerun `reruns` times with the bug's
  files in place; one that passes in a rerun is flaky;
- clean: the union of the checked decisions' selected tests, `reruns` runs on the snapshot (one union
  for the library, as the engine's own clean reruns are); a test that passes in some runs but not all
  is flaky, for every decision that selected it.
The candidates are planned again as synth planned them (seed 0, the same seeded list), by id. A
decision the engine called `flaky` that the reference does not confirm is spurious; flakiness the
reference finds in a decision the engine did not call flaky is missed. With `time_limit`, the
decisions checked before it are counted and the result is marked partial.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from flaky import reference_runs  # type: ignore[import-not-found]


def check(
    spec: str,
    out: Path,
    reruns: int = 3,
    time_limit: float | None = None,
    previous: dict[str, Any] | None = None,
) -> dict[str, object]:
    """Fresh-process reruns of the decisions in `out` (a `codekiln synth --details` directory).
    `previous`: an earlier result for the same directory; the decisions and clean tests it checked
    are not run again (a resumed synth run adds decisions)."""
    from codekiln.envs import build_env
    from codekiln.tasks.records import RejectedCandidate, RejectReason, Validation
    from codekiln.tasks.synth import DETAILS, SynthConfig, plan_candidates, read_decisions
    from codekiln.tasks.validation.coverage_map import coverage_map
    from codekiln.tasks.validation.validate import ValidateConfig, Validator

    start = time.monotonic()
    details: dict[str, Validation] = {}
    if (out / DETAILS).is_file():
        for line in (out / DETAILS).read_text().splitlines():
            row = json.loads(line)
            details[row["candidate_id"]] = Validation.model_validate(row["validation"])
    decisions = [d for d in read_decisions(out) if (d.candidate_id or "") in details]
    env = build_env(spec)
    cmap = coverage_map(env)
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=spec, out=Path("unused")))
    by_id = {c.id: c for c in candidates}
    engine_flaky = {
        d.candidate_id
        for d in decisions
        if isinstance(d, RejectedCandidate) and d.reason == RejectReason.flaky
    }
    row: dict[str, object] = {"engine_flaky": len(engine_flaky), "reruns": reruns}
    prev = previous if previous and "verdicts" in previous else {}  # older results: checked again
    verdicts: dict[str, str] = dict(prev.get("verdicts", {}))  # id -> ok, confirmed, spurious, missed
    examples: list[str] = list(prev.get("examples", []))
    clean_done: set[str] = set(prev.get("clean_checked", []))
    clean_unstable: set[str] = set(prev.get("clean_unstable", []))
    with Validator(env, cmap, entities, ValidateConfig(gate="fast")) as v:
        union = sorted({t for d in decisions for t in details[d.candidate_id or ""].after} - clean_done)
        if union:
            timeout = max(60.0, 20 * cmap.duration(union))
            clean = reference_runs(v.sandbox, env.test, union, {}, reruns, timeout)
            passes = [{t for t in union if r.statuses.get(t) == "passed"} for r in clean]
            clean_unstable |= {t for t in union if 0 < sum(t in p for p in passes) < len(clean)}
            clean_done |= set(union)
        for d in decisions:
            if time_limit is not None and time.monotonic() - start > time_limit:
                row["partial"] = True
                break
            cid = d.candidate_id or ""
            cand, validation = by_id.get(cid), details[cid]
            if cand is None or cid in verdicts:
                continue
            failing = sorted(t for t, s in validation.after.items() if s != "passed")
            unstable = clean_unstable & set(validation.after)
            if failing:
                files = v.buggy_files(cand)
                wait = max(60.0, 20 * cmap.duration(failing))
                for run in reference_runs(v.sandbox, env.test, failing, files, reruns, wait):
                    unstable |= {t for t in failing if run.statuses.get(t) == "passed"}
            if cid in engine_flaky:
                verdicts[cid] = "confirmed" if unstable else "spurious"
            else:
                verdicts[cid] = "missed" if unstable else "ok"
            if verdicts[cid] in ("spurious", "missed"):
                shown = validation.flaky[:3] if cid in engine_flaky else sorted(unstable)[:3]
                examples.append(f"{verdicts[cid]}: {cid} {len(unstable)} of {len(failing)} failing: {shown}")
    counts = {k: sum(1 for x in verdicts.values() if x == k) for k in ("confirmed", "spurious", "missed")}
    row.update(
        checked=len(verdicts),
        **counts,
        clean_tests=len(clean_done),
        clean_checked=sorted(clean_done),
        clean_unstable=sorted(clean_unstable),
        verdicts=verdicts,
        examples=examples,
        fresh_s=round(time.monotonic() - start + float(prev.get("fresh_s", 0.0)), 1),
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("spec")
    parser.add_argument("out", type=Path, help="a `codekiln synth --details` output directory")
    parser.add_argument("--reruns", type=int, default=3, help="fresh-process runs per side")
    parser.add_argument("--time-limit", type=float, default=None)
    args = parser.parse_args()
    print(json.dumps(check(args.spec, args.out, args.reruns, args.time_limit)))


if __name__ == "__main__":
    main()
