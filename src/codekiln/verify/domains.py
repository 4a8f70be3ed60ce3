"""Type-driven input domains: inferred from example inputs, checked by an executable validator, sampled,
mutated and shrunk.

    domains = infer_domains([(1, [2.0]), (3, [])])       # one Domain per parameter
    validator_source(domains)                           # Python source of `validate(*args) -> bool`
    sample(domains, rng)                                 # a fresh argument tuple inside the domains
    mutate(args, domains, rng); shrink(args)             # neighbours of a found input

A domain is a JSON-ready dict: {"t": "int", "lo": 0, "hi": 9}, {"t": "float", ...}, {"t": "str",
"chars": "abc", "lo": 0, "hi": 12}, {"t": "bool"}, {"t": "none"}, {"t": "list", "of": D, "lo": 1,
"hi": 8}, {"t": "tuple", "items": [D, ...]}, {"t": "dict", "k": D, "v": D, "lo": 0, "hi": 5},
{"t": "any", "of": [D, ...]} (a union).

Limits, by design: the domain is what the examples show, widened a little (numbers to twice the
largest magnitude seen, keeping the sign constraints the examples obey; strings to the characters
seen; lengths up to twice the longest seen, non-empty when every example is). A problem's real
preconditions ("a prime", "sorted", "balanced brackets") are not inferred: such inputs may be
generated and are still called valid. Labelling guards against that by keeping only inputs on which
the hidden reference returns normally (see `pools`); the selectors never see the reference.
"""

from __future__ import annotations

import json
import random
import string
from typing import Any

Domain = dict[str, Any]

_ALPHABET = string.ascii_lowercase


def _merge(a: Domain, b: Domain) -> Domain:
    if a["t"] == "any":
        options = list(a["of"])
        for i, opt in enumerate(options):
            if opt["t"] == b["t"] and b["t"] != "any":
                options[i] = _merge(opt, b)
                return {"t": "any", "of": options}
        return {"t": "any", "of": [*options, b]}
    if b["t"] == "any":
        return _merge(b, a)
    if a["t"] != b["t"]:
        if {a["t"], b["t"]} == {"int", "float"}:  # an int among floats is a float
            lo, hi = min(a["lo"], b["lo"]), max(a["hi"], b["hi"])
            return {"t": "float", "lo": lo, "hi": hi}
        return {"t": "any", "of": [a, b]}
    t = a["t"]
    if t in ("int", "float"):
        return {"t": t, "lo": min(a["lo"], b["lo"]), "hi": max(a["hi"], b["hi"])}
    if t == "str":
        chars = "".join(sorted(set(a["chars"]) | set(b["chars"])))
        return {"t": "str", "chars": chars, "lo": min(a["lo"], b["lo"]), "hi": max(a["hi"], b["hi"])}
    if t == "list":
        of = a["of"] if b["of"] is None else (b["of"] if a["of"] is None else _merge(a["of"], b["of"]))
        return {"t": "list", "of": of, "lo": min(a["lo"], b["lo"]), "hi": max(a["hi"], b["hi"])}
    if t == "tuple":
        if len(a["items"]) != len(b["items"]):
            return {"t": "any", "of": [a, b]}
        return {"t": "tuple", "items": [_merge(x, y) for x, y in zip(a["items"], b["items"], strict=True)]}
    if t == "dict":
        k = a["k"] if b["k"] is None else (b["k"] if a["k"] is None else _merge(a["k"], b["k"]))
        v = a["v"] if b["v"] is None else (b["v"] if a["v"] is None else _merge(a["v"], b["v"]))
        return {"t": "dict", "k": k, "v": v, "lo": min(a["lo"], b["lo"]), "hi": max(a["hi"], b["hi"])}
    return a


def _of_value(value: Any) -> Domain:
    if isinstance(value, bool):
        return {"t": "bool"}
    if value is None:
        return {"t": "none"}
    if isinstance(value, int):
        return {"t": "int", "lo": value, "hi": value}
    if isinstance(value, float):
        return {"t": "float", "lo": value, "hi": value}
    if isinstance(value, str):
        return {"t": "str", "chars": "".join(sorted(set(value))), "lo": len(value), "hi": len(value)}
    if isinstance(value, list):
        of: Domain | None = None
        for item in value:
            of = _of_value(item) if of is None else _merge(of, _of_value(item))
        return {"t": "list", "of": of, "lo": len(value), "hi": len(value)}
    if isinstance(value, tuple):
        return {"t": "tuple", "items": [_of_value(v) for v in value]}
    if isinstance(value, dict):
        k = v = None
        for key, val in value.items():
            k = _of_value(key) if k is None else _merge(k, _of_value(key))
            v = _of_value(val) if v is None else _merge(v, _of_value(val))
        return {"t": "dict", "k": k, "v": v, "lo": len(value), "hi": len(value)}
    raise ValueError(f"no domain for a value of type {type(value).__name__}")


def _widen(d: Domain | None) -> Domain:
    """Grow an observed range into a domain: magnitudes x2 (signs kept), lengths x2, empty allowed
    only where seen, an unknown element type (only empty lists seen) taken as small ints."""
    if d is None:
        return {"t": "int", "lo": 0, "hi": 9}
    t = d["t"]
    if t in ("int", "float"):
        lo, hi = d["lo"], d["hi"]
        span = max(abs(lo), abs(hi), 3)
        new_lo = lo if lo >= 0 and lo <= 1 else (0 if lo >= 0 else -2 * span)
        new_hi = 2 * span if hi > 0 else hi
        if lo > 1:  # every example positive: keep it so
            new_lo = 1
        if t == "int":
            return {"t": "int", "lo": int(new_lo), "hi": int(new_hi)}
        return {"t": "float", "lo": float(new_lo), "hi": float(new_hi)}
    if t == "str":
        chars = d["chars"] or _ALPHABET[:3]
        return {"t": "str", "chars": chars, "lo": d["lo"] and 1, "hi": max(2 * d["hi"], 4)}
    if t == "list":
        return {"t": "list", "of": _widen(d["of"]), "lo": d["lo"] and 1, "hi": max(2 * d["hi"], 4)}
    if t == "tuple":
        return {"t": "tuple", "items": [_widen(x) for x in d["items"]]}
    if t == "dict":
        return {
            "t": "dict",
            "k": _widen(d["k"]),
            "v": _widen(d["v"]),
            "lo": d["lo"] and 1,
            "hi": max(2 * d["hi"], 4),
        }
    if t == "any":
        return {"t": "any", "of": [_widen(x) for x in d["of"]]}
    return d


def infer_domains(examples: list[tuple[Any, ...]]) -> list[Domain]:
    """One domain per parameter from example argument tuples (all of the same arity)."""
    if not examples:
        raise ValueError("no example inputs to infer a domain from")
    arity = len(examples[0])
    if any(len(e) != arity for e in examples):
        raise ValueError("example inputs of different arity")
    out = []
    for i in range(arity):
        seen: Domain | None = None
        for example in examples:
            d = _of_value(example[i])
            seen = d if seen is None else _merge(seen, d)
        out.append(_widen(seen))
    return out


# -- checking (the same code runs host-side and, as text, in validators) ----------------------------
CHECK_SOURCE = """
def _in(d, v):
    t = d["t"]
    if t == "any":
        return any(_in(o, v) for o in d["of"])
    if t == "bool":
        return isinstance(v, bool)
    if t == "none":
        return v is None
    if t == "int":
        return type(v) is int and d["lo"] <= v <= d["hi"]
    if t == "float":
        return type(v) in (int, float) and d["lo"] <= v <= d["hi"]
    if t == "str":
        return type(v) is str and d["lo"] <= len(v) <= d["hi"] and set(v) <= set(d["chars"])
    if t == "list":
        return type(v) is list and d["lo"] <= len(v) <= d["hi"] and all(_in(d["of"], x) for x in v)
    if t == "tuple":
        return type(v) is tuple and len(v) == len(d["items"]) and all(map(_in, d["items"], v))
    if t == "dict":
        return (type(v) is dict and d["lo"] <= len(v) <= d["hi"]
                and all(_in(d["k"], k) and _in(d["v"], x) for k, x in v.items()))
    return False
"""
_check_ns: dict[str, Any] = {}
exec(CHECK_SOURCE, _check_ns)


def valid(domains: list[Domain], args: tuple[Any, ...]) -> bool:
    """True when `args` lies inside the domains (what `validator_source`'s function returns)."""
    return len(args) == len(domains) and all(
        _check_ns["_in"](d, a) for d, a in zip(domains, args, strict=True)
    )


def validator_source(domains: list[Domain]) -> str:
    """Standalone Python source defining `validate(*args) -> bool` for these domains."""
    return (
        f"DOMAINS = {json.dumps(domains)}\n{CHECK_SOURCE}\n"
        "def validate(*args):\n"
        "    return len(args) == len(DOMAINS) and all(_in(d, a) for d, a in zip(DOMAINS, args))\n"
    )


# -- generating ---------------------------------------------------------------------------------------
def _length(d: Domain, rng: random.Random) -> int:
    lo, hi = d["lo"], d["hi"]
    return rng.choice([lo, min(lo + 1, hi), rng.randint(lo, hi), rng.randint(lo, hi)])


def draw(d: Domain, rng: random.Random) -> Any:
    """A random value inside `d`, edges (bounds, empty, zero) drawn more often than their share."""
    t = d["t"]
    if t == "any":
        return draw(rng.choice(d["of"]), rng)
    if t == "bool":
        return rng.random() < 0.5
    if t == "none":
        return None
    if t == "int":
        lo, hi = d["lo"], d["hi"]
        edges = [x for x in (lo, hi, 0, 1, -1) if lo <= x <= hi]
        return rng.choice(edges) if rng.random() < 0.2 else rng.randint(lo, hi)
    if t == "float":
        return round(rng.uniform(d["lo"], d["hi"]), rng.choice([0, 1, 2]))
    if t == "str":
        return "".join(rng.choice(d["chars"]) for _ in range(_length(d, rng)))
    if t == "list":
        return [draw(d["of"], rng) for _ in range(_length(d, rng))]
    if t == "tuple":
        return tuple(draw(x, rng) for x in d["items"])
    if t == "dict":
        return {draw(d["k"], rng): draw(d["v"], rng) for _ in range(_length(d, rng))}
    raise ValueError(f"unknown domain {d!r}")


def sample(domains: list[Domain], rng: random.Random) -> tuple[Any, ...]:
    return tuple(draw(d, rng) for d in domains)


def _mutate_value(v: Any, d: Domain, rng: random.Random) -> Any:
    if isinstance(v, bool) or v is None:
        return draw(d, rng)
    if isinstance(v, int | float):
        return rng.choice([v + 1, v - 1, v * 2, -v, 0, draw(d, rng)])
    if isinstance(v, str):
        chars = d.get("chars") or _ALPHABET
        i = rng.randrange(len(v) + 1)
        op = rng.randrange(4)
        if op == 3 and v:  # a repeated character
            return v[:i] + rng.choice(v) + v[i:]
        if op == 0 or not v:
            return v[:i] + rng.choice(chars) + v[i:]
        j = min(i, len(v) - 1)
        return v[:j] + v[j + 1 :] if op == 1 else v[:j] + rng.choice(chars) + v[j + 1 :]
    if isinstance(v, list):
        out = list(v)
        elem = d.get("of") or {"t": "int", "lo": 0, "hi": 9}
        op = rng.randrange(6)
        if op == 0 or not out:  # a new element
            out.insert(rng.randrange(len(out) + 1), draw(elem, rng))
        elif op == 1:  # one fewer
            out.pop(rng.randrange(len(out)))
        elif op == 2:  # one element changed
            i = rng.randrange(len(out))
            out[i] = _mutate_value(out[i], elem, rng)
        elif op == 3:  # a repeated element (duplicates break many near misses)
            out.insert(rng.randrange(len(out) + 1), rng.choice(out))
        elif op == 4:  # order: shuffled, sorted or reversed
            order = rng.randrange(3)
            if order == 0:
                rng.shuffle(out)
            else:
                try:
                    out.sort(reverse=order == 2)
                except TypeError:
                    rng.shuffle(out)
        else:  # two elements swapped
            i, j = rng.randrange(len(out)), rng.randrange(len(out))
            out[i], out[j] = out[j], out[i]
        return out
    if isinstance(v, tuple) and d.get("t") == "tuple" and v:
        i = rng.randrange(len(v))
        return (*v[:i], _mutate_value(v[i], d["items"][i], rng), *v[i + 1 :])
    return draw(d, rng)


def mutate(args: tuple[Any, ...], domains: list[Domain], rng: random.Random) -> tuple[Any, ...]:
    """A neighbour of `args`: one argument changed a little (may fall outside the domains: check it)."""
    if not args:
        return args
    i = rng.randrange(len(args))
    d: Domain = domains[i] if i < len(domains) else {"t": "int", "lo": 0, "hi": 9}
    if d["t"] == "any":
        options: list[Domain] = d["of"]
        d = next((o for o in options if valid([o], (args[i],))), options[0])
    return (*args[:i], _mutate_value(args[i], d, rng), *args[i + 1 :])


def _smaller(v: Any) -> list[Any]:
    if isinstance(v, bool) or v is None:
        return []
    if isinstance(v, int):
        return [x for x in (0, v // 2, v - 1 if v > 0 else v + 1) if abs(x) < abs(v)]
    if isinstance(v, float):
        return [x for x in (0.0, float(round(v)), v / 2) if abs(x) < abs(v)]
    if isinstance(v, str | list):
        seq: Any = v
        halves = [seq[: len(seq) // 2], seq[len(seq) // 2 :]] if len(seq) > 1 else []
        return halves + [seq[:i] + seq[i + 1 :] for i in range(len(seq))][:8]
    return []


def shrink(args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Smaller neighbours of `args` (one argument made shorter or nearer zero), simplest first."""
    out = []
    for i, v in enumerate(args):
        for smaller in _smaller(v):
            out.append((*args[:i], smaller, *args[i + 1 :]))
    return out


def size(args: tuple[Any, ...]) -> int:
    """How big an input reads (its repr's length): what shrinking lowers."""
    return len(repr(args))
