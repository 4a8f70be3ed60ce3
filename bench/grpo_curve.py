"""Benchmark: a GRPO run whose mean reward rises, on this machine's CPU (the embedded SmolLM2-135M).

    PYTHONPATH=src nice -n 5 .venv/bin/python bench/grpo_curve.py --out out/grpo-curve       # CPU budget
    PYTHONPATH=src .venv/bin/python bench/grpo_curve.py --gpu --out out/grpo-curve-gpu         # lent GPU
    codekiln report out/grpo-curve --out report.html      # the curve, in the report's GRPO section

Task and reward (`codekiln.training.format_rl`): the format eval's prompts, each after one demonstrated
tool call in the chat format (the easy tier), rewarded for answering with a well-formed call of the
offered tool (1.0 valid, 0.5 wrong tool/arguments, 0.25 an unparsable attempt that opens a call of an
offered tool, else up to 0.2 for writing the
first characters of the format's call opener). 20 prompts train, 7 are held out. TRL's GRPOTrainer with codekiln's
group advantages; fixed seed.

Writes OUT/steps.jsonl as it goes (one row per step: rewards, group baselines, advantage spread; a
crash loses nothing already written), OUT/heldout.jsonl (held-out prompts sampled before and after
with the same seeds) and OUT/summary.json, then prints: first-k vs last-k steps' mean reward with a 95%
bootstrap interval, and the held-out before/after difference (paired, 95% bootstrap interval). A rerun
needs a new OUT; `--summary-only` reprints the figures of an existing OUT (also of an unfinished one).

CPU budget (default): 20 steps x 4 completions of <= 24 tokens, 1 torch thread (on a busy shared
2-core machine one thread is ~6x faster than two: OpenMP threads spin against other processes).
`--gpu`: the full-scale recipe, 200 steps x 4 prompts x 8 completions of <= 64 tokens, 8 samples per
held-out prompt, on cuda (not run on this machine).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

CPU = {"steps": 20, "group_size": 4, "prompts_per_step": 1, "max_tokens": 24, "heldout_samples": 2,
       "learning_rate": 5e-5, "threads": 1}  # fmt: skip
GPU = {"steps": 200, "group_size": 8, "prompts_per_step": 4, "max_tokens": 64, "heldout_samples": 8,
       "learning_rate": 1e-5, "device": "cuda"}  # fmt: skip


def report(out: Path) -> None:
    from codekiln.reports.grpo import heldout_summary, load_curve, summarize_curve

    curve = load_curve(out)
    if curve is None:
        sys.exit(f"no steps.jsonl in {out}")
    s = summarize_curve(curve.steps)
    print(f"steps {s['steps']}: mean reward, first {s['k']} steps {s['first_mean']:.3f} -> last {s['k']} "
          f"{s['last_mean']:.3f}: {s['diff']:+.3f} [95% CI {s['lo']:+.3f}, {s['hi']:+.3f}]; valid calls "
          f"{s['first_valid']:.2f} -> {s['last_valid']:.2f}")  # fmt: skip
    held = heldout_summary(curve.heldout)
    if held:
        print(f"held-out ({held['samples']} paired samples): {held['before']:.3f} -> {held['after']:.3f}: "
              f"{held['diff']:+.3f} [95% CI {held['lo']:+.3f}, {held['hi']:+.3f}]; valid calls "
              f"{held['valid_before']:.2f} -> {held['valid_after']:.2f}")  # fmt: skip
    if curve.summary:
        print(f"wall {curve.summary['duration_s']:.0f} s, weight change {curve.summary['weight_change']:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("out/grpo-curve"))
    ap.add_argument("--gpu", action="store_true", help="the full-scale recipe on cuda")
    ap.add_argument("--format", default="xlam_qwen")
    ap.add_argument("--steps", type=int)
    ap.add_argument("--group-size", type=int)
    ap.add_argument("--max-tokens", type=int)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--heldout-samples", type=int)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--summary-only", action="store_true", help="print the figures of an existing OUT")
    args = ap.parse_args()
    if args.summary_only:
        report(args.out)
        return
    from codekiln.training.format_rl import FormatGRPOConfig, StepRow, run_format_grpo

    preset = dict(GPU if args.gpu else CPU)
    for key, value in (("steps", args.steps), ("group_size", args.group_size), ("max_tokens", args.max_tokens),
                       ("learning_rate", args.lr), ("heldout_samples", args.heldout_samples)):  # fmt: skip
        if value is not None:
            preset[key] = value
    config = FormatGRPOConfig(out=args.out, format=args.format, seed=args.seed, **preset)
    print(json.dumps(config.model_dump(mode="json")), flush=True)
    start = time.monotonic()

    def show(row: StepRow) -> None:
        print(f"step {row.step:3d}  mean {row.mean_reward:.3f}  baselines {[round(b, 2) for b in row.baselines]}  "
              f"adv std {row.adv_std:.2f}  valid {row.valid_rate:.2f}  tokens {row.completion_tokens:.0f}  "
              f"{time.monotonic() - start:.0f}s", flush=True)  # fmt: skip

    run_format_grpo(config, on_step=show)
    report(args.out)


if __name__ == "__main__":
    main()
