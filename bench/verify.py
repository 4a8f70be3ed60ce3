"""Benchmark: every selector on the same HumanEval pools at equal execution budgets, and Best@K against
the execution budget (test-time scaling).

    PYTHONPATH=src nice -n 10 .venv/bin/python bench/verify.py --limit 40 --out /tmp/verify-bench
    PYTHONPATH=src nice -n 10 .venv/bin/python bench/verify.py --limit 40 --out /tmp/verify-bench --no-hard

Runs `codekiln verify` (resumable: rerun the same command to continue) with every model-free selector
and prints its table: Best@K with 95% bootstrap intervals over the (problem, subset) outcomes, the
Pass@K ceiling, the gap (Pass@K - Best@K), and the search's paired gap to every other selector (the
same K-subsets, a bootstrap interval over the (problem, subset) pairs: `metrics.paired_gap`). Then, at one K (`--scale-k`), reruns mbr and search on
the same pools and subsets with per-candidate budgets from `--budgets`, printing Best@K per budget.
Pools are mutants of the reference labelled by the hidden set (see `codekiln.verify.pools`); with
`--hard` (default) only mutants that pass the public examples are kept. `--test-model SPEC` adds the
CodeT selector, with tests that model writes (one request per problem).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path


def main() -> None:
    from codekiln.core.records import iter_jsonl
    from codekiln.verify.metrics import KResult, evaluate_pool, format_table, paired_gap, summarise
    from codekiln.verify.pools import Pool
    from codekiln.verify.problems import load_problems
    from codekiln.verify.runner import Runner
    from codekiln.verify.selectors import SELECTORS
    from codekiln.verify.stage import VerifyConfig, run_verify

    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--hard", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--mutants", type=int, default=15)
    ap.add_argument("--k", default="2,4,8,16")
    ap.add_argument("--subsets", type=int, default=20)
    ap.add_argument("--budget", type=int, default=32)
    ap.add_argument("--scale-k", type=int, default=8)
    ap.add_argument("--budgets", default="4,8,16,32,64")
    ap.add_argument("--test-model", default=None, help="a model spec writing CodeT's tests (adds codet)")
    args = ap.parse_args()

    config = VerifyConfig(
        limit=args.limit,
        hard=args.hard,
        mutants=args.mutants,
        selectors=["random", "public", "majority", "mbr", "search"] + (["codet"] if args.test_model else []),
        test_model=args.test_model,
        ks=[int(k) for k in args.k.split(",")],
        subsets=args.subsets,
        budget=args.budget,
    )
    start = time.monotonic()
    table = run_verify(config, args.out, progress=print)
    print(
        f"\n{config.limit} problems, pools hard={config.hard}, budget {config.budget} calls/candidate "
        f"({time.monotonic() - start:.0f} s)"
    )
    print(format_table(table))
    print("\ngap to Pass@K (Pass@K - Best@K):")
    for row in table:
        if row["selector"] in ("mbr", "search"):
            print(f"  K={row['k']:>2} {row['selector']:<7} {row['pass'] - row['best']:.3f}")

    results = [KResult.model_validate(r) for r in iter_jsonl(args.out / "results.jsonl")]
    print("\nsearch minus each selector on the same subsets (paired, 95% bootstrap):")
    for other in ("random", "public", "majority", "mbr", "codet"):
        for gap in paired_gap(results, "search", other):
            print(
                f"  K={gap['k']:>2} search-{other:<8} {gap['gap']:+.3f} "
                f"[{gap['gap_lo']:+.2f},{gap['gap_hi']:+.2f}] ({gap['problems']} problems)"
            )

    problems, _ = load_problems(config.problems)
    by_id = {p.problem_id: p for p in problems}
    pools = [Pool.model_validate(r) for r in iter_jsonl(args.out / "pools.jsonl")]
    print(f"\nBest@{args.scale_k} vs budget (calls per candidate), mbr and search on the same subsets:")
    with Runner(cache_path=args.out / "cache.jsonl") as runner:
        for budget in [int(b) for b in args.budgets.split(",")]:
            rows: list[KResult] = []
            for pool in pools:
                rows += evaluate_pool(
                    pool,
                    by_id[pool.problem_id],
                    [SELECTORS["mbr"](), SELECTORS["search"]()],
                    ks=[args.scale_k],
                    subsets=config.subsets,
                    per_candidate=budget,
                    runner=runner,
                )
            for row in summarise(rows):
                print(
                    f"  budget {budget:>4}  {row['selector']:<7} Best@{args.scale_k} {row['best']:.3f} "
                    f"[{row['best_lo']:.2f},{row['best_hi']:.2f}]  Pass {row['pass']:.3f}  "
                    f"separable {row['separable']:.3f}  exec {row['executions']:.0f}"
                )
            for gap in paired_gap(rows, "search", "mbr"):
                print(
                    f"  budget {budget:>4}  search-mbr {gap['gap']:+.3f} [{gap['gap_lo']:+.2f},{gap['gap_hi']:+.2f}]"
                )


if __name__ == "__main__":
    main()
