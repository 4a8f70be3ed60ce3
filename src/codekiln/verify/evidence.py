"""Reference-free evidence over candidates' executions: behaviour clusters, MBR-exec agreement, and the
failure-aware ranking the discriminative search chooses by.

    groups = clusters(keys, indices, outs, inputs)       # candidates grouped by their outputs on inputs
    agreement(indices, keys, outs, inputs)               # MBR-exec: agreements with the others, input by input
    rank(groups, keys, outs, inputs)                     # groups best first, by `evidence_key`

`outs` maps (program key, input) to a normalised output; an output starting with "!" is a failure (a
raise, a timeout, a crash: see `runner`). The ranking:

- A failure on an input whose most common output is not a failure is evidence of a wrong program (near
  misses raise where the rest return: an index off by one). The group failing on the fewest such
  inputs ranks first. Where the most common output is a failure the input likely breaks a
  precondition the validator does not know (it infers only types and ranges): no evidence either way.
- Then MBR-exec's agreement on every input.

What was measured on HumanEval near-miss pools (problems 80-163, kept apart from the bench's 0-79), with
the same random inputs for every rule (Best@K, 10 K-subsets per problem; 30 and 90 inputs):

| rule | K=8, 30 | K=8, 90 | K=16, 30 | K=16, 90 |
|---|---|---|---|---|
| MBR-exec | 0.394 | 0.409 | 0.454 | 0.519 |
| this ranking | 0.390 | 0.419 | 0.454 | 0.519 |
| failures counted where a third return, agreement without failure-majority inputs | 0.393 | 0.414 | 0.353 | 0.390 |

The third rule helped at K=8 with many inputs (0.46 against 0.35 at 400 on part of the set) and lost
badly at K=16, where many mutants return normally on inputs the right program rightly rejects; leaving
inputs out of the agreement is what cost it. This ranking is MBR-exec with failures on inputs most
candidates handle put first: it ties MBR-exec, and does not lose.

Every other rule tried since (`bench/verify_rules.py`, problems 80-163, the same 200 random inputs per
problem, first n used, 10 K-subsets; paired difference from MBR-exec with a 95% bootstrap interval):

| rule | K=4, n=90 | K=8, n=30 | K=8, n=90 | K=16, n=90 |
|---|---|---|---|---|
| MBR-exec | 0.463 | 0.389 | 0.453 | 0.575 |
| inputs weighted by groups they split | +0.001 | -0.010 | -0.019 [-0.04,-0.00] | 0.000 |
| one vote per distinct split | +0.009 | -0.019 [-0.03,-0.01] | -0.021 [-0.04,-0.00] | -0.035 [-0.06,-0.01] |
| agreement on rare outputs weighted up | -0.003 | -0.037 [-0.06,-0.01] | -0.075 [-0.11,-0.04] | -0.121 [-0.17,-0.08] |
| validity: agreement only where i returns, a raise costs | +0.018 [+0.01,+0.03] | -0.005 | -0.008 | -0.061 [-0.10,-0.03] |
| medoid, sqrt of distances | +0.003 | +0.013 | +0.005 | -0.109 [-0.15,-0.07] |
| medoid, log(1 + distance) | +0.005 | +0.008 | -0.006 | -0.218 [-0.27,-0.16] |
| minimax distance | -0.080 [-0.10,-0.05] | -0.152 [-0.19,-0.12] | -0.202 [-0.24,-0.16] | -0.341 [-0.41,-0.27] |
| medoid, squared distances | -0.018 | -0.045 [-0.07,-0.02] | -0.076 [-0.11,-0.05] | +0.007 |
| fewest inputs where i stands alone, then MBR | +0.001 | +0.004 | -0.012 | -0.068 [-0.11,-0.04] |
| public examples' invariants (type, length, sortedness, range) first | 0.000 | +0.001 | 0.000 | 0.000 |
| metamorphic invariances most keep (shuffle, reverse, swap) first | +0.003 | -0.003 | +0.003 | 0.000 |
| ceiling: best share of correct in one behaviour group | 0.664 | 0.622 | 0.676 | 0.848 |

Intervals are shown where they exclude 0. No rule reading these outputs beats MBR-exec beyond noise at
K >= 8; the gap to the ceiling is near misses whose wrong behaviour many mutants share (HumanEval/150:
six mutants that all lose the `n == 1` case against five right programs) and on which nothing in the
outputs, the examples or simple invariances says which side is right.
"""

from __future__ import annotations


def failed(output: str) -> bool:
    return output.startswith("!")


def clusters(
    keys: list[str], indices: list[int], outs: dict[tuple[str, str], str], inputs: list[str]
) -> list[list[int]]:
    """Candidates (by index) grouped by their outputs on `inputs`, largest group first."""
    groups: dict[tuple[str, ...], list[int]] = {}
    for i in indices:
        groups.setdefault(tuple(outs[(keys[i], t)] for t in inputs), []).append(i)
    return sorted(groups.values(), key=len, reverse=True)


def agreement(
    indices: list[int], keys: list[str], outs: dict[tuple[str, str], str], inputs: list[str]
) -> dict[int, int]:
    """MBR-exec's score: for each candidate, over every input, how many other candidates give its output."""
    score = dict.fromkeys(indices, 0)
    for t in inputs:
        counts: dict[str, int] = {}
        for i in indices:
            counts[outs[(keys[i], t)]] = counts.get(outs[(keys[i], t)], 0) + 1
        for i in indices:
            score[i] += counts[outs[(keys[i], t)]] - 1
    return score


def evidence_key(
    groups: list[list[int]], keys: list[str], outs: dict[tuple[str, str], str], inputs: list[str]
) -> dict[int, tuple[int, int]]:
    """Per group (by its first member): (-failures on inputs whose most common output is not a failure,
    MBR-exec agreement on every input); higher is better (see the module docstring)."""
    every = [i for g in groups for i in g]
    normal = []
    for t in inputs:
        counts: dict[str, int] = {}
        for i in every:
            counts[outs[(keys[i], t)]] = counts.get(outs[(keys[i], t)], 0) + 1
        top = max(counts.values())
        if not any(failed(o) and n == top for o, n in counts.items()):
            normal.append(t)
    agree = agreement(every, keys, outs, inputs)
    return {g[0]: (-sum(failed(outs[(keys[g[0]], t)]) for t in normal), agree[g[0]]) for g in groups}


def rank(
    groups: list[list[int]], keys: list[str], outs: dict[tuple[str, str], str], inputs: list[str]
) -> list[list[list[int]]]:
    """The groups in tiers, best tier first; the groups of a tier have equal `evidence_key`s."""
    score = evidence_key(groups, keys, outs, inputs)
    tiers: dict[tuple[int, int], list[list[int]]] = {}
    for g in groups:
        tiers.setdefault(score[g[0]], []).append(g)
    return [tiers[s] for s in sorted(tiers, reverse=True)]
