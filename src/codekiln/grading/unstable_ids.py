"""Test ids that name an object's memory address, which no later process can select by id.

A parametrized case whose id pytest made from an object's default repr (`<pkg.Thing object at
0x7f07f969cf50>`) is named differently in every process: the id the coverage map or the baseline
recorded is "not found" in the next run, and one such id makes pytest refuse the whole run. The runner
therefore asks pytest for such a case's function (all its cases) and reads the case back by its id
with the address blanked:

    args = [*stable, *function_ids(unstable)]          # what pytest is given
    statuses = read_back(statuses, unstable)           # the requested ids, their statuses

Two cases of one function whose ids differ only by addresses read back as one id, the worse status
winning, as pytest reports a test that failed in any phase. A case whose id the library renamed (its
objects' `repr`) counts against every requested case of its function, but for as many cases as the
clean tree's run had not passing under its id (`read_back`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

ADDRESS = re.compile(r" at 0x[0-9a-fA-F]{4,}>")
RANK = {"skipped": 0, "passed": 1, "failed": 2, "error": 3}


def blank(test_id: str) -> str:
    return ADDRESS.sub(" at 0x?>", test_id)


def is_unstable(test_id: str) -> bool:
    return "[" in test_id and ADDRESS.search(test_id) is not None


def function_id(test_id: str) -> str:
    """`path::Class::test[params]` -> `path::Class::test`: the id that selects every case."""
    start = test_id.find("::")
    return test_id[: test_id.index("[", start)] if "[" in test_id[start:] else test_id


def split(tests: Iterable[str]) -> tuple[list[str], list[str]]:
    """(ids pytest can select as they are, ids it cannot)."""
    stable: list[str] = []
    unstable: list[str] = []
    for t in tests:
        (unstable if is_unstable(t) else stable).append(t)
    return stable, unstable


def function_ids(unstable: Iterable[str]) -> list[str]:
    return sorted({function_id(t) for t in unstable})


def selected_by(test_id: str, functions: set[str]) -> bool:
    """Whether a reported id is a case of one of the functions asked for in place of unstable ids."""
    return function_id(test_id) in functions


def cases_of(statuses: Mapping[str, str], tests: Iterable[str]) -> dict[str, str]:
    """`statuses` of the cases of the functions `tests` asks for in place of unstable ids: what
    `read_back` reads of a baseline (an exported task's verifier is given these, `state.json`)."""
    functions = set(function_ids(split(tests)[1]))
    return {t: s for t, s in statuses.items() if selected_by(t, functions)}


def as_recorded(found: Iterable[str], recorded: Iterable[str]) -> dict[str, str]:
    """Each id another process reported (`found`) under the id `recorded` holds for the same case:
    itself when recorded, else the recorded id it equals once addresses are blanked (a coverage run's
    `test_x[<T object at 0x7f..>]` is the baseline's case of another address); unmatched ids as they are."""
    known = set(recorded)
    by_blank: dict[str, str] = {}
    for t in sorted(known):
        if is_unstable(t):
            by_blank.setdefault(blank(t), t)
    return {t: t if t in known else by_blank.get(blank(t), t) for t in found}


def read_back(
    statuses: Mapping[str, str],
    messages: Mapping[str, str],
    unstable: list[str],
    requested: set[str],
    before: Mapping[str, str] | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """The run's statuses with each unstable requested id read back by its blanked id; cases that ran
    only because their function was asked for in its place are left out, as unrequested ids are.

    A case of an asked function whose id blanks to no requested id is renamed: the library under test
    names it (its objects' `repr`), so it may be any of the function's requested cases. A case the
    graded list left out (`cases.sample_cases`) counts too: an id it held at baseline is one a renamed
    case can take. Each of them reads the worst of those too: a failing case renamed out of its id
    leaves no passing one under it, and a fix that renames every case is read by the cases that ran,
    where the requested ids would otherwise all be missing.

    `before`: the clean tree's statuses (the environment's baseline; None where not known). A blanked
    id whose cases did not all pass there may hold as many cases, and as many not passing, as it did:
    those are neither graded nor this change's doing, and not read as renamed. Past either count its
    worst cases are (`_held`), as a failing case renamed into that id would be."""
    if not unstable:
        return dict(statuses), dict(messages)
    wanted = {blank(t): t for t in unstable}
    functions = set(function_ids(unstable))
    settled: dict[str, list[str]] = {}  # blanked id -> its statuses before, where one did not pass
    for test_id, status in (before or {}).items():
        if selected_by(test_id, functions):
            settled.setdefault(blank(test_id), []).append(status)
    settled = {b: held for b, held in settled.items() if any(s != "passed" for s in held)}
    out: dict[str, str] = {}
    notes: dict[str, str] = {}
    renamed: dict[str, list[str]] = {}
    under: dict[str, list[str]] = {}  # a settled blanked id -> its cases in this run
    for test_id, status in statuses.items():
        if test_id in requested:
            out[test_id] = status
            if test_id in messages:
                notes[test_id] = messages[test_id]
            continue
        asked = wanted.get(blank(test_id))
        if asked is not None:
            _worst(out, notes, asked, status, messages.get(test_id))
        elif not selected_by(test_id, functions):
            out[test_id] = status  # neither asked for nor a case of an asked function: kept, as before
            if test_id in messages:
                notes[test_id] = messages[test_id]
        elif blank(test_id) in settled:
            under.setdefault(blank(test_id), []).append(test_id)
        else:
            renamed.setdefault(function_id(test_id), []).append(test_id)
    for b, cases in under.items():
        renamed.setdefault(function_id(cases[0]), []).extend(_held(cases, statuses, settled[b]))
    for asked in unstable:
        for test_id in renamed.get(function_id(asked), []):
            _worst(out, notes, asked, statuses[test_id], messages.get(test_id))
    return out, notes


def _held(cases: list[str], statuses: Mapping[str, str], held: list[str]) -> list[str]:
    """The cases of one blanked id beyond what it `held` on the clean tree: past as many cases as it
    held, or as many not passing, the worst of them (a failing case renamed into the id is one more)."""
    worst = sorted(cases, key=lambda t: (statuses[t] != "passed", RANK.get(statuses[t], 3)), reverse=True)
    failing = sum(statuses[t] != "passed" for t in cases)
    extra = max(len(cases) - len(held), failing - sum(s != "passed" for s in held), 0)
    return worst[:extra]


def _worst(out: dict[str, str], notes: dict[str, str], asked: str, status: str, message: str | None) -> None:
    """`asked` reads `status` where it is worse than what it read so far, as pytest reports a test that
    failed in any phase."""
    if asked not in out or RANK.get(status, 3) > RANK.get(out[asked], 3):
        out[asked] = status
        if message is not None:
            notes[asked] = message
