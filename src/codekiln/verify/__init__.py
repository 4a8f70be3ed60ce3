"""The verifier (issue #21): pick the right program among K candidates by executing them on inputs
found to tell them apart, and measure how often that works (Best@K).

    codekiln verify --out out/verify --limit 10            # the whole stage: pools, selectors, table

Where to start reading:
- `problems`: the `Problem` record and the HumanEval / JSONL loaders; `domains`: the type-driven input
  domains, the executable validator, generation, mutation and shrinking of inputs.
- `runner` and `exec_worker`: sandboxed execution of many programs x many inputs per process start,
  with per-call limits, normalised outputs and a (program, input) cache.
- `pools`: labelled candidate pools (the reference, its mutants, model samples).
- `selectors`: random, public, majority, mbr, codet and the discriminative search; `agent`: the
  model-driven form, with its RL reward.
- `metrics`: Best@K with bootstrap intervals, Pass@K, discrimination, validity, executions;
  `stage`: the resumable `codekiln verify` run.
"""

from codekiln.verify.problems import Problem, load_problems
from codekiln.verify.runner import Program, Runner
from codekiln.verify.selectors import SELECTORS, Choice, Selector, View

__all__ = ["SELECTORS", "Choice", "Problem", "Program", "Runner", "Selector", "View", "load_problems"]
