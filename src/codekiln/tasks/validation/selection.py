"""Which tests validation runs for a candidate bug, and what they cost, known before any run: from the
coverage map alone, with no sandbox. `validate.Validator` selects with it; synthesis orders its first
candidates by it (`cheap_first`).

    passing = passing_sample(env.baseline, root, lean=cmap.lean)  # what validation selects from
    tests = selected_tests(cmap, passing, cand, entities)  # the selection `Validator.select` runs
    cmap.duration(tests)                                   # seconds they took in the coverage run
    ordered = ordered_for_synthesis(candidates, cmap, env.baseline, entities)   # `cheap_first`

`cheap_first`: a short run (`codekiln synth --max-tasks 3`) writes nothing until its first batch is
decided, and one candidate that selects the whole suite (its lines ran at import time, or no test is
known to run them) made that batch cost the whole suite several times over: packaging 26.3's first
batch of 3 took 148 s, 105 of them in fresh pytest processes for the one bug of the three that
selected all 3,358 sampled tests (each process collects the 62,423 cases of their files). So the
`FRONT` cheapest of the first `WINDOW` candidates go first, cheapest first, and every other keeps its
place. The cost counts the grader's side too (`validation_cost`: a task's hidden files are graded
whole, every case, and the gate grades one task of the first batch for real), and the engine's own
runs of the selection, in started seconds per
test, so that it hangs on how many tests run and which are slow, not on timing noise. Where one test
file holds most of a suite (s3fs 2026.9.0: 222 of its 382 tests in `test_s3fs.py`, each creating
buckets on a local moto server), every candidate's hidden file is that one, and the grader's side alone
ranked them all alike: the first batch took the seeded first three, whose selections held a 20 s test,
and its engine runs took 262 s where the cheapest selections of the window (one sub-second test)
took seconds. The order depends
only on the candidates and the coverage map, so a resumed run sees the same order as an uninterrupted
one, and another machine sees the same order for a suite whose tests each take under a second (a slow
test near a whole second can count one more there).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TypeVar

from codekiln.core.testnames import named_inside_an_item, shares_file_state
from codekiln.grading.cases import sample_cases
from codekiln.grading.suite_order import in_suite_order
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.validation.config import ValidateConfig
from codekiln.tasks.validation.coverage_map import CoverageMap, touched_lines

FRONT = 8
"""How many candidates `cheap_first` moves to the front (a default batch's worth)."""
WINDOW = 32
"""Among how many of the first candidates it picks them."""
COST_STEP_S = 1.0
"""A test's cost is its started seconds in the coverage run (`validation_cost`): sub-second tests cost
the same everywhere."""
ENGINE_RUNS = 3
"""How many more times than the grader the engine runs a selection (`validation_cost`): the bug's run
and its failing tests' reruns, the clean side's own run of the selection and its fresh reruns
(`ValidateConfig.reruns` - 1, 2 by default); the grader runs it once, with the rest of its files."""
T = TypeVar("T")


def passing_sample(baseline: Mapping[str, str], root: Path | None = None, *, lean: bool = False) -> set[str]:
    """The tests validation selects from: the sample (`grading.cases`; `lean`, as the coverage map's
    `lean` says it was mapped) of the clean-passing ones, less those pytest cannot be asked for by id
    (`requestable`, when the snapshot `root` is given)."""
    passing = (t for t, s in baseline.items() if s == "passed" and (root is None or requestable(t, root)))
    return set(sample_cases(passing, lean=lean))


def requestable(test_id: str, root: Path) -> bool:
    """False for an item of a directory (pytest-checkdocs' `.::project`): pytest refuses the id as an
    argument ("directory argument cannot contain :: selection parts") and runs nothing else of the
    run that asks for it, so every selection holding it (a whole-suite one: zipp 4.1.2) came back
    `infra_error` "no tests collected"; and for an item named with `::` (pytest-ruff's
    `t.py::ruff::format`, `core.testnames.named_inside_an_item`), which pytest never finds by id."""
    path, sep, _ = test_id.partition("::")
    return not (sep and (root / path).is_dir()) and not named_inside_an_item(test_id, root)


def candidate_lines(cand: Candidate, entities: Mapping[str, Entity]) -> dict[str, set[int]]:
    """The lines a bug touches, and those of the entities it mutates."""
    lines = touched_lines(cand.patch)
    for eid in cand.entities:
        entity = entities.get(eid)
        if entity is not None:
            lines.setdefault(entity.file, set()).update(range(entity.start_line, entity.end_line + 1))
    return lines


def selected_tests(
    cmap: CoverageMap, passing: set[str], cand: Candidate, entities: Mapping[str, Entity]
) -> list[str]:
    """The clean-passing tests that run the mutated code; all of them when none is known to, or when the
    touched lines ran at import time (code run then can change what any test sees)."""
    covering = cmap.tests_for(candidate_lines(cand, entities))
    if not covering or cmap.runs_at_import(touched_lines(cand.patch)):
        return sorted(passing)
    return sorted(t for t in covering if t in passing)


def within_limit(tests: list[str], cmap: CoverageMap, config: ValidateConfig) -> list[str]:
    """`tests` less those that alone took longer in the coverage run than any run may take
    (`ValidateConfig.timeout_max_s`), unless that leaves none (the selection is then rejected unrun,
    `timeout`). fastjsonschema 2.22.3's `test_validate[issue-109]` compiles a large FHIR schema (129 s
    under coverage, 30 to 55 s plainly) and runs nearly every line of its code generators: each
    selection holding it was over the limit, 383 of 553 candidates `timeout`, no task. Left out, it
    is still graded as PASS_TO_PASS when a task's hidden file holds it (`grading.collateral`)."""
    kept = [t for t in tests if cmap.duration([t]) <= config.timeout_max_s]
    return kept or tests


def with_whole_files(tests: list[str], passing: set[str], suite: Iterable[str]) -> list[str]:
    """`tests` with every test of `passing` in each file they hold whose items share its state
    (`core.testnames.shares_file_state`: sybil's examples of one document run in turn in one
    namespace), all in the order of `suite` (the baseline's ids, in run order), so that every run
    sees such a file's items as the suite's own run did; `tests` as they are when they hold none.
    testfixtures 12.4.0: examples selected alone failed on the clean snapshot with NameError, and
    sybil's report of such a failure crashed pytest ("IndexError" in its `_traceback_filter`), every
    candidate of the batch `infra_error`. The skipped items of such a file are not added: they ran
    nothing in the suite's run either."""
    files = {t.split("::", 1)[0] for t in tests if shares_file_state(t)}
    if not files:
        return tests
    order = list(suite)
    more = [t for t in order if t in passing and t.split("::", 1)[0] in files]
    return in_suite_order([*tests, *more], order)


def runnable(
    tests: list[str], cmap: CoverageMap, config: ValidateConfig, passing: set[str], suite: Iterable[str]
) -> list[str]:
    """A selection as validation runs it: `within_limit`, then `with_whole_files`."""
    return with_whole_files(within_limit(tests, cmap, config), passing, suite)


def too_slow(tests: list[str], cmap: CoverageMap, config: ValidateConfig) -> str:
    """Why a selection is not run: its tests took longer in the coverage run than a run may take
    (`timeout_max_s`), so its runs would be stopped at the limit, and the batch's union of clean
    reruns, which holds them, with them: every candidate of the batch would be a `timeout`."""
    took = cmap.duration(tests)
    return (
        f"not run: its {len(tests)} selected tests took {took:.0f} s in the coverage run, over the "
        f"{config.timeout_max_s:.0f} s a run may take (ValidateConfig.timeout_max_s)"
    )


def cheap_first(
    candidates: list[T], cost: Callable[[T], float], front: int = FRONT, window: int = WINDOW
) -> list[T]:
    """`candidates` with the `front` cheapest of the first `window` first, cheapest first (ties in their
    order), then every other candidate in its order; see the module docstring."""
    head = candidates[:window]
    ranked = sorted(range(len(head)), key=lambda i: (cost(head[i]), i))[:front]
    rest = [c for i, c in enumerate(head) if i not in set(ranked)]
    return [head[i] for i in ranked] + rest + candidates[window:]


def ordered_for_synthesis(
    candidates: Iterable[Candidate],
    cmap: CoverageMap,
    baseline: Mapping[str, str],
    entities: Mapping[str, Entity],
    root: Path | None = None,
) -> list[Candidate]:
    """Synthesis's candidate order: `cheap_first` by what deciding a candidate may cost (`validation_cost`);
    `root`: the snapshot, as `passing_sample` takes it."""
    passing = passing_sample(baseline, root, lean=cmap.lean)
    by_file: dict[str, list[str]] = {}
    for test, status in baseline.items():
        if status == "passed":
            by_file.setdefault(test.split("::", 1)[0], []).append(test)
    return cheap_first(
        list(candidates), lambda c: validation_cost(cmap, selected_tests(cmap, passing, c, entities), by_file)
    )


def validation_cost(cmap: CoverageMap, tests: list[str], by_file: Mapping[str, list[str]]) -> float:
    """What a selection and every clean-passing test of its files cost, every case: the grader gate
    grades a task's hidden files whole (packaging's tests/test_version.py: a one-test selection there is
    graded with its thousands of cases), and the engine runs the selection `ENGINE_RUNS` times more.
    Each test counts one per started `COST_STEP_S` of its coverage-run time, at least one, so the order
    does not hang on timing noise: it was the seconds themselves, and a suite of millisecond tests was
    ordered one way on one machine and another way on the next, giving other tasks for the same
    snapshot and seed."""

    def cost(t: str) -> int:
        return max(1, math.ceil(cmap.durations.get(t, 0.0) / COST_STEP_S))

    every = {t for f in {t.split("::", 1)[0] for t in tests} for t in by_file.get(f, ())}
    return float(sum(map(cost, every | set(tests))) + ENGINE_RUNS * sum(map(cost, set(tests))))
