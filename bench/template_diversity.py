"""Benchmark: does fine-tuning on more tool-call formats help a model follow formats it never saw?

    nice -n 5 .venv/bin/python bench/template_diversity.py            # the CPU budget (~100 min, one loaded core)
    .venv/bin/python bench/template_diversity.py --quick              # smoke check (a few minutes)
    .venv/bin/python bench/template_diversity.py --seeds 0,1,2,3 --out runs/div.jsonl   # more draws

A small-scale test of the Qwen3-Coder-Next report's template-diversity finding (with data and recipe
fixed, 1 -> 2 -> 4 -> 8 training templates: ~48.0 -> 52.0 -> 53.4 -> 53.8% SWE-Bench Verified). The
embedded SmolLM2-135M (`codekiln.models.transformers`, fp32) is fine-tuned on the same number of
synthetic single-call tool-use conversations (`tool_requests`), each rendered in one of k formats drawn
at random from a training pool (k = 1, 2, 4, 8; one draw per seed and k; the samples are spread evenly
over the k formats). Every run of one seed sees the same conversations in the same number of steps from
the same base weights; only the formats differ. The held-out formats are in no training pool.

Each fine-tuned model, and the base model, answers the shipped format-eval prompts
(`codekiln/models/data/format_eval.json`, never trained on) in every held-out format, and in one of its
own training formats (in-distribution); a turn counts when the greedy answer parses in the format and
is a valid call of an offered tool (`codekiln.models.eval.judge`). Intervals are 95% bootstrap
intervals resampling seeds (draws) and prompts. Rows are appended to `--out` (JSONL) as each run ends:
rerunning the same command resumes; a different budget starts its own rows (the key holds the budget).

CPU economies (see `diversity_model`): only the top blocks train, the output head runs only where the
loss is, eval decodes a batch of prompts at once with a KV cache and a short generation budget.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from diversity_model import FrozenPrefix, TopLayers, follow_rate
from diversity_table import bootstrap, difference, differences, nll_table, pct, table  # noqa: F401 (re-exported)
from tool_requests import synth_conversations

from codekiln.formats import get_format, list_formats
from codekiln.models.eval import EvalPrompt, load_prompts
from codekiln.models.transformers import TransformersModel

HELDOUT = ["hermes", "llama4_pythonic", "xml_cline"]
REPORT = "Report (Qwen3-Coder-Next): 1 -> 2 -> 4 -> 8 templates = ~48.0 -> 52.0 -> 53.4 -> 53.8% SWE-Bench Verified."


@dataclass
class Budget:
    """What every run gets; the same for every number of training formats."""

    sizes: list[int]  # numbers of training formats
    seeds: list[int]  # one format draw (and one data order) per seed and size
    samples: int  # distinct training conversations per run
    steps: int
    batch: int
    layers: int  # top transformer blocks trained
    lr: float
    max_tools: int  # tools offered per training conversation
    eval_prompts: int  # shipped eval prompts per format (of 32)
    max_new_tokens: int
    heldout: list[str]
    base_pool: int  # training-pool formats the base model is also scored on
    nll_samples: int = 32  # unseen conversations per format for the teacher-forced score

    def key(self) -> str:
        return hashlib.sha256(json.dumps(asdict(self), sort_keys=True).encode()).hexdigest()[:12]

    def base_key(self) -> str:
        """The base model's row depends only on how it is evaluated."""
        fields = [self.eval_prompts, self.max_new_tokens, self.heldout, self.base_pool, self.nll_samples]
        return "base-" + hashlib.sha256(json.dumps(fields).encode()).hexdigest()[:12]


DEFAULT = Budget(
    sizes=[1, 2, 4, 8],
    seeds=[0, 1, 2],
    samples=64,
    steps=16,
    batch=4,
    layers=4,
    lr=5e-4,
    max_tools=1,
    eval_prompts=8,
    max_new_tokens=64,
    heldout=HELDOUT,
    base_pool=2,
)
QUICK = replace(
    DEFAULT,
    sizes=[1, 8],
    seeds=[0],
    samples=8,
    steps=2,
    batch=2,
    eval_prompts=2,
    heldout=["hermes"],
    base_pool=1,
    nll_samples=2,
)
NLL_SEED = 999
"""The teacher-forced score's conversations: a seed no training run uses (they use 1000 + seed)."""


def pick_prompts(n: int) -> list[EvalPrompt]:
    """`n` prompts spread evenly over the shipped set (it is grouped by tool)."""
    every = load_prompts()
    n = min(n, len(every))
    return [every[i * len(every) // n] for i in range(n)]


def training_pool(heldout: list[str]) -> list[str]:
    return [f for f in list_formats() if f not in heldout]


def draw_formats(pool: list[str], k: int, seed: int) -> list[str]:
    """k formats of `pool` drawn at random (seeded by seed and k), in the drawn order."""
    return random.Random(f"draw:{seed}:{k}").sample(pool, k)


def eval_texts() -> set[str]:
    return {m["content"] for p in load_prompts() for m in p.messages if isinstance(m.get("content"), str)}


def nll_conversations(budget: Budget) -> list[Any]:
    """Conversations never trained on (their requests are kept out of every training run) whose right
    call the teacher-forced score reads in each format."""
    return synth_conversations(budget.nll_samples, NLL_SEED, eval_texts(), budget.max_tools)


def render_rows(model: TransformersModel, formats: list[str], seed: int, budget: Budget) -> list[Any]:
    """The seed's conversations, the i-th rendered in formats[slot(i) % k] (slots seeded: balanced);
    no request of the eval prompts or of the teacher-forced score's conversations among them."""
    held = eval_texts() | {m[1]["content"] for m, _ in nll_conversations(budget)}
    convs = synth_conversations(budget.samples, 1000 + seed, held, budget.max_tools)
    slots = list(range(len(convs)))
    random.Random(f"slots:{seed}").shuffle(slots)
    rows = []
    for (messages, tools), slot in zip(convs, slots, strict=True):
        fmt = get_format(formats[slot % len(formats)])
        rows.append(fmt.render_tokens(messages, tools, model.tokenizer))
    return rows


def score_formats(
    model: TransformersModel, formats: list[str], prompts: list[EvalPrompt], budget: Budget
) -> tuple[dict[str, list[int]], dict[str, dict[str, int]]]:
    valid, reasons = {}, {}
    for fmt in formats:
        valid[fmt], reasons[fmt] = follow_rate(
            model, fmt, prompts, max_new_tokens=budget.max_new_tokens, batch=len(prompts)
        )
    return valid, reasons


class NllScorer:
    """The teacher-forced score per format: each format's conversations pass the frozen blocks once
    (`FrozenPrefix`, made on first use), then every model is scored by its trained blocks only."""

    def __init__(self, model: TransformersModel, tuner: TopLayers, budget: Budget) -> None:
        self.model, self.tuner, self.convs = model, tuner, nll_conversations(budget)
        self.prefixes: dict[str, FrozenPrefix] = {}

    def score(self, formats: list[str]) -> dict[str, list[float]]:
        out = {}
        for name in formats:
            if name not in self.prefixes:
                fmt = get_format(name)
                rows = [fmt.render_tokens(m, t, self.model.tokenizer) for m, t in self.convs]
                self.prefixes[name] = FrozenPrefix(self.tuner, rows)
            out[name] = [round(v, 5) for v in self.prefixes[name].nll()]
        return out


def run_one(
    model: TransformersModel,
    tuner: TopLayers,
    k: int,
    seed: int,
    budget: Budget,
    prompts: list[EvalPrompt],
    nll: NllScorer,
) -> dict[str, Any]:
    formats = draw_formats(training_pool(budget.heldout), k, seed)
    rows = render_rows(model, formats, seed, budget)
    tuner.reset()
    t0 = time.perf_counter()
    losses = tuner.train(rows, steps=budget.steps, batch=budget.batch, lr=budget.lr, seed=seed)
    train_s = time.perf_counter() - t0
    held, reasons = score_formats(model, budget.heldout, prompts, budget)
    indist, indist_reasons = score_formats(model, formats[:1], prompts, budget)
    held_nll, indist_nll = nll.score(budget.heldout), nll.score(formats[:1])
    w = max(1, min(4, len(losses) // 4))
    return {
        "k": k,
        "seed": seed,
        "formats": formats,
        "tokens_per_sample": round(sum(len(ids) for ids, _ in rows) / len(rows)),
        "loss_start": sum(losses[:w]) / w,
        "loss_end": sum(losses[-w:]) / w,
        "heldout": held,
        "indist": indist,
        "heldout_nll": held_nll,
        "indist_nll": indist_nll,
        "reasons": {**reasons, **indist_reasons},
        "train_s": round(train_s, 1),
        "eval_s": round(time.perf_counter() - t0 - train_s, 1),
    }


def load_done(path: Path, key: str, base_key: str) -> dict[str, dict[str, Any]]:
    """Rows already written for this budget, by run name."""
    done: dict[str, dict[str, Any]] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue  # a torn last line from a killed run
            if row.get("budget_key") in (key, base_key):
                done[row["run"]] = row
    return done


def parse_budget(args: argparse.Namespace, ap: argparse.ArgumentParser) -> Budget:
    budget = replace(QUICK if args.quick else DEFAULT)
    for key in ("samples", "steps", "batch", "layers", "lr", "eval_prompts", "max_new_tokens", "nll_samples"):
        if getattr(args, key) is not None:
            setattr(budget, key, getattr(args, key))
    if args.sizes:
        budget.sizes = [int(k) for k in args.sizes.split(",")]
    if args.seeds:
        budget.seeds = [int(s) for s in args.seeds.split(",")]
    if args.heldout:
        budget.heldout = [h.strip() for h in args.heldout.split(",") if h.strip()]
    unknown = [h for h in budget.heldout if h not in list_formats()]
    if unknown:
        ap.error(f"unknown formats {unknown}; choose from {', '.join(list_formats())}")
    if max(budget.sizes) > len(training_pool(budget.heldout)):
        ap.error(f"only {len(training_pool(budget.heldout))} formats are left for training")
    return budget


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke check: tiny budget, minutes")
    ap.add_argument("--sizes", help="numbers of training formats, comma-separated (default 1,2,4,8)")
    ap.add_argument("--seeds", help="format draws per size, comma-separated (default 0,1,2)")
    for key, kind in (("samples", int), ("steps", int), ("batch", int), ("layers", int), ("lr", float)):
        ap.add_argument(f"--{key}", type=kind)
    ap.add_argument("--eval-prompts", type=int, help="shipped eval prompts per format (of 32)")
    ap.add_argument("--max-new-tokens", type=int, help="greedy generation budget per eval turn")
    ap.add_argument(
        "--nll-samples",
        type=int,
        help="unseen conversations per format for the teacher-forced score (default 32)",
    )
    ap.add_argument("--heldout", help=f"formats in no training pool (default {','.join(HELDOUT)})")
    ap.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch CPU threads (1 on a loaded machine: 2 spin-wait, ~4x slower)",
    )
    ap.add_argument("--out", default=".codekiln/template_diversity.jsonl", help="rows, appended (resumable)")
    ap.add_argument("--json", dest="json_out", help="also write the budget, rows and table here")
    ap.add_argument("--table", action="store_true", help="only print the table of the rows already in --out")
    args = ap.parse_args(argv)
    budget = parse_budget(args, ap)
    out, key = Path(args.out), budget.key()
    out.parent.mkdir(parents=True, exist_ok=True)
    done = load_done(out, key, budget.base_key())
    if args.table:
        runs = [done[f"k{k}-s{s}"] for s in budget.seeds for k in budget.sizes if f"k{k}-s{s}" in done]
        print(table(done.get("base"), runs, budget))
        if runs and "heldout_nll" in runs[0]:
            print("\n" + nll_table(done.get("base"), runs, budget))
        print("\n".join(differences(runs, budget.sizes)))
        return 0
    start = time.perf_counter()
    model = TransformersModel(max_tokens=budget.max_new_tokens)
    model.torch.set_num_threads(args.threads)
    tuner = TopLayers(model, budget.layers)
    nll = NllScorer(model, tuner, budget)
    prompts = pick_prompts(budget.eval_prompts)
    print(f"budget {key} {budget}; {len(done)} runs already in {out}", file=sys.stderr)

    def finish(name: str, row: dict[str, Any]) -> None:
        row = {"run": name, "budget_key": budget.base_key() if name == "base" else key, **row}
        with out.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        done[name] = row
        took = time.perf_counter() - start
        print(
            f"[{took:6.0f}s] {name}: {json.dumps({k: row[k] for k in row if k in ('formats', 'loss_start', 'loss_end', 'train_s', 'eval_s')})}",
            file=sys.stderr,
        )

    if "base" not in done:
        tuner.reset()
        t0 = time.perf_counter()
        pool = training_pool(budget.heldout)[: budget.base_pool]
        held, reasons = score_formats(model, budget.heldout, prompts, budget)
        indist, more = score_formats(model, pool, prompts, budget)
        finish(
            "base",
            {
                "heldout": held,
                "indist": indist,
                "heldout_nll": nll.score(budget.heldout),
                "indist_nll": nll.score(pool),
                "reasons": {**reasons, **more},
                "eval_s": round(time.perf_counter() - t0, 1),
            },
        )
    ends = [min(budget.sizes), max(budget.sizes)]  # the extremes first, every seed: a cut-short run
    order = sorted(dict.fromkeys(budget.sizes), key=lambda k: (k not in ends, k))  # still compares them
    for k, seed in [(k, seed) for k in order for seed in budget.seeds]:
        name = f"k{k}-s{seed}"
        if name not in done:
            finish(name, run_one(model, tuner, k, seed, budget, prompts, nll))

    runs = [done[f"k{k}-s{s}"] for s in budget.seeds for k in budget.sizes]
    text = table(done["base"], runs, budget) + "\n\n" + nll_table(done["base"], runs, budget)
    print(text)
    print("\n".join(differences(runs, budget.sizes)))
    print(
        f"\n{len(prompts)} eval prompts x {len(budget.heldout)} held-out formats per run; "
        f"{budget.samples} samples, {budget.steps} steps of {budget.batch}, top {budget.layers} blocks trained, "
        f"lr {budget.lr}; {time.perf_counter() - start:.0f}s this invocation (resumed runs not re-timed)."
    )
    print(REPORT)
    if args.json_out:
        payload = {"budget": asdict(budget), "key": key, "rows": [done["base"], *runs], "table": text}
        Path(args.json_out).write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
