"""A string's or bytes literal's twin text (`grading.twins`): one of its letters or digits, outside its
escape sequences, replaced by another of its kind (digit, lowercase, uppercase), equal to neither
neighbour where another is left: the same length, quotes and prefix, and no mark a library could check
without the real text. Which character is replaced and by what is drawn from the seed alone (`_key`),
so the same answer written twice changes alike.

    retyped(b'"3\\n"', seed)   # b'"7\\n"'; None when the literal has no letter or digit outside escapes
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import random
import tokenize

KINDS = ("0123456789", "abcdefghijklmnopqrstuvwxyz")


@functools.lru_cache(maxsize=64)
def _key(seed: str) -> tuple[dict[str, int], dict[str, str]]:
    """The seed's key: a rank of each digit and letter (which of a literal's characters is replaced),
    and each one's replacements of its kind in the order they are tried (a letter's case kept)."""
    rng = random.Random(hashlib.sha256(seed.encode()).digest())
    order = rng.sample("".join(KINDS), sum(map(len, KINDS)))
    prefs = {c: "".join(rng.sample(kind.replace(c, ""), len(kind) - 1)) for kind in KINDS for c in kind}
    return {c: i for i, c in enumerate(order)}, prefs


def _swapped(text: str, places: list[int], seed: str) -> str | None:
    """`text` with one character at `places` replaced by another of its kind (a digit by a digit, a
    lowercase letter by a lowercase one, an uppercase by an uppercase): the first of the highest-ranked
    character (`_key`), by its first replacement equal to neither neighbour. The new text has no pair of
    equal characters the old one lacked, and the same answer written twice changes the same way."""
    rank, prefs = _key(seed)
    for at in sorted(places, key=lambda i: (rank[text[i].lower()], i)):
        c = text[at]
        near = {text[at - 1] if at else "", text[at + 1 : at + 2]}
        for x in prefs[c.lower()]:
            new = x.upper() if c.isupper() else x
            if new not in near:
                return text[:at] + new + text[at + 1 :]
    return None


def retyped(text: bytes, seed: str) -> bytes | None:
    """A string literal with one of its letters or digits (none inside an escape sequence) replaced by
    another of its kind (`_swapped`): same length, quotes, prefixes and lines, and no mark a library
    could check without the real text (a letter typed twice, an added letter, a quote style the file
    does not use). None where it has no such letter or digit."""
    try:
        source = text.decode("utf-8")
        places = [p for start, token in _pieces(source) for p in _plain(token, start)]
    except (UnicodeDecodeError, SyntaxError, tokenize.TokenError, IndentationError):
        return None
    new = _swapped(source, places, seed)
    if new is None:
        return None
    try:
        changed = ast.literal_eval(f"({new})") != ast.literal_eval(f"({source})")
    except (SyntaxError, ValueError):
        return None
    return new.encode("utf-8") if changed else None


def _pieces(source: str) -> list[tuple[int, str]]:
    """(offset, text) of each string token of a literal (implicitly joined pieces: several)."""
    starts = [0] + [i + 1 for i, c in enumerate(source) if c == "\n"]
    tokens = tokenize.generate_tokens(io.StringIO(f"({source})").readline)
    # the parenthesis shifts the first line's columns by one
    return [
        (starts[t.start[0] - 1] + t.start[1] - (t.start[0] == 1), t.string)
        for t in tokens
        if t.type == tokenize.STRING
    ]


def _plain(token: str, offset: int) -> list[int]:
    """The offsets of a string token's letters and digits that lie outside its escape sequences."""
    prefix = len(token) - len(token.lstrip("bBrRuU"))
    flags = token[:prefix].lower()
    quotes = 3 if token[prefix : prefix + 3] in ('"""', "'''") else 1
    body, at = token[prefix + quotes : len(token) - quotes], prefix + quotes
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and "r" not in flags:
            i += _escape_length(body, i, "b" in flags)
            continue
        if body[i] == "\\":  # raw: a backslash keeps the character after it, a quote too
            i += 2
            continue
        if body[i].isalnum() and body[i].isascii():
            out.append(offset + at + i)
        i += 1
    return out


OCTAL = "01234567"


def _escape_length(body: str, i: int, is_bytes: bool) -> int:
    """How many characters the escape sequence at `body[i]` (a backslash) spans."""
    c = body[i + 1 : i + 2]
    if c == "x":
        return 4
    if c in ("u", "U") and not is_bytes:
        return 6 if c == "u" else 10
    if c == "N" and not is_bytes:
        end = body.find("}", i)
        return end - i + 1 if end > 0 else 2
    if c and c in OCTAL:
        n = 2
        while n < 4 and i + n < len(body) and body[i + n] in OCTAL:
            n += 1
        return n
    return 3 if body[i + 1 : i + 3] == "\r\n" else 2


__all__ = ["retyped"]
