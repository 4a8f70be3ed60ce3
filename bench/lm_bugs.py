"""Benchmark: model-written bugs (lm_modify, lm_rewrite) beside procedural ones (func_pm) on the same
functions of toolz 1.2.0, through `synthesize()` as `codekiln synth` runs it: candidates and valid tasks
per model call and per 1,000 tokens, per strategy.

    .venv/bin/python bench/lm_bugs.py                                  # the embedded model, 6 functions
    .venv/bin/python bench/lm_bugs.py --model openai:NAME@http://HOST:8000/v1 --functions 50 --concurrency 8
    .venv/bin/python bench/lm_bugs.py --json out.json

The functions are drawn with the seed among those some passing test runs (what `synth` sends to a
model); func_pm mutates the same functions (`--functions` limits every strategy). Validation uses the
fast gate by default (`--gate grader` for the default path); the output says which, and the machine's
load average, since model latency on a shared CPU follows the load.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from codekiln.envs import build_env
from codekiln.models import make_model
from codekiln.tasks.frontend.entities import find_entities
from codekiln.tasks.frontend.lm import plan_requests
from codekiln.tasks.lm_bugs import LM_CALLS, LmConfig
from codekiln.tasks.synth import SynthConfig, synthesize
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.tasks.validation.validate import ValidateConfig

SPEC = "pypi:toolz==1.2.0"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--functions", type=int, default=6, help="functions given bugs by every strategy")
    ap.add_argument("--max-tokens", type=int, default=256)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--gate", default="fast", choices=["fast", "grader"])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "codekiln-bench-lm-bugs")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    env = build_env(SPEC)
    cmap = coverage_map(env)
    entities = find_entities(Path(env.snapshot_path))
    covered = plan_requests(
        entities, ["lm_modify"], seed=args.seed, max_functions=args.functions,
        keep=lambda e: bool(cmap.tests_for({e.file: range(e.start_line, e.end_line + 1)})),
    )  # fmt: skip
    functions = [r.entity.id for r in covered]
    config = SynthConfig(
        spec=SPEC, out=args.out, max_tasks=10_000, seed=args.seed, workers=1, functions=functions,
        strategies=["lm_modify", "lm_rewrite", "func_pm"], validation=ValidateConfig(gate=args.gate),
        lm=LmConfig(model=args.model, concurrency=args.concurrency, max_functions=None, max_tokens=args.max_tokens),
    )  # fmt: skip
    load = os.getloadavg()[0]
    start = time.monotonic()
    result = synthesize(config, redo=True, model=make_model(args.model))
    wall = time.monotonic() - start
    calls = [json.loads(line) for line in (args.out / LM_CALLS).read_text().splitlines()]
    model_s = sum(c["latency_s"] for c in calls)
    print(f"{SPEC}, {len(functions)} functions, model {args.model}, max_tokens {args.max_tokens}, "
          f"gate {args.gate}, load average {load:.1f} at the start, {wall:.0f} s in all ({model_s:.0f} s of model latency)")  # fmt: skip
    head = ("strategy", "calls", "parsed", "cands", "breaks", "valid", "tokens", "cand/call", "valid/call",
            "cand/1k tok", "valid/1k tok")  # fmt: skip
    print("  ".join(f"{h:>11}" for h in head))
    table = {}
    for name, f in sorted(result.funnel.per_strategy.items()):
        kilo = f.tokens / 1000
        row = {
            "calls": f.calls, "parsed": f.parsed, "candidates": f.applied, "breaks_test": f.breaks_test,
            "valid": f.valid, "tokens": f.tokens, "tokens_per_valid": f.tokens_per_valid,
            "cheap_rejections": f.cheap_rejections,
            "candidates_per_call": f.applied / f.calls if f.calls else None,
            "valid_per_call": f.valid / f.calls if f.calls else None,
            "candidates_per_1k_tokens": f.applied / kilo if kilo else None,
            "valid_per_1k_tokens": f.valid / kilo if kilo else None,
        }  # fmt: skip
        table[name] = row
        cells = [name, f.calls, f.parsed, f.applied, f.breaks_test, f.valid, f.tokens]
        cells += [_fmt(row[k]) for k in ("candidates_per_call", "valid_per_call", "candidates_per_1k_tokens",
                                          "valid_per_1k_tokens")]  # fmt: skip
        print("  ".join(f"{c!s:>11}" for c in cells))
    for name, row in table.items():
        if row["cheap_rejections"]:
            print(f"{name} cheap rejections: {row['cheap_rejections']}")
    if args.json:
        args.json.write_text(json.dumps({"functions": functions, "model": args.model, "load": load,
                                         "wall_s": wall, "model_s": model_s, "strategies": table}, indent=1))  # fmt: skip


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
