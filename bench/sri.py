"""SRI against FIM on one set of spans from real libraries: exact match, edit similarity, apply and repair
rates, execution pass@1 and latency per sample, per model, in one run.

    PYTHONPATH=src .venv/bin/python bench/sri.py                               # toolz, embedded model
    PYTHONPATH=src .venv/bin/python bench/sri.py --per-kind 4 --max-tokens 200 --context 20
    PYTHONPATH=src .venv/bin/python bench/sri.py --spec pypi:toolz==1.2.0 --spec pypi:markupsafe==3.0.4 \\
        --model embedded --model openai:NAME@http://127.0.0.1:8000/v1 --option mode=raw
    PYTHONPATH=src .venv/bin/python bench/sri.py --model oracle                # the control: gold answers
    PYTHONPATH=src .venv/bin/python bench/sri.py --table                       # print what was measured

Samples come from `sri make` (every kind, `--per-kind` each, `--corrupt` share corrupted) on each spec, all
splits (nothing is trained here); each model answers every sample as SRI and as FIM through the same
backend (`sri eval`, FIM in the model's family: `prefix` for the embedded SmolLM2, which has no FIM
tokens). Both stages resume, so an interrupted bench continues where it stopped. Results live under
CODEKILN_HOME/bench-cache/sri (or --out).
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path
from typing import Any

from codekiln.core.config import state_dir
from codekiln.sri import MakeConfig, evaluate_samples, make_samples
from codekiln.sri.evaluate import load_samples


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-")[:60]


def row(model: str, spec: str, mode: str, data: dict[str, Any]) -> str:
    def pct(v: float | None) -> str:
        return "-" if v is None else f"{100 * v:.1f}%"

    return (
        f"| {model} | {spec} | {mode} | {data['n']} | {pct(data['exact_match'])} | {data['edit_similarity']:.3f} "
        f"| {pct(data['apply_rate'])} | {pct(data['repair_rate'])} | {pct(data['pass_at_1'])} "
        f"| {data['latency_p50_s']:.2f} |"
    )


HEADER = (
    "| model | library | form | n | exact | edit sim | apply | repair | pass@1 | latency p50 s |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def table(out: Path) -> str:
    lines = [HEADER]
    for path in sorted(out.glob("*/eval-*/summary.json")):
        summary = json.loads(path.read_text())
        spec = path.parent.parent.name
        for mode, data in summary["modes"].items():
            form = f"fim ({summary['fim']})" if mode == "fim" else mode
            lines.append(row(path.parent.name.removeprefix("eval-"), spec, form, data["all"]))
    return "\n".join(lines)


def oracle_script(data: Path) -> str:
    """A scripted model answering every sample right in both forms (SRI's gold answer, then FIM's gold
    middle), in the order `evaluate_samples` asks: the control row, whose pass@1 must be 100%."""
    outputs = []
    for sample in load_samples(data, "all"):
        problem = sample.problem()
        outputs += [problem.gold_answer(), problem.middle]
    script = data / "oracle-outputs.json"
    script.write_text(json.dumps(outputs))
    return f"scripted:{script}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--spec", action="append", help="library spec (repeatable; default toolz 1.2.0)")
    parser.add_argument("--model", action="append", help="model spec (repeatable; default embedded)")
    parser.add_argument("-o", "--option", action="append", default=[], help="model option key=value")
    parser.add_argument("--per-kind", type=int, default=4)
    parser.add_argument("--corrupt", type=float, default=0.25)
    parser.add_argument("--context", type=int, default=20, help="lines shown above and below the window")
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--table", action="store_true", help="only print the table of what was measured")
    args = parser.parse_args()
    out = args.out or state_dir() / "bench-cache" / "sri"
    if args.table:
        print(table(out))
        return
    options: dict[str, Any] = {"max_tokens": args.max_tokens}
    for pair in args.option:
        key, _, value = pair.partition("=")
        options[key] = value
    for spec in args.spec or ["pypi:toolz==1.2.0"]:
        data = out / slug(spec)
        start = time.monotonic()
        config = MakeConfig(spec=spec, out=data, per_kind=args.per_kind, corrupt=args.corrupt,
                            context_lines=args.context, seed=0)  # fmt: skip
        report = make_samples(config)
        print(f"{spec}: {report['samples']} samples ({report['corrupted']} corrupted) "
              f"in {time.monotonic() - start:.1f} s", flush=True)  # fmt: skip
        for model in args.model or ["embedded"]:
            start = time.monotonic()
            spec_or_script = oracle_script(data) if model == "oracle" else model
            evaluate_samples(
                data, data / f"eval-{slug(model)}", model=spec_or_script, options=options, split="all",
                progress=lambda r, i, n: print(f"  {r.model} {i}/{n} {r.mode} {r.kind}: {r.outcome} "
                                               f"exact={r.exact} passed={r.passed}", flush=True),
            )  # fmt: skip
            print(f"  {model}: {time.monotonic() - start:.1f} s", flush=True)
    print(table(out))


if __name__ == "__main__":
    main()
