"""The validation engine: which candidate bugs become tasks, and why the others do not.

`Validator` orchestrates (selection, batches of test jobs, the clean side, the grader gate); the rules
themselves are pure functions of the runs' statuses in `verdict` (steps 3 and 4 below, and the gate).

    with Validator(env, coverage_map(env), entities) as v:
        for decision in v.validate(candidates):      # TaskRecord or RejectedCandidate, in order
            ...

For each candidate, in one sandbox per worker (reset, never recreated):
1. Apply the bug in memory (`patch_failed`, `syntax_error` if it does not apply or parse). A bug may
   remove or create a file (a mined fix that added or deleted one, reversed): the code is imported anew.
2. Select the tests: those the coverage map says execute the mutated entities' lines or the changed
   lines, restricted to tests that pass on the clean snapshot (the environment's baseline); the whole
   passing suite when coverage knows no such test, or when the changed lines run at import time
   (what they compute then can reach any test). Such a bug that changes only functions that did not
   run at import time (a line inserted below a `def` line touches it) runs on the selected tests that
   execute those functions, swapped in like any other, and the others pass as on the clean snapshot
   (`import_time`: the module-level code is unchanged, so nothing else can observe it).
   Of a test function with thousands of parametrized cases, only the sample's (`grading.cases`: at
   most 32 per function) are selectable; the grader still grades every case of the hidden files.
   A selection whose tests took longer in the coverage run than any run may take (`timeout_max_s`)
   is not run (`timeout`, `too_slow`): its runs would be stopped, and the batch's clean reruns with them;
   a test that alone took longer is first left out of a selection holding others (`within_limit`).
   The selection needs no sandbox (`selection`): synthesis orders its first candidates by its cost.
3. Run them with the bug in place; if nothing fails, reject (`no_failing_test`). FAIL_TO_PASS = the
   selected tests that fail, PASS_TO_PASS = the ones that pass, plus every other test of the files
   holding FAIL_TO_PASS that passes on the clean snapshot (`verdict.collateral_tests`: a fix must not
   break the rest of the hidden file, as in SWE-bench). The failing tests are run again, for
   `reruns` runs in all, and must fail every time, or the candidate is `flaky`.
4. The gold side, on the clean snapshot: each selection runs once exactly as the grader will run it
   (a task's FAIL_TO_PASS + PASS_TO_PASS are its selection), then the union of the batch's selected
   tests runs `reruns - 1` more times, each in a new pytest process with its own hash seed and test
   order (`testexec.Job.fresh`: what a real rerun sees); every selected test must pass in all of these runs
   (`gold_failed`, or `flaky` when only some fail). Clean results are kept (`gold.GoldCache`): a
   selection's own run, and a test's reruns, which later batches' unions then leave out. Grading
   the gold patch must also restore exactly the snapshot's files (`grading.restores_snapshot`, the
   grader's own preparation done in memory). The empty patch leaves the buggy state, where
   FAIL_TO_PASS failed every run, so it does not resolve the task.
5. A problem statement from the observed failures (`statements`) that does not leak the fix
   (`statement_leak`) nor name a hidden test (`statement_names_hidden_test`). The failing tests'
   files are hidden from the agent unless `visible_tests`, and no file of the agent's workspace may
   hold their code either (`workspace_names_hidden_test`; build manifests are scrubbed: `grading.manifests`).
   At least one failing test must be hidden (`no_hidden_failing_test`, unless `visible_tests`): a task
   failed only by tests the agent reads (doctests of the module the bug is in) is resolved by a patch
   that special-cases their inputs (`if (x, low, high) == (-1, 0, 3): return 0`), so its reward says
   nothing about a fix.
With `gate="grader"` every task is also confirmed by the grader agents face (`grade_patch`): the gold
patch must resolve it and the empty patch must not (`gold_failed`, `empty_resolved`). `gate.GraderGate`
does it per batch: one shared grader run on the snapshot stands for the gold grades, the engine's runs
on the same tree for the empty ones, where facts checked in memory allow it, with a sampled audit by
real grades (`audit`) that switches to grading every task when it disagrees; see its docstring.

Runs go through the warm runner (`testexec.WarmExecutor`: one pytest session serving every batch of
this validator, each job a fork with the bug swapped into live functions, or re-imported when the
change cannot be swapped in or the coverage map says the changed lines run at import time; a job's
reruns share its fork; in a repository with conftest.py files, a bug that runs at import time gets a
new process per run beside the session) or, with `engine="fresh"`, a new pytest process per run. A run's timeout is `timeout_factor` times what the selected tests took in the
coverage run, clamped to [timeout_min_s, timeout_max_s].
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.protocols import Limits, Model
from codekiln.envs import EnvRecord, env_sandbox
from codekiln.grading import classify, restores_snapshot
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.frontend.leaks import checked_workspace
from codekiln.tasks.frontend.statements import ModelStatementWriter, StatementWriter, TemplateStatementWriter
from codekiln.tasks.records import (
    RejectedCandidate,
    RejectReason,
    TaskRecord,
    Validation,
    hidden_tests_patch,
    task_from_candidate,
)
from codekiln.tasks.validation.chunks import BugApplier, Chunk
from codekiln.tasks.validation.config import ValidateConfig as ValidateConfig
from codekiln.tasks.validation.coverage_map import CoverageMap, touched_lines
from codekiln.tasks.validation.engine_command import engine_command
from codekiln.tasks.validation.gate import GraderGate, Pending
from codekiln.tasks.validation.gold import UNION, GoldCache, selection_key
from codekiln.tasks.validation.import_time import ImportTimeCheck
from codekiln.tasks.validation.own_reads import kept_verdict
from codekiln.tasks.validation.selection import (
    candidate_lines,
    passing_sample,
    runnable,
    selected_tests,
    too_slow,
    with_whole_files,
)
from codekiln.tasks.validation.testexec import FreshExecutor, Job, JobResult, WarmExecutor, test_files
from codekiln.tasks.validation.verdict import Rejection, collateral_tests
from codekiln.tasks.validation.verdict import hidden_test_files as hidden_test_files

Decision = TaskRecord | RejectedCandidate


class Validator:
    """Validates candidates for one environment in one sandbox (one per worker; not thread-safe)."""

    def __init__(
        self,
        env: EnvRecord,
        cmap: CoverageMap,
        entities: list[Entity] | Mapping[str, Entity],
        config: ValidateConfig | None = None,
        *,
        backend: str = DEFAULT_BACKEND,
        gold_cache: GoldCache | None = None,
        statements: StatementWriter | None = None,
        model: Model | None = None,
        memory_mb: int | None = None,
    ) -> None:
        """`gold_cache` (clean results) may be shared by the validators of one run; `statements`
        writes accepted tasks' problem statements (default: the template, reading the snapshot, or
        `model` when `config.statements == "model"`). `memory_mb` limits each sandboxed process
        (default: `Limits`'): a test that goes over it fails with MemoryError."""
        self.env, self.cmap = env, cmap
        self.entities = dict(entities) if isinstance(entities, Mapping) else {e.id: e for e in entities}
        self.config = config or ValidateConfig()
        self.backend = backend
        self.snapshot_dir = Path(env.snapshot_path)
        self.passing = passing_sample(env.baseline, self.snapshot_dir, lean=cmap.lean)
        # A conftest holds what it imported from the package: a warm child cannot re-import it
        # (click's `runner` fixture kept the old CliRunner), so bugs that run at import time get
        # fresh processes there.
        self.conftests = any(self.snapshot_dir.rglob("conftest.py"))
        limits = Limits(timeout_s=env.test.timeout_s)
        if memory_mb is not None:
            limits.memory_mb = memory_mb
        self.sandbox = env_sandbox(env, backend, limits=limits)
        # as the coverage map ran (benchmarked functions once); the gate grades with env.test as is
        command = engine_command(env.test, env.packages)
        self.warm = WarmExecutor(
            self.sandbox, command, collect=test_files(sorted(self.passing)), baseline=env.baseline
        )
        self.fresh = FreshExecutor(self.sandbox, command, env.baseline)
        self.gold_cache = GoldCache() if gold_cache is None else gold_cache
        self.gate = GraderGate(
            env,
            backend,
            audit=self.config.audit,
            reruns=self.config.reruns,
            cache=self.gold_cache,
        )
        self.statements: StatementWriter = statements or TemplateStatementWriter(self.snapshot_dir)
        if statements is None and self.config.statements == "model":
            if model is None:
                raise ConfigError(
                    "model-written statements need a model", hint="pass model= (the CLI: --model SPEC)"
                )
            self.statements = ModelStatementWriter(model, fallback=self.statements)
        self.applier = BugApplier(self.snapshot_dir)
        self.import_check = ImportTimeCheck(self.snapshot_dir)
        self.dirty = False

    def close(self) -> None:
        self.warm.stop()
        self.sandbox.close()
        self.gate.close()

    def __enter__(self) -> Validator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- per candidate -----------------------------------------------------------------------------
    def select(self, cand: Candidate) -> list[str]:
        """The clean-passing tests that run the mutated code (all clean-passing tests if none is known,
        or if its lines ran at import time): `selection.selected_tests`, then `selection.runnable`."""
        tests = selected_tests(self.cmap, self.passing, cand, self.entities)
        return runnable(tests, self.cmap, self.config, self.passing, self.env.baseline)

    def observers(
        self, cand: Candidate, files: dict[str, str | None], chunks: dict[str, Chunk]
    ) -> list[str] | None:
        """For a bug selected with the whole suite because its touched lines ran at import time: the
        selected tests that can observe it, when it changes only functions that did not run at
        import time (`import_time`: the other selected tests pass as on the clean snapshot); None
        when every selected test must run."""
        lines = self.import_check.observable(files, chunks, self.cmap.import_lines)
        if lines is None:
            return None
        for rel, numbers in candidate_lines(cand, self.entities).items():
            lines.setdefault(rel, set()).update(numbers)
        observers = sorted(t for t in self.cmap.tests_for(lines) if t in self.passing)
        observers = runnable(observers, self.cmap, self.config, self.passing, self.env.baseline)
        return observers or None  # no test known to run the code: the whole suite, as `select` does

    def buggy_files(self, cand: Candidate) -> dict[str, str | None]:
        """The files the bug changes, as they are with the bug. Raises TaskError or SyntaxError."""
        return self.buggy(cand)[0]

    def buggy(self, cand: Candidate) -> tuple[dict[str, str | None], dict[str, Chunk]]:
        """The files the bug changes, as they are with the bug, and the changed top-level statements of
        each Python file. Raises TaskError, or SyntaxError when a file no longer parses."""
        return self.applier.apply(cand.patch, cand.id)

    def reject(
        self, cand: Candidate, reason: RejectReason, detail: str = "", validation: Validation | None = None
    ) -> RejectedCandidate:
        return RejectedCandidate(
            candidate_id=cand.id,
            repo=self.env.name,
            base_commit=self.env.snapshot_id,
            reason=reason,
            detail=detail[:2000],
            mutators=cand.mutators,
            entities=cand.entities,
            validation=validation,
        )

    def rejected(
        self, cand: Candidate, rejection: Rejection, validation: Validation | None = None
    ) -> RejectedCandidate:
        return self.reject(cand, rejection.reason, rejection.detail, rejection.validation or validation)

    # -- batches -----------------------------------------------------------------------------------
    def validate(self, candidates: list[Candidate]) -> list[Decision]:
        """Decide every candidate (see the module docstring); the result follows the input order."""
        decided: dict[str, Decision] = {}
        plans: dict[str, tuple[Candidate, list[str]]] = {}
        bug_files: dict[str, tuple[Candidate, dict[str, str | None]]] = {}
        jobs: list[Job] = []
        whole: dict[str, tuple[Job, set[str]]] = {}  # bugs run on their observers: every test's job
        gold_jobs: dict[str, Job] = {}
        reruns = self.config.reruns
        for cand in candidates:
            try:
                files, chunks = self.buggy(cand)
            except SyntaxError as err:
                decided[cand.id] = self.reject(
                    cand, RejectReason.syntax_error, f"{err.msg} at line {err.lineno}"
                )
                continue
            except (TaskError, OSError) as err:
                decided[cand.id] = self.reject(cand, RejectReason.patch_failed, str(err))
                continue
            tests = self.select(cand)
            if not tests:
                decided[cand.id] = self.reject(cand, RejectReason.no_failing_test, "no passing test exists")
                continue
            if self.cmap.duration(tests) > self.config.timeout_max_s:
                decided[cand.id] = self.reject(
                    cand, RejectReason.timeout, too_slow(tests, self.cmap, self.config)
                )
                continue
            timeout = self.config.timeout(self.cmap.duration(tests))
            plans[cand.id] = (cand, tests)
            bug_files[cand.id] = (cand, files)
            at_import = self.cmap.runs_at_import(touched_lines(cand.patch))
            fresh = at_import and self.conftests and self.config.engine == "warm"
            job = Job(
                cand.id,
                tests,
                files,
                repeat=reruns,
                rerun_failing=True,
                timeout=max(20.0, timeout) if fresh else timeout,  # with a process start
                reimport=at_import,
                chunks=chunks,
                fresh=fresh,
            )
            warm = self.config.engine == "warm"
            observers = self.observers(cand, files, chunks) if at_import and warm else None
            if observers is not None:  # swapped in, on the tests that can observe it
                whole[cand.id] = (job, set(observers))
                limit = self.config.timeout(self.cmap.duration(observers))
                job = Job(cand.id, observers, files, reruns, rerun_failing=True, timeout=limit, chunks=chunks)
            jobs.append(job)
            key = selection_key(tests)
            if key not in self.gold_cache.own and key not in gold_jobs:
                gold_jobs[key] = Job(f"gold:{key}", tests, timeout=timeout)
        # reruns on the clean side: every selected test not rerun by an earlier batch's union job
        union = sorted({t for _, tests in plans.values() for t in tests} - self.gold_cache.reruns.keys())
        union = with_whole_files(union, self.passing, self.env.baseline)  # a plugin file's items in order
        if union and reruns > 1:
            timeout = max(20.0, self.config.timeout(self.cmap.duration(union)))  # with a process start
            gold_jobs[UNION] = Job(f"gold:{UNION}", union, repeat=reruns - 1, timeout=timeout, fresh=True)
        results = self._run([*jobs, *gold_jobs.values()])
        self._observed(results, whole)
        for key, job in gold_jobs.items():
            self.gold_cache.keep(key, job.tests, results[job.id])
        this_union = results.get(f"gold:{UNION}")
        for cand_id, (cand, tests) in plans.items():
            key = selection_key(tests)
            own = self.gold_cache.own.get(key) or results[f"gold:{key}"]
            gold = self.gold_cache.runs(tests, own, this_union, reruns - 1)
            try:
                decided[cand_id] = self.decide(cand, tests, results[cand_id], gold)
            except (TaskError, OSError) as err:  # one candidate that cannot be decided never stops a batch
                reason = RejectReason.patch_failed if isinstance(err, TaskError) else RejectReason.infra_error
                decided[cand_id] = self.reject(cand, reason, f"validation failed: {err}")
        if self.config.gate == "grader":
            self.grade_gate(decided, bug_files)
        return [decided[c.id] for c in candidates]

    def _observed(self, results: dict[str, JobResult], whole: dict[str, tuple[Job, set[str]]]) -> None:
        """Complete, in place, the results of the bugs run on their observers only (`observers`):
        the other selected tests passed in the first run. A bug the runner could not swap in after
        all (it re-imported the code, so the proof does not hold) runs again on every selected test."""
        again = [job for job, _ in whole.values() if results[job.id].reimported is not None]
        if again:
            results.update(self._run(again))
        for job, observers in whole.values():
            result = results[job.id]
            if result.reimported is None and result.runs:
                first = result.runs[0]
                first.statuses.update({t: "passed" for t in job.tests if t not in observers})

    def _run(self, jobs: list[Job]) -> dict[str, JobResult]:
        if self.config.engine == "fresh":
            return self.fresh.run(jobs)
        if self.dirty:  # a crashed runner left changes behind; caches survive otherwise
            self.warm.stop()
            self.sandbox.reset()
        results = self.warm.run(jobs)
        self.dirty = any(r.error for r in results.values())
        return results

    def decide(self, cand: Candidate, tests: list[str], buggy: JobResult, gold: JobResult) -> Decision:
        """The decision on one candidate: the rules (`verdict.verdict`) over its runs with the bug and the
        clean runs of its tests but those reading the tests' source (`own_reads`); a task is gated."""
        outcome = kept_verdict(tests, self.gold_cache.reads, self.env.baseline, buggy, gold)
        if isinstance(outcome, Rejection):
            return self.rejected(cand, outcome)
        validation = outcome
        split = classify(validation.after, validation.gold)  # every test passed every clean run
        failing = split.FAIL_TO_PASS
        files = hidden_test_files(failing, cand.patch)
        if not files and not self.config.visible_tests:
            detail = "every failing test is visible to the agent: " + ", ".join(failing[:3])
            return self.reject(cand, RejectReason.no_hidden_failing_test, detail, validation)
        hidden = [] if self.config.visible_tests else files
        collateral = collateral_tests([*failing, *split.PASS_TO_PASS], files, self.passing)
        task = task_from_candidate(
            cand,
            repo=self.env.name,
            base_commit=self.env.snapshot_id,
            fail_to_pass=failing,
            pass_to_pass=sorted([*split.PASS_TO_PASS, *collateral]),
            environment_id=self.env.id,
            hidden_tests=hidden,
            test_patch=hidden_tests_patch(self.snapshot_dir, hidden),
            validation=validation,
        )
        task.version = self.env.version or ""
        if not restores_snapshot(task, task.patch, self.snapshot_dir):
            return self.reject(
                cand,
                RejectReason.gold_failed,
                "grading the gold patch does not restore the snapshot",
                validation,
            )
        try:
            checked_workspace(task, self.snapshot_dir)
            task.problem_statement = self.statements.write(task, buggy.runs[0].messages)
            task.statement_source = getattr(self.statements, "last_source", "") or self.statements.name
        except TaskError as err:
            reason = RejectReason(err.data.get("reason") or RejectReason.statement_leak)
            return self.reject(cand, reason, err.message, validation)
        return task

    def grade_gate(
        self, decided: dict[str, Decision], plans: dict[str, tuple[Candidate, dict[str, str | None]]]
    ) -> None:
        """The grader gate (`gate.GraderGate`) over a batch's tasks, in place in `decided`; `plans`:
        each candidate and the files its bug changes, as the engine ran them."""
        pending = [
            Pending(cid, d, d.validation, plans[cid][1])
            for cid, d in decided.items()
            if isinstance(d, TaskRecord) and d.validation is not None
        ]
        for p, rejection in zip(pending, self.gate.run(pending), strict=True):
            if rejection is not None:
                decided[p.candidate_id] = self.rejected(plans[p.candidate_id][0], rejection, p.validation)


def validate_candidates(
    env: EnvRecord,
    cmap: CoverageMap,
    entities: list[Entity],
    candidates: list[Candidate],
    config: ValidateConfig | None = None,
    *,
    backend: str = DEFAULT_BACKEND,
) -> list[Decision]:
    """Validate candidates in one sandbox, in order; a convenience over `Validator`."""
    with Validator(env, cmap, entities, config, backend=backend) as validator:
        return validator.validate(candidates)
