"""The grader gate of a batch: every task's gold and empty patch confirmed by the grader agents face,
with one shared grader run per batch and a sampled audit instead of two grader runs per task.

    gate = GraderGate(env, backend, audit=0.02, reruns=3, cache=gold_cache)   # grades in its own sandbox
    rejections = gate.run(pending)      # per task, in order: a Rejection, or None (the task stands)

Grading every task's gold and empty patch with `grading.grade_patch` costs two guarded pytest processes
per task (~1.5 CPU s on toolz, ten times the rest of validation). For most tasks both grades are
already decided by facts checked exactly, in memory, and by runs made before the gate:

Gold. A task reaches the gate only when grading its gold patch leaves exactly the snapshot's files
(`restores_snapshot`, the grader's own preparation computed in memory), so its gold grade is the
grader's guarded run of its tests on one tree, the snapshot. One grader run of the union of the
batch's tests on that tree (`grade_patch` of `CleanTree`, a task with no bug) confirms every task
whose tests all pass in it. Tests a grader run already judged on the snapshot are kept in the shared
`GoldCache.graded` and not run again. What the grader judges before running tests (patch rules and
the static scan of the gold patch) is checked per task in memory (`gold_patch_problem`). A task with a
test that did not pass there, or a finding, gets its own gold grade, as before.

Empty. The empty patch's graded state is the snapshot with the bug in (hidden tests put back): the
tree on which the engine ran the buggy side, whenever the grader puts back none of the bug's changes
(a bug in a test file or in conftest.py is undone by the grader): checked per task in memory
(`empty_tree_is_buggy`), otherwise the empty patch is graded for real. On that tree the engine saw
every FAIL_TO_PASS test fail in each of its `reruns` runs, with no error or timeout: that is what
"the empty patch does not resolve the task, and its run works" says.

What the facts do not cover, and the audit. The shared run runs a task's tests beside others (a test
could pass there and fail alone); the engine ran the buggy side in forks of a warm session with the
bug swapped in, in its own test order, without the grader's guard (its start-up, plugins by name,
canaries, environment), so a test could fail there and pass under the grader. Neither can be ruled out in memory. So a
sample of the tasks (picked by a hash of their ids) gets both real grades as before: `audit` of all
the tasks gated so far, counted over every batch of the validators sharing the `GoldCache`, and
always one task of the first batch (`audits_due`), so an environment is audited before any of its
later batches rests on the shortcut alone. (A floor of one per batch would audit 1 in 32 at the
default batch size, not the 1 in 50 asked for: the quota is counted over the run instead.) When a
real grade disagrees with what the shortcut would have decided, the shortcut is wrong on this
environment: the rest of that batch and every later batch (of every validator sharing the
`GoldCache`) are graded task by task (`exact`). `audit=1` grades every task for real.

The shared run also grades every test an audited task is graded on (`graded_tests`: its hidden files'
every case, where the map ran a sample). When that is exactly the shared run's tests (a batch of one
task, or of tasks sharing one hidden file: s3fs 2026.9.0's `test_s3fs.py` holds 222 of its 382 tests),
the shared run is that task's real gold grade, the same grader's run of the same tests on the same tree
(the gold patch restores the snapshot), with no other test beside them but those left out of the task
because that run did not see them pass (`own_reads.unpassing_tests`); grading it again only ran the
file once more (345 s of s3fs's first batch). Its empty patch is still graded for real.

Tests that read the tests' source on the snapshot. A test that hands its own file to the library
(`count_lines(__file__)`) makes the grader's run of the snapshot `tampered` (`grading.guard_plugin_reads`).
Such tests, named by the shared run or a gold grade, are kept in `GoldCache.reads` and left out of every
task's tests (`own_reads`): the shared run is made again without them, and a task left with no failing
test is rejected.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from codekiln.core.protocols import Sandbox
from codekiln.envs import EnvRecord
from codekiln.grading import GradeResult, grade_patch, graded_files
from codekiln.grading.collateral import graded_pass_to_pass
from codekiln.grading.graded import patch_paths, read_snapshot
from codekiln.grading.patchrules import GradePolicy, is_protected, reject_reason
from codekiln.grading.scan_delta import added_findings
from codekiln.tasks.records import TaskRecord, Validation
from codekiln.tasks.validation.gold import GoldCache
from codekiln.tasks.validation.own_reads import drop_tests, left_out_note, reading_tests, unpassing_tests
from codekiln.tasks.validation.verdict import Rejection, graded_verdict

log = logging.getLogger(__name__)

READ_ROUNDS = 3
"""The most shared runs of one batch: each leaves out the tests the last one found reading the tests'
source (the guard reports at most `guard_plugin_reads.MAX_REPORTED` of them per run)."""


@dataclass(frozen=True)
class CleanTree:
    """The snapshot with no bug, as a task for the grader: grading the empty patch runs `PASS_TO_PASS`."""

    instance_id: str
    PASS_TO_PASS: list[str]
    bug_patch: str = ""
    hidden_tests: list[str] = field(default_factory=list)
    FAIL_TO_PASS: list[str] = field(default_factory=list)
    source: str = "clean"  # not a task's: its PASS_TO_PASS is graded as given

    @property
    def tests(self) -> list[str]:
        return [*self.FAIL_TO_PASS, *self.PASS_TO_PASS]


@dataclass
class Pending:
    """A task the verdict accepted, waiting for the gate, with the bug's files as the engine ran them."""

    candidate_id: str
    task: TaskRecord
    validation: Validation
    buggy: dict[str, str | None]
    left_out: list[str] = field(default_factory=list)
    """Its tests left out because they read the tests' source on the snapshot (`own_reads`)."""

    def detail(self, grader: str) -> str:
        return "; ".join([grader, left_out_note(self.left_out)] if self.left_out else [grader])


def gold_patch_problem(task: TaskRecord, snapshot_dir: Path, policy: GradePolicy) -> str | None:
    """What the grader would object to in the gold patch before running a test (patch rules, the
    static scan), computed in memory: the gold patch puts the snapshot's own files back. The scan
    reads only the top-level statements the bug changed (`grading.scan_delta`: the same findings as
    scanning each buggy file whole, at a fraction of the cost)."""
    before = graded_files(task, "", snapshot_dir)
    for rel in sorted(patch_paths(task.patch)):
        path = Path(snapshot_dir) / rel
        data = path.read_bytes() if path.is_file() else None
        kind = "file" if data is not None else "deleted"
        executable = data is not None and bool(path.stat().st_mode & 0o111)
        problem = reject_reason(rel, kind, data, executable, Path(snapshot_dir), policy)
        if problem:
            return f"{rel}: {problem}"
        if rel.endswith(".py") and data is not None and not is_protected(rel):
            found = added_findings(before.get(rel), read_snapshot(snapshot_dir, rel) or "")
            if found:
                line, construct, detail = found[0]
                return f"the static scan flags the gold patch: {rel}:{line}: {construct} {detail}"
    return None


def empty_tree_is_buggy(task: TaskRecord, buggy: Mapping[str, str | None], snapshot_dir: Path) -> bool:
    """Whether grading the empty patch runs the tests on the tree the engine ran the bug on: the
    snapshot with `buggy` (the bug's files) in, every other file as in the snapshot."""
    return all(
        text == (buggy[rel] if rel in buggy else read_snapshot(snapshot_dir, rel))
        for rel, text in graded_files(task, "", snapshot_dir).items()
    )


def audit_order(candidate_id: str) -> str:
    return hashlib.sha256(candidate_id.encode()).hexdigest()


def audits_due(share: float, gated: int, audited: int) -> int:
    """How many tasks of the batch just gated to audit: enough that `audited` reaches `share` of the
    `gated` tasks so far (this batch's included), and at least one while none was audited yet."""
    quota = math.ceil(round(share * gated, 9))  # round: 0.02 * 50 must not make 2
    return max(quota - audited, 1 if audited == 0 and gated else 0)


class GraderGate:
    """The grader gate over the batches of one validator (see the module docstring)."""

    def __init__(
        self,
        env: EnvRecord,
        backend: str,
        *,
        audit: float,
        reruns: int,
        cache: GoldCache,
        policy: GradePolicy | None = None,
    ) -> None:
        self.env, self.backend = env, backend
        self._sandbox: Sandbox | None = None
        self.audit, self.reruns, self.cache = audit, reruns, cache
        # The gold cannot trip its own twins (`grading.twin_check`): validation grades without them.
        self.policy = (policy or GradePolicy()).model_copy(update={"twins": False})
        self.snapshot = Path(env.snapshot_path)
        self.shared: tuple[frozenset[str], GradeResult] | None = None
        """This batch's shared run: the tests it graded and its result (`shared_gold`)."""

    @property
    def exact(self) -> bool:
        """Every task graded for real: `audit=1`, or an audit (of any validator sharing the cache)
        found the shortcut wrong on this environment."""
        return self.audit >= 1.0 or self.cache.audit_failed

    @property
    def sandbox(self) -> Sandbox:
        """The gate's own sandbox (each grade resets it), so the engine's warm session stays up."""
        if self._sandbox is None:
            self._sandbox = self.env.open_sandbox(self.backend)
        return self._sandbox

    def close(self) -> None:
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None

    def _grade(self, task: TaskRecord, patch: str) -> GradeResult:
        # The environment's own limit, not one derived from a measured time (`grading.limits`): no
        # decision of synthesis reads seconds measured on this machine.
        return grade_patch(
            task,
            self.env,
            patch,
            backend=self.backend,
            sandbox=self.sandbox,
            timeout=self.env.test.timeout_s,
            policy=self.policy,
        )

    def leave_out(self, p: Pending) -> Rejection | None:
        """Leave out of the task the tests known to read the tests' source on the snapshot."""
        left = drop_tests(p.task, p.validation, self.cache.reads, self.graded_tests(p.task))
        if isinstance(left, Rejection):
            return left
        p.left_out += left
        return None

    def graded_tests(self, task: TaskRecord) -> list[str]:
        return [*task.FAIL_TO_PASS, *graded_pass_to_pass(task, self.env)]

    def gold_grade(self, p: Pending) -> GradeResult | Rejection:
        """The gold patch graded for real (the snapshot's tree): its tests that read the tests' source
        there are left out and it is graded again; a rejection when no failing test is left."""
        while True:
            rejection = self.leave_out(p)
            if rejection is not None:
                return rejection
            gold = self._grade(p.task, p.task.patch)
            found = reading_tests(gold, self.graded_tests(p.task))
            if not found or set(found) <= set(p.task.left_out):  # each round leaves out one test more
                return gold
            self.cache.reads.update(found)

    def shared_gold(self, p: Pending) -> GradeResult | None:
        """The batch's shared run as `p`'s real gold grade, when it graded exactly the tests `p` is
        graded on and the gold patch passes what the grader checks before running them (see the module
        docstring); None otherwise."""
        if self.shared is None:
            return None
        ran, result = self.shared
        graded = set(self.graded_tests(p.task))
        if not graded <= ran or not ran - graded <= set(p.task.left_out):  # a test left out ran beside them
            return None
        if gold_patch_problem(p.task, self.snapshot, self.policy) is not None:
            return None
        resolved = all(result.statuses.get(t) == "passed" for t in graded)
        outcome = "resolved" if resolved else "unresolved"
        return result.model_copy(
            update={"instance_id": p.task.instance_id, "resolved": resolved, "outcome": outcome}
        )

    def exact_verdict(self, p: Pending) -> Rejection | None:
        """The per-task gate: the gold patch and then the empty patch graded for real."""
        shared = self.shared_gold(p)
        gold = shared or self.gold_grade(p)
        if isinstance(gold, Rejection):
            return gold
        empty = self._grade(p.task, "") if gold.resolved else None
        rejection = graded_verdict(gold, empty)
        if rejection is None:
            assert empty is not None
            took = f"{gold.duration_s:.1f} s"
            how = f"by the shared run of exactly its tests ({took})" if shared else f"in {took}"
            p.validation.detail = p.detail(f"grader: gold resolved {how}, empty patch {empty.outcome}")
        return rejection

    def shared_run(self, pending: list[Pending], due: list[Pending]) -> None:
        """One grader run on the snapshot of the tests no earlier run judged, those the tasks `due` an
        audit are graded on included; kept in the cache, and as `shared` when it ran cleanly."""
        self.shared = None
        wanted = {t for p in pending for t in p.task.tests} | {
            t for p in due for t in self.graded_tests(p.task)
        }
        tests = sorted(wanted - self.cache.graded.keys())
        if not tests:
            return
        for _ in range(READ_ROUNDS):  # again without the tests that read the tests' source (`own_reads`)
            clean = CleanTree(f"{self.env.name}.clean", tests)
            result = grade_patch(
                clean,
                self.env,
                "",
                backend=self.backend,
                sandbox=self.sandbox,
                timeout=self.env.test.timeout_s,
                policy=self.policy,
            )
            found = reading_tests(result, tests)
            self.cache.reads.update(found)
            tests = [t for t in tests if t not in found]
            if not found or not tests:
                break
            log.info("left out of %s's tasks, they read the tests' source: %s", self.env.name, sorted(found))
        if result.outcome in ("resolved", "unresolved") and not result.reason:
            self.cache.graded.update(result.statuses)
            self.cache.graded.update(dict.fromkeys(result.missing, "missing"))
            self.shared = (frozenset(clean.PASS_TO_PASS), result)
            unpassing = unpassing_tests(result, clean.PASS_TO_PASS)  # left out of every task (`own_reads`)
            if unpassing:
                log.warning(
                    "left out of %s's tasks, the grader does not see them pass on the clean snapshot: %s",
                    self.env.name,
                    sorted(unpassing),
                )
            self.cache.reads.update(unpassing)
        else:
            log.warning("the shared gold run on %s gave %s: %s", self.env.name, result.outcome, result.detail)

    def shortcut(self, p: Pending) -> tuple[bool, bool]:
        """Whether the shared run stands for the gold grade, and the engine's runs for the empty one."""
        gold = all(self.cache.graded.get(t) == "passed" for t in p.task.tests) and (
            gold_patch_problem(p.task, self.snapshot, self.policy) is None
        )
        return gold, empty_tree_is_buggy(p.task, p.buggy, self.snapshot)

    def shortcut_verdict(self, p: Pending) -> Rejection | None:
        """The gate for one task with the shortcuts that hold for it; real grades for the rest."""
        gold_ok, empty_ok = self.shortcut(p)
        gold = (
            GradeResult(instance_id=p.task.instance_id, outcome="resolved", resolved=True)
            if gold_ok
            else self.gold_grade(p)
        )
        if isinstance(gold, Rejection):
            return gold
        empty = None
        if gold.resolved:
            empty = (
                GradeResult(instance_id=p.task.instance_id, outcome="unresolved")
                if empty_ok
                else self._grade(p.task, "")
            )
        rejection = graded_verdict(gold, empty)
        if rejection is None:
            assert empty is not None
            how_gold = "by the shared run on its tree" if gold_ok else f"in {gold.duration_s:.1f} s"
            how_empty = (
                f"(FAIL_TO_PASS failed in all {self.reruns} engine runs on the same tree)" if empty_ok else ""
            )
            p.validation.detail = p.detail(
                f"grader: gold resolved {how_gold}, empty patch {empty.outcome} {how_empty}".rstrip()
            )
        return rejection

    def run(self, pending: list[Pending]) -> list[Rejection | None]:
        """Gate a batch's accepted tasks: per task, in order, its rejection or None (it stands)."""
        out: dict[int, Rejection | None] = {}
        self.shared = None
        if not self.exact and pending:
            self.cache.gated += len(pending)
            count = min(len(pending), audits_due(self.audit, self.cache.gated, self.cache.audited))
            by_hash = sorted(range(len(pending)), key=lambda i: audit_order(pending[i].candidate_id))
            self.shared_run(pending, [pending[i] for i in by_hash[:count]])
            for i, p in enumerate(pending):
                left = self.leave_out(p)
                if left is not None:
                    out[i] = left
            self.cache.audited += count
            order = [i for i in by_hash if i not in out]
            for i in order[:count]:
                p = pending[i]
                would_pass = all(self.shortcut(p))
                out[i] = self.exact_verdict(p)
                if would_pass and out[i] is not None:
                    log.warning(
                        "audit: the grader rejects %s (%s) where the gate's shortcut accepts it: "
                        "every task of %s is graded for real from now on",
                        p.task.instance_id,
                        out[i],
                        self.env.name,
                    )
                    self.cache.audit_failed = True
        return [
            out[i] if i in out else self.exact_verdict(p) if self.exact else self.shortcut_verdict(p)
            for i, p in enumerate(pending)
        ]
