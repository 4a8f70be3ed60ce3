"""Why a synthesis run made no task, in words a user can act on: written into funnel.json
(`Funnel.no_tasks`) and printed by `codekiln synth`, which then exits 1.

    why = why_no_task(env, cmap, entities, candidates, funnel)   # None when the run made a task
    why.reason, why.hint

A run makes no task when the snapshot gives the mutators nothing a passing test runs: no test passes on
the clean snapshot, the package defines no function, table or data file a test names, no
mutation applies, the suite never runs the package's code (opentelemetry-proto: its one test only
looks the package up), or runs only its module-level code (googleapis-common-protos: generated
descriptors, imported, while the tests that call its functions fail on the clean snapshot). Otherwise
it is the run's own outcome: every candidate tried was rejected, by the reasons counted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from codekiln.core.errors import TaskError
from codekiln.envs import EnvRecord
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity, iter_source_files
from codekiln.tasks.records import RejectedCandidate
from codekiln.tasks.synth_records import Funnel, read_decisions
from codekiln.tasks.validation.coverage_map import CoverageMap, touched_lines


@dataclass(frozen=True)
class NoTask:
    """Why no task came out, and what to do about it."""

    reason: str
    hint: str


def _failing_note(failing: list[str], spec: str) -> str:
    if not failing:
        return ""
    return (
        f"; {len(failing)} test(s) fail on the clean snapshot (e.g. {failing[0]}) and cannot catch a bug: "
        f"`codekiln env test {spec}` shows why"
    )


def _runs_any(cmap: CoverageMap, files: Iterable[str]) -> bool:
    """Whether the coverage run executed any line of `files`, in a test or at import."""
    return any(cmap.lines.get(rel) or cmap.import_lines.get(rel) for rel in files)


def why_no_task(
    env: EnvRecord,
    cmap: CoverageMap,
    entities: list[Entity],
    candidates: list[Candidate],
    funnel: Funnel,
    spec: str = "",
) -> NoTask | None:
    """Why the run whose funnel this is made no task (see the module docstring); None if it made one."""
    if funnel.validated:
        return None
    spec = spec or env.snapshot_id
    passing = {t for t, s in env.baseline.items() if s == "passed"}
    failing = sorted(t for t, s in env.baseline.items() if s in ("failed", "error"))
    fix_env = f"`codekiln env test {spec}` shows why they fail (a missing extra or test dependency?)"
    if not passing:
        return NoTask(
            f"no test of the suite passes on the clean snapshot ({len(failing)} fail): a bug is caught "
            "only by a test that passed before it",
            fix_env,
        )
    if not entities:
        return NoTask(
            "the package defines no function, method, class or data table to mutate (its source is "
            "module-level code, metadata or generated files only)",
            "nothing to synthesize here: pick a library with functions its tests call",
        )
    if not candidates:
        skipped = ", ".join(f"{k} {v}" for k, v in sorted(funnel.skipped_mutations.items())) or "none"
        return NoTask(
            f"no mutation applies to the {len(entities)} entities chosen (mutations skipped: {skipped})",
            "allow more mutators (--mutators), other functions (--functions) or another --seed",
        )
    reached = [
        c
        for c in candidates
        if cmap.tests_for(touched_lines(c.patch)) & passing or cmap.runs_at_import(touched_lines(c.patch))
    ]
    if not reached:
        source = [str(p) for p in iter_source_files(Path(env.snapshot_path))]
        if not _runs_any(cmap, source):
            what = (
                f"no passing test executes any code of the package (the {len(passing)} passing test(s) "
                f"run no line of its {len(source)} source files): nothing to mutate under test"
            )
        else:
            what = (
                "the passing tests run only the package's module-level code (imports, metadata, "
                f"generated tables: never mutated), never one of the lines the {len(candidates)} candidate "
                "bugs change in its functions, methods and tables: nothing to mutate under test"
            )
        return NoTask(
            what + _failing_note(failing, spec),
            fix_env
            if failing
            else "synthesis needs tests that call the package's functions: use a library whose suite does",
        )
    rejected = ", ".join(f"{k} {v}" for k, v in sorted(funnel.rejected.items(), key=lambda kv: -kv[1]))
    return NoTask(
        f"every one of the {funnel.tried} candidates tried was rejected ({rejected or 'none decided'})"
        f"{_data_note(entities, candidates, funnel)}; "
        f"{len(reached)} of the {len(candidates)} change code a passing test runs",
        "try more candidates (--max-candidates), other --mutators or another --seed; "
        "`codekiln synth ... --details` keeps each decision's test statuses",
    )


def _data_note(entities: list[Entity], candidates: list[Candidate], funnel: Funnel) -> str:
    """For a run that tried every candidate and whose bugs in module-level tables and constants
    (`frontend.data`), like all the others, failed no test:
    which tables, and that the suite compares none of their entries (trove-classifiers' tests check
    its checker on inline data, never the real tables)."""
    data = {e.id: e.qualname for e in entities if e.kind == "data"}
    hit = sorted({data[e] for c in candidates for e in c.entities if e in data})
    if not hit or set(funnel.rejected) != {"no_failing_test"} or funnel.tried < len(candidates):
        return ""
    n = sum(1 for c in candidates if any(e in data for e in c.entities))
    names = ", ".join(hit[:3]) + (f" and {len(hit) - 3} more" if len(hit) > 3 else "")
    return f", the {n} in its module-level tables and constants ({names}) too: no passing test compares them"


# What to do when most candidates fall to one reason (the reasons a user can act on).
REASON_HINTS = {
    "workspace_names_hidden_test": "rerun with --visible-tests (the failing tests stay in the agent's "
    "workspace), or remove the copies of their code from the repository",
    "no_failing_test": "the suite misses these bugs: try other --mutators, or more --max-tasks",
    "baseline_failed": "the clean suite does not run: check `codekiln env test SPEC`",
    "no_hidden_failing_test": "only tests the agent can read catch these bugs (doctests of library "
    "modules): add tests in test files, or rerun with --visible-tests to keep them as visible-test tasks",
    "import_breakage": "add --allow-import-breakage to keep bugs that break `import` while the tests still "
    "run (each fails to collect); one that stops pytest before any test (a root conftest or a plugin of the "
    "test run imports the package) can never be a task: pick other --functions",
    "validation_error": "codekiln failed on these candidates (a bug of codekiln's, named in rejected.jsonl's "
    "detail): report it; once fixed, rerun with --redo to validate them again",
}


def _rejection_error(funnel: Funnel, out: Path) -> TaskError:
    """Why a run that decided candidates made no task: its first reason, with one example."""
    reason, count = max(funnel.rejected.items(), key=lambda kv: kv[1])
    example = next(
        (d.detail for d in read_decisions(out) if isinstance(d, RejectedCandidate) and d.reason == reason), ""
    )
    return TaskError(
        f"no task: {count} of {funnel.tried} candidates were rejected as {reason}"
        + (f" ({example})" if example else ""),
        hint=REASON_HINTS.get(reason, "see rejected.jsonl in the output directory for each reason"),
    )


def no_task_error(funnel: Funnel, out: Path, spec: str, tasks: int) -> TaskError | None:
    """The error `codekiln synth` ends with when its run made no task (None when it made one). A
    rejection the user fixes directly (a file naming the hidden tests, a broken baseline) names its
    fix; candidates the suite does not catch get the run's diagnosis (`why_no_task`) instead."""
    if not funnel.validated and funnel.rejected:
        top = max(funnel.rejected.items(), key=lambda kv: kv[1])[0]
        if (top in REASON_HINTS and top != "no_failing_test") or not funnel.no_tasks:
            return _rejection_error(funnel, out)
    if tasks == 0 and funnel.no_tasks:
        return TaskError(f"no task came out of {spec}: {funnel.no_tasks}", hint=funnel.no_tasks_hint)
    return None


__all__ = ["REASON_HINTS", "NoTask", "no_task_error", "why_no_task"]
