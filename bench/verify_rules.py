"""Benchmark: choice rules over the same behaviour evidence, against MBR-exec (issue #21's design study).

    PYTHONPATH=src nice -n 10 .venv/bin/python bench/verify_rules.py --out DIR --inputs 30,90,200

DIR is a `codekiln verify` output (its pools.jsonl, and cache.jsonl so nothing runs twice). Every
candidate of every pool (4 or more candidates) runs once on 200 random valid inputs; then for each K
the same K-subsets as `metrics.evaluate_pool` draws are judged by every rule below on the first n of
those inputs (shuffled per subset). A rule scores the K candidates; the outcome is the share of
correct candidates among the top-scored ones (the expected Best@K of a random tie break). Printed per
(K, n): each rule's Best@K and its paired difference from MBR-exec with a 95% bootstrap interval, and
`separable` (a correct candidate's outputs differ from every wrong one's) and `ceiling` (the best
Best@K of any rule that treats candidates with the same outputs alike: per subset, the largest share
of correct candidates in one behaviour group). Tune on problems 80-163; 0-79 are the held-out set the README reports.

Two rules read more than the output matrix (both put violations first, then MBR-exec agreement):
`metamorphic` runs every candidate on transformed copies of each input (a list or string argument
shuffled or reversed, two arguments of one type swapped) and counts the candidate's violations of the
invariances that at least half the K candidates keep on every input (and not all do);
`example_invariants` infers relations the public examples' outputs keep (output type, length against
an argument, elements drawn from an argument, sortedness, sign, range) and counts violations on inputs
where most candidates keep them.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

Rows = list[list[str]]  # candidates x inputs, normalised outputs ("!..." a failure)


def _fail(o: str) -> bool:
    return o.startswith("!")


def _counts(S: Rows, t: int) -> Counter[str]:
    return Counter(row[t] for row in S)


def mbr(S: Rows, n: int) -> list[float]:
    sc = [0.0] * len(S)
    for t in range(n):
        c = _counts(S, t)
        for i, row in enumerate(S):
            sc[i] += c[row[t]] - 1
    return sc


def search_rank(S: Rows, n: int) -> list[float]:
    """The search's choice (`evidence.rank`): failures where most return first, then agreement."""
    from codekiln.verify.evidence import evidence_key

    keys = [str(i) for i in range(len(S))]
    outs = {(str(i), str(t)): S[i][t] for i in range(len(S)) for t in range(n)}
    score = evidence_key([[i] for i in range(len(S))], keys, outs, [str(t) for t in range(n)])
    return [score[i][0] * 10**6 + score[i][1] for i in range(len(S))]


def rare_weighted(S: Rows, n: int) -> list[float]:
    """Agreement weighted by -log of the agreed output's frequency (agreeing on `False` says little)."""
    freq = Counter(row[t] for row in S for t in range(n))
    total = len(S) * n
    sc = [0.0] * len(S)
    for t in range(n):
        c = _counts(S, t)
        for i, row in enumerate(S):
            sc[i] += (c[row[t]] - 1) * -math.log(freq[row[t]] / total)
    return sc


def split_weighted(S: Rows, n: int) -> list[float]:
    """Agreement weighted by how many groups the input splits the candidates into."""
    sc = [0.0] * len(S)
    for t in range(n):
        c = _counts(S, t)
        for i, row in enumerate(S):
            sc[i] += (len(c) - 1) * (c[row[t]] - 1)
    return sc


def distinct_splits(S: Rows, n: int) -> list[float]:
    """Agreement counted once per distinct partition of the candidates."""
    seen: set[tuple[int, ...]] = set()
    sc = [0.0] * len(S)
    for t in range(n):
        names: dict[str, int] = {}
        pattern = tuple(names.setdefault(row[t], len(names)) for row in S)
        if pattern in seen:
            continue
        seen.add(pattern)
        c = Counter(pattern)
        for i in range(len(S)):
            sc[i] += c[pattern[i]] - 1
    return sc


def validity(S: Rows, n: int) -> list[float]:
    """Were i right, inputs it raises on are invalid: agreement only where i returns, and a raise costs
    the share of candidates returning there."""
    sc = [0.0] * len(S)
    for t in range(n):
        c = _counts(S, t)
        returning = sum(v for o, v in c.items() if not _fail(o))
        for i, row in enumerate(S):
            sc[i] += -returning / len(S) if _fail(row[t]) else c[row[t]] - 1
    return sc


def _distances(S: Rows, n: int) -> list[list[int]]:
    return [[sum(a[t] != b[t] for t in range(n)) for b in S] for a in S]


def medoid(f: Callable[[float], float]) -> Callable[[Rows, int], list[float]]:
    return lambda S, n: [-sum(f(d) for d in row) for row in _distances(S, n)]


def minimax(S: Rows, n: int) -> list[float]:
    return [-float(max(row)) for row in _distances(S, n)]


def unique_first(S: Rows, n: int) -> list[float]:
    """Fewest inputs where i alone gives its output, then agreement."""
    alone = [0] * len(S)
    for t in range(n):
        c = _counts(S, t)
        for i, row in enumerate(S):
            alone[i] += c[row[t]] == 1
    return [-a * 10**6 + m for a, m in zip(alone, mbr(S, n), strict=True)]


RULES: dict[str, Callable[[Rows, int], list[float]]] = {
    "mbr": mbr,
    "search_rank": search_rank,
    "rare_weighted": rare_weighted,
    "split_weighted": split_weighted,
    "distinct_splits": distinct_splits,
    "validity": validity,
    "medoid_sqrt": medoid(math.sqrt),
    "medoid_log": medoid(math.log1p),
    "medoid_sq": medoid(lambda d: d * d),
    "minimax": minimax,
    "unique_first": unique_first,
}


def _seq(x: Any) -> bool:
    return isinstance(x, list | str | tuple)


def _num(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _sorted(o: Any, desc: bool) -> bool:
    try:
        return isinstance(o, list) and all((b <= a) if desc else (a <= b) for a, b in itertools.pairwise(o))
    except TypeError:
        return False


Relation = Callable[[tuple[Any, ...], Any], Any]


def _on_arg(i: int) -> dict[str, Relation]:
    """Relations between the output and argument i."""

    def len_eq(a: tuple[Any, ...], o: Any) -> bool:
        return _seq(o) and _seq(a[i]) and len(o) == len(a[i])

    def len_le(a: tuple[Any, ...], o: Any) -> bool:
        return _seq(o) and _seq(a[i]) and len(o) <= len(a[i])

    def within(a: tuple[Any, ...], o: Any) -> bool:
        return _seq(o) and _seq(a[i]) and all(e in a[i] for e in o)

    def count_le(a: tuple[Any, ...], o: Any) -> bool:
        return _num(o) and _seq(a[i]) and o <= len(a[i])

    def le(a: tuple[Any, ...], o: Any) -> bool:
        return _num(o) and _num(a[i]) and o <= a[i]

    def ge(a: tuple[Any, ...], o: Any) -> bool:
        return _num(o) and _num(a[i]) and o >= a[i]

    rels = {"len==": len_eq, "len<=": len_le, "within": within, "count<=len": count_le, "<=": le, ">=": ge}
    return {f"{name}{i}": rel for name, rel in rels.items()}


def _relations(args: tuple[Any, ...]) -> dict[str, Relation]:
    rel: dict[str, Relation] = {"type": lambda a, o: type(o).__name__}
    for i in range(len(args)):
        rel |= _on_arg(i)
    rel["nonneg"] = lambda a, o: _num(o) and o >= 0
    rel["sorted"] = lambda a, o: _sorted(o, False)
    rel["sorted_desc"] = lambda a, o: _sorted(o, True)
    return rel


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def example_invariants(public: list[tuple[str, str]]) -> list[tuple[Callable[..., Any], Any]]:
    """(relation, value) pairs every public example keeps (two examples or more)."""
    examples = [(_literal(i), _literal(o)) for i, o in public]
    examples = [(a, o) for a, o in examples if isinstance(a, tuple)]
    if len(examples) < 2:
        return []
    kept = []
    for name, rel in _relations(examples[0][0]).items():
        try:
            values = [rel(a, o) for a, o in examples]
        except Exception:
            continue
        if name == "type" and len(set(values)) == 1:
            kept.append((rel, values[0]))
        elif name != "type" and all(v is True for v in values):
            kept.append((rel, True))
    return kept


def _breaks(invariants: list[tuple[Callable[..., Any], Any]], text: str, output: str) -> bool:
    if _fail(output) or not invariants:
        return False
    args, out = _literal(text), _literal(output)
    for rel, want in invariants:
        try:
            if rel(args, out) != want:
                return True
        except Exception:
            return True
    return False


def transforms(args: tuple[Any, ...], rng: random.Random) -> dict[str, tuple[Any, ...]]:
    """Transformed copies of an input for the invariances `metamorphic` checks."""
    out: dict[str, tuple[Any, ...]] = {}
    for i, v in enumerate(args):
        if isinstance(v, list | str) and len(v) >= 2:
            items = list(v)
            rng.shuffle(items)
            out[f"shuffle{i}"] = (*args[:i], items if isinstance(v, list) else "".join(items), *args[i + 1 :])
            out[f"reverse{i}"] = (*args[:i], v[::-1], *args[i + 1 :])
    if len(args) == 2 and type(args[0]) is type(args[1]):
        out["swap"] = (args[1], args[0])
    return out


def _penalty(breaks: list[list[bool]], k: int) -> list[int]:
    """Per candidate: where most keep the relation, how often each candidate breaks it."""
    pen = [0] * k
    for t in range(len(breaks[0]) if breaks else 0):
        column = [b[t] for b in breaks]
        if sum(column) * 2 < k:
            for i in range(k):
                pen[i] += column[i]
    return pen


def _expected(score: list[float], labels: list[bool]) -> float:
    top = max(score)
    best = [i for i, s in enumerate(score) if s >= top - 1e-9]
    return sum(labels[i] for i in best) / len(best)


def _interval(values: list[float], reps: int = 1000) -> tuple[float, float]:
    rng = random.Random(0)
    means = sorted(sum(rng.choices(values, k=len(values))) / len(values) for _ in range(reps))
    return means[int(0.025 * reps)], means[int(0.975 * reps) - 1]


def matrices(out: Path, n_inputs: int) -> dict[str, dict[str, Any]]:
    from codekiln.core.records import iter_jsonl
    from codekiln.verify.domains import valid
    from codekiln.verify.pools import Pool
    from codekiln.verify.problems import load_problems
    from codekiln.verify.runner import Runner
    from codekiln.verify.selectors import random_inputs

    pools = [Pool.model_validate(r) for r in iter_jsonl(out / "pools.jsonl")]
    pools = [p for p in pools if len(p.candidates) >= 4]
    problems, _ = load_problems("humaneval", [p.problem_id for p in pools])
    by_id = {p.problem_id: p for p in problems}
    data = {}
    with Runner(cache_path=out / "cache.jsonl", timeout_s=0.5) as runner:
        for pool in pools:
            problem = by_id[pool.problem_id]
            rng = random.Random(f"rules:{pool.problem_id}")
            inputs = random_inputs(problem.domains, n_inputs, rng)
            moved: dict[str, list[tuple[int, str]]] = {}
            for t, text in enumerate(inputs):
                for name, args in transforms(ast.literal_eval(text), rng).items():
                    if valid(problem.domains, args):
                        moved.setdefault(name, []).append((t, repr(args)))
            programs = pool.programs()
            extra = sorted({m for pairs in moved.values() for _, m in pairs} - set(inputs))
            outs = runner.run(programs, inputs + extra)
            invariants = example_invariants([(e.input, e.output) for e in pool.public])
            # per relation, per candidate, per input: broken (False where the input has no transform)
            meta = {name: [[False] * len(inputs) for _ in programs] for name in moved}
            for name, pairs in moved.items():
                for c, p in enumerate(programs):
                    for t, m in pairs:
                        meta[name][c][t] = outs[(p.key, inputs[t])] != outs[(p.key, m)]
            data[pool.problem_id] = {
                "labels": [c.correct for c in pool.candidates],
                "rows": [[outs[(p.key, t)] for t in inputs] for p in programs],
                "meta": meta,
                "inv": [[_breaks(invariants, t, outs[(p.key, t)]) for t in inputs] for p in programs],
            }
    return data


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--k", default="4,8,16")
    ap.add_argument("--inputs", default="30,90")
    ap.add_argument("--subsets", type=int, default=10)
    args = ap.parse_args()
    ns = [int(x) for x in args.inputs.split(",")]
    data = matrices(args.out, max(ns))
    for k in (int(x) for x in args.k.split(",")):
        for n in ns:
            got: dict[str, list[float]] = {r: [] for r in [*RULES, "metamorphic", "example_invariants"]}
            separable: list[float] = []
            ceiling: list[float] = []
            problems = 0
            for pid, d in data.items():
                size = len(d["labels"])
                if k > size:
                    continue
                problems += 1
                draws = random.Random(f"{pid}:{k}:0")  # metrics.evaluate_pool's subsets
                for j in range(args.subsets):
                    pick = draws.sample(range(size), k)
                    order = list(range(len(d["rows"][0])))
                    random.Random(f"{pid}:{k}:{j}").shuffle(order)
                    order = order[:n]
                    S = [[d["rows"][i][t] for t in order] for i in pick]
                    labels = [d["labels"][i] for i in pick]
                    wrong = {tuple(S[i]) for i in range(k) if not labels[i]}
                    separable.append(float(any(labels[i] and tuple(S[i]) not in wrong for i in range(k))))
                    groups: dict[tuple[str, ...], list[bool]] = {}
                    for i in range(k):
                        groups.setdefault(tuple(S[i]), []).append(labels[i])
                    ceiling.append(max(sum(g) / len(g) for g in groups.values()))
                    for name, rule in RULES.items():
                        got[name].append(_expected(rule(S, len(order)), labels))
                    agree = mbr(S, len(order))
                    pen = [0] * k
                    for broken in d["meta"].values():
                        rows = [[broken[i][t] for t in order] for i in pick]
                        keeps = sum(not any(r) for r in rows)
                        if keeps * 2 >= k and keeps < k:
                            pen = [p + sum(r) for p, r in zip(pen, rows, strict=True)]
                    got["metamorphic"].append(
                        _expected([a - p * 10**6 for a, p in zip(agree, pen, strict=True)], labels)
                    )
                    inv = _penalty([[d["inv"][i][t] for t in order] for i in pick], k)
                    got["example_invariants"].append(
                        _expected([a - p * 10**6 for a, p in zip(agree, inv, strict=True)], labels)
                    )
            print(
                f"K={k} n={n} ({problems} problems) separable {sum(separable) / len(separable):.3f} "
                f"ceiling {sum(ceiling) / len(ceiling):.3f}"
            )
            base = got["mbr"]
            for name, vals in got.items():
                diffs = [a - b for a, b in zip(vals, base, strict=True)]
                lo, hi = _interval(diffs)
                print(
                    f"  {name:<16} {sum(vals) / len(vals):.3f}  vs mbr {sum(diffs) / len(diffs):+.3f} [{lo:+.3f},{hi:+.3f}]"
                )


if __name__ == "__main__":
    main()
