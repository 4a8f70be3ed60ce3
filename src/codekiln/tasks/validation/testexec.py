"""Run batches of test jobs in a sandbox: warm (one pytest session, forked runs) or fresh (one pytest
process per run). Validation builds on this; each worker owns one sandbox and one executor.

    ex = WarmExecutor(sandbox, env.test)
    results = ex.run([Job("c1", tests=[...], files={"pkg/mod.py": buggy_text}, repeat=3)])
    results["c1"].runs[0].statuses          # {"tests/test_mod.py::test_x": "failed", ...}

A `Job` runs its tests `repeat` times on the snapshot with `files` replaced (the clean snapshot when
`files` is empty); with `rerun_failing` the reruns only run the tests the first run saw fail (none: no
reruns). Each run is a
`grading.TestRun` (statuses, failure messages, tests that never ran in `missing`, `timed_out`).

`WarmExecutor` keeps one pytest session serving in the sandbox (`warm_runner.py`, see there) from its
first batch until `stop()`: a batch costs no interpreter start or collection, a job a fork, a rerun
only its tests' time. The session runs in a background thread's sandbox command; batches travel as
files under the sandbox's /tmp. Stop it before anything else uses or resets the sandbox.
`FreshExecutor` runs any job with `grading.run_tests`, a new pytest process per run, on a workspace
reset before each job. A `fresh` job runs that way under either executor (the warm one beside its
idle session, its files written first and put back after), each run with its own hash seed and test
order: reruns that see another process. The test code the warm session rewrote at start-up, and the code
a `fresh` job's runs rewrite, are kept for the environment's later guarded runs (`grading.guard_rewrites`:
rewriting was half of a fresh run's CPU on toolz). Neither raises for test failures: tests
that could not even be collected (the bug broke an import) come back `missing`, which counts as failed;
a sandbox that breaks down gives every unfinished job an `error` (an infrastructure failure, never a
test result).
"""

from __future__ import annotations

import json
import posixpath
import random
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from codekiln.core.errors import CodekilnError
from codekiln.core.proc import tail
from codekiln.core.protocols import Sandbox
from codekiln.core.testnames import file_units, to_rerun
from codekiln.grading import TestCommand, TestRun, run_tests
from codekiln.grading.guard_rewrites import PLAIN, REWRITES, rewrite_key
from codekiln.tasks import in_sandbox

RUNNER_DIR = "/tmp/codekiln"
RUNNER = f"{RUNNER_DIR}/warm_runner.py"
COVER_RUNNER = f"{RUNNER_DIR}/cover_runner.py"
SESSION_LIMIT_S = 24 * 3600.0
"""The serving session's own limit; each batch has its own (see `WarmExecutor.run`)."""
BASE_OPTIONS = ["-q", "--no-header", "-p", "no:cacheprovider", "--color=no", "--tb=native"]


@dataclass
class Job:
    """Run `tests` up to `repeat` times with `files` (repo-relative path -> text, None: removed) in place."""

    id: str
    tests: list[str]
    files: dict[str, str | None] = field(default_factory=dict)
    repeat: int = 1
    rerun_failing: bool = False
    timeout: float = 60.0
    reimport: bool = False
    """Warm runs import the code afresh instead of swapping it into live functions."""
    chunks: dict[str, tuple[int, int, int, list[tuple[int, int]]]] = field(default_factory=dict)
    """Per file of `files`: the top-level statements holding the change (`chunks.changed_chunk`), so
    the warm runner compiles those, not the whole file."""
    fresh: bool = False
    """Each run in a new pytest process with its own hash seed and test order (`fresh_run_plan`), as a
    real rerun would be, never in a forked child of the warm session (which shares one hash seed and
    process state). Validation makes one of a bug whose code runs at import time in a repository with
    conftest.py files: a forked child cannot re-import what the session's conftests hold."""


@dataclass
class JobResult:
    id: str
    runs: list[TestRun] = field(default_factory=list)
    reimported: str | None = None
    """Why the bug could not be swapped into live code, so each run imported the code afresh."""
    error: str | None = None
    duration_s: float = 0.0
    cpu_s: float = 0.0
    """CPU seconds of a warm job inside the sandbox: the runner's own work for it (files, swaps) and
    its forked child's (from the child's resource usage). 0.0 for `fresh` jobs and errors: their runs
    are sandbox commands whose CPU the host does not see (a cgroup clock measures them: bench/)."""

    @property
    def timed_out(self) -> bool:
        return any(run.timed_out for run in self.runs)


def test_files(tests: list[str]) -> list[str]:
    """The files (node id prefixes) holding these test ids."""
    return sorted({t.split("::", 1)[0] for t in tests})


def fresh_run_plan(tests: list[str], n: int) -> tuple[dict[str, str], list[str]]:
    """Run `n` of a `fresh` job: its environment variables and its tests in order. Each run has its
    own PYTHONHASHSEED (n + 1: 0 would turn hash randomization off) and its own order (the first
    reversed, each later one shuffled by its seed), so that runs differ from each other and from the warm
    session in every way a real rerun can; the seeds are fixed so that decisions are reproducible.
    The tests of a file whose items share its state move as one unit, in their given order
    (`core.testnames.file_units`: sybil's examples, asked for reversed, failed on the clean snapshot).
    Byte-code is not written: a later warm job could load it for a bug of the same size and mtime."""
    seed = n + 1
    units = file_units(tests)
    units = list(reversed(units)) if n == 0 else random.Random(seed).sample(units, len(units))
    return {"PYTHONHASHSEED": str(seed), "PYTHONDONTWRITEBYTECODE": "1"}, [t for u in units for t in u]


def fresh_runs(
    sandbox: Sandbox,
    command: TestCommand,
    job: Job,
    result: JobResult,
    baseline: Mapping[str, str] | None = None,
) -> None:
    """Append `job`'s runs to `result`, a new pytest process each, on the workspace as it is; `baseline`:
    the clean tree's statuses, read as the grader reads them (`run_tests`)."""
    tests = list(job.tests)
    for n in range(job.repeat):
        if job.fresh:
            env, ordered = fresh_run_plan(tests, n)
            run = run_tests(
                sandbox,
                command.model_copy(update={"env": {**command.env, **env}}),
                ordered,
                timeout=job.timeout,
                export_rewrites=not job.files,  # the clean snapshot: later runs reuse its test code
                baseline=baseline,
            )
        else:
            run = run_tests(sandbox, command, tests=tests, timeout=job.timeout, baseline=baseline)
        if run.error and run.collection_errors and not run.timed_out:
            run.error = None  # the code broke collection: the requested tests are `missing`, i.e. failed
        result.runs.append(run)
        result.duration_s += run.duration_s
        if run.error:
            break
        if job.rerun_failing:  # with the rest of a failing test's file where its items share state
            tests = to_rerun(tests, run.statuses)
            if not tests:
                break


def pytest_options(command: TestCommand) -> list[str]:
    """The options of the repository's test command (its paths are left out: jobs name their tests)."""
    return [a for a in command.args if a.startswith("-")]


def _run_from(data: dict[str, Any]) -> TestRun:
    run = TestRun(
        statuses=data.get("statuses", {}),
        messages={k: v for k, v in data.get("messages", {}).items() if v},
        missing=data.get("missing", []),
        duration_s=float(data.get("duration_s", 0.0)),
        timed_out=bool(data.get("timed_out", False)),
    )
    if run.timed_out:
        run.error = "timeout: the test run passed its limit"
    elif data.get("crashed"):
        run.error = str(data["crashed"])
    return run


def install_runners(sandbox: Sandbox) -> None:
    """Copy the in-sandbox runner scripts to RUNNER_DIR."""
    sandbox.exec(["mkdir", "-p", RUNNER_DIR], timeout=30)
    for path in (*in_sandbox.SCRIPTS, *in_sandbox.BESIDE):
        sandbox.write_file(f"{RUNNER_DIR}/{path.name}", path.read_bytes())


def _result_from(data: dict[str, Any]) -> JobResult:
    return JobResult(
        id=data["id"],
        runs=[_run_from(r) for r in data.get("runs", [])],
        reimported=data.get("reimported"),
        duration_s=float(data.get("duration_s", 0.0)),
        cpu_s=float(data.get("cpu_s", 0.0)),
    )


class _Session:
    """One serving runner: a sandbox command in a background thread, fed through a spool folder."""

    def __init__(self, sandbox: Sandbox, command: TestCommand, collect: list[str]) -> None:
        self.sandbox, self.collected = sandbox, set(collect)
        self.spool = f"{RUNNER_DIR}/serve-{uuid.uuid4().hex[:12]}"
        self.batches = 0
        self.ended: str | None = None
        install_runners(sandbox)
        sandbox.exec(["mkdir", "-p", self.spool], timeout=30)
        sandbox.write_file(f"{self.spool}/collect.json", json.dumps(sorted(collect)))
        venv = getattr(getattr(sandbox, "spec", None), "venv", None)
        key = rewrite_key(str(venv), sandbox.workdir) if venv is not None else ""
        for cache, name in ((REWRITES, "rewritten.marshal"), (PLAIN, "rewritten-plain.marshal")):
            blob = cache.get(key)  # the coverage run's test code: not rewritten again (`warm_runner`)
            if blob:
                sandbox.write_file(f"{self.spool}/given-{name}", blob)
        argv = ["python", RUNNER, "serve", self.spool, "--", *BASE_OPTIONS, *pytest_options(command)]
        self.thread = threading.Thread(target=self._serve, args=(argv, command), daemon=True)
        self.thread.start()

    def _serve(self, argv: list[str], command: TestCommand) -> None:
        try:
            res = self.sandbox.exec(argv, timeout=SESSION_LIMIT_S, env=command.env, cwd=self.sandbox.workdir)
            why = f"exit code {res.exit_code}{', timed out' if res.timed_out else ''}"
            self.ended = f"the warm runner stopped ({why}):\n{tail(res.stdout + res.stderr, 15)}"
        except (CodekilnError, OSError) as err:
            self.ended = f"the warm runner failed: {err}"

    def _exists(self, path: str) -> bool:
        try:
            self.sandbox.read_file(path)
            return True
        except FileNotFoundError:
            return False

    def submit(self, jobs: list[Job], limit: float) -> tuple[dict[str, JobResult], str | None]:
        """Run one batch; the results it got, and why the others are missing (None: all came)."""
        n, self.batches = self.batches, self.batches + 1
        base = f"{self.spool}/{n}"
        batch = {"jobs": [asdict(j) for j in jobs], "limit_s": limit}
        self.sandbox.write_file(f"{base}.json", json.dumps(batch))
        self.sandbox.write_file(f"{base}.ready", "")
        deadline, pause = time.monotonic() + limit + 30.0, 0.001  # the runner's own alarm comes first
        why: str | None = None
        while not self._exists(f"{base}.done"):
            if not self.thread.is_alive():
                why = self.ended or "the warm runner stopped"
                break
            if time.monotonic() > deadline:
                why = f"the batch passed its {limit:.0f} s limit"
                self.ended = why
                break
            time.sleep(pause)
            pause = min(pause * 2, 0.025)  # a poll reads a file through the sandbox: ~0.2 ms of CPU
        try:
            raw = self.sandbox.read_file(f"{base}.jsonl").decode()
        except (CodekilnError, OSError):
            raw = ""
        out: dict[str, JobResult] = {}
        for line in raw.splitlines():
            try:
                result = _result_from(json.loads(line))
            except (ValueError, KeyError):
                continue
            out[result.id] = result
        return out, why

    def stop(self) -> None:
        """Ask the runner to end and wait for it (a runner that does not end is left to its limits)."""
        if self.thread.is_alive():
            try:
                self.sandbox.write_file(f"{self.spool}/stop", "")
            except (CodekilnError, OSError):
                pass
            self.thread.join(timeout=30)


class WarmExecutor:
    """Runs batches of jobs from one warm pytest session inside `sandbox` (see the module docstring).

    `collect`: the test files the session collects when it starts (say, every file of the suite), so
    that later batches find their tests already collected; a batch that needs others restarts it.
    `baseline`: the environment's, for the fresh runs (`fresh_runs`)."""

    def __init__(
        self,
        sandbox: Sandbox,
        command: TestCommand,
        *,
        collect: list[str] | None = None,
        baseline: Mapping[str, str] | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.command = command
        self.baseline = baseline
        self.collect = sorted(set(collect or []))
        self.session: _Session | None = None

    def run(self, jobs: list[Job]) -> dict[str, JobResult]:
        """Run a batch: warm jobs in the session, then `fresh` ones in new processes beside it."""
        fresh = [j for j in jobs if j.fresh]
        out = self._run_warm([j for j in jobs if not j.fresh])
        for job in fresh:  # the session is idle between batches and its workspace clean
            out[job.id] = result = JobResult(job.id)
            if job.files:
                result.reimported = "each run a new process"
            try:
                originals = {rel: self._read(rel) for rel in job.files}
                try:
                    self._put(job.files)
                    fresh_runs(self.sandbox, self.command, job, result, self.baseline)
                finally:  # the session's workspace is clean again (fresh runs write no byte-code)
                    self._put(originals)
            except (CodekilnError, OSError) as err:
                result.error = f"sandbox failed: {err}"
        return out

    def _read(self, rel: str) -> str | None:
        try:
            return self.sandbox.read_file(rel).decode("utf-8", "surrogateescape")  # exact bytes
        except (CodekilnError, OSError):
            return None

    def _put(self, files: dict[str, str | None]) -> None:
        """Write (or remove, for None) the files, after removing the byte-code the session cached for
        them: keyed on size and mtime second only, it could stand in for a bug of the original's size."""
        pairs = [part for rel in files if rel.endswith(".py") for part in posixpath.split(rel[:-3])]
        if pairs:
            drop = 'while [ $# -gt 1 ]; do rm -f -- "${1:-.}"/__pycache__/"$2".*.pyc; shift 2; done'
            self.sandbox.exec(["sh", "-c", drop, "sh", *pairs], timeout=60, cwd=self.sandbox.workdir)
        for rel, text in files.items():
            if text is None:
                self.sandbox.exec(["rm", "-f", "--", rel], timeout=60, cwd=self.sandbox.workdir)
            else:
                self.sandbox.write_file(rel, text)

    def _run_warm(self, jobs: list[Job]) -> dict[str, JobResult]:
        if not jobs:
            return {}
        needed = set(test_files([t for job in jobs for t in job.tests]))
        if self.session is not None and (self.session.ended or not needed <= self.session.collected):
            self.stop()
        first = self.session is None
        try:
            if self.session is None:
                self.session = _Session(self.sandbox, self.command, sorted(needed | set(self.collect)))
            session = self.session
            out, why = session.submit(
                jobs, (120.0 if first else 30.0) + sum(j.timeout * j.repeat for j in jobs)
            )
            if first:
                self._keep_rewritten(session)
        except (CodekilnError, OSError) as err:
            self.stop()
            return {j.id: JobResult(j.id, error=f"warm runner failed: {err}") for j in jobs}
        for job in jobs:
            out.setdefault(job.id, JobResult(job.id, error=why or "the warm runner gave no result"))
        if why is not None:
            self.stop()
        return out

    def _keep_rewritten(self, session: _Session) -> None:
        """The test code the session rewrote at start-up, on the clean snapshot, for the guarded runs
        of this environment (`grading.guard_rewrites`: the clean-side reruns, the grader gate)."""
        venv = getattr(getattr(self.sandbox, "spec", None), "venv", None)
        if venv is None:
            return
        try:
            blob = self.sandbox.read_file(f"{session.spool}/rewritten.marshal")
        except (CodekilnError, OSError):
            return
        REWRITES.keep(rewrite_key(str(venv), self.sandbox.workdir), blob)

    def stop(self) -> None:
        """End the serving session (before the sandbox is reset or used for anything else)."""
        if self.session is not None:
            self.session.stop()
            self.session = None


class FreshExecutor:
    """Runs each job with one new pytest process per run, on a freshly reset workspace; `baseline`:
    the environment's (`fresh_runs`)."""

    def __init__(
        self, sandbox: Sandbox, command: TestCommand, baseline: Mapping[str, str] | None = None
    ) -> None:
        self.sandbox = sandbox
        self.command = command
        self.baseline = baseline

    def run(self, jobs: list[Job]) -> dict[str, JobResult]:
        return {job.id: self.run_one(job) for job in jobs}

    def run_one(self, job: Job) -> JobResult:
        result = JobResult(job.id)
        try:
            self.sandbox.reset()
            for rel, text in job.files.items():
                if text is None:
                    self.sandbox.exec(["rm", "-f", "--", rel], timeout=60, cwd=self.sandbox.workdir)
                else:
                    self.sandbox.write_file(rel, text)
            fresh_runs(self.sandbox, self.command, job, result, self.baseline)
        except (CodekilnError, OSError) as err:
            result.error = f"sandbox failed: {err}"
        return result
