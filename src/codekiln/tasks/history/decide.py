"""Mining's unit of work, as any executor runs it (`core.executor`): one change of the history decided
where the executor put it: its commit's snapshot, that state's environment, the validation engine.

    unit = DecideChange(gitdir, "toolz", backend="bwrap", validation=ValidateConfig(), split_date="")
    for outcome in executor.map(unit, changes, resources=unit.resources()):
        outcome.value.decision          # a TaskRecord or a RejectedCandidate: the driver writes it

A unit computes and writes no record: the driver appends each decision to the stage's logs (in the
history's order), so a unit Ray retries after its worker died is never written twice. What a unit
does write is cache, shared by every process through `CODEKILN_HOME`: snapshots, environments and
their groups (`envs.shared.EnvGroups`, under a file lock per dependency fingerprint, so two units of
one fingerprint make one venv). On a cluster, `CODEKILN_HOME` and the repository (a local checkout is
read in place; a URL or bundle is cloned into `CODEKILN_HOME/history`) must be at the same path on
every node.

Statements the history's text cannot give are written by `model` when the driver hands one (the local
executor), else by an instance of `statement_model` made in the worker process (`make_model`, i.e. `models.make_model`:
an HTTP backend is a URL, the embedded model loads there), one per process.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codekiln.core.config import state_dir
from codekiln.core.diffs import reverse_diff
from codekiln.core.errors import CodekilnError, ConfigError, EnvBuildError, RepoError
from codekiln.core.executor import borrowed
from codekiln.core.protocols import Limits, Resources
from codekiln.envs import EnvRecord
from codekiln.envs.shared import EnvGroups
from codekiln.repos import SnapshotRecord, add_repo
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.statements import TemplateStatementWriter
from codekiln.tasks.history.exclude import split_of
from codekiln.tasks.history.statements import HistoryStatementWriter, history_text
from codekiln.tasks.history.walk import Change, export_tree
from codekiln.tasks.records import (
    Provenance,
    RejectedCandidate,
    RejectReason,
    TaskRecord,
    TaskSource,
    make_instance_id,
)
from codekiln.tasks.validation.coverage_map import CoverageMap
from codekiln.tasks.validation.validate import Decision, ValidateConfig, Validator

HISTORY_MUTATOR = "history"


def candidate_of(change: Change) -> Candidate:
    """The change as a candidate "bug" on its commit's snapshot: the fix reversed."""
    return Candidate(
        id=change.commit[:16], patch=reverse_diff(change.fix_patch), mutators=[HISTORY_MUTATOR],
        entities=[], files=change.fix_files, seed=0,
    )  # fmt: skip


def snapshot_of(gitdir: Path, commit: str, name: str) -> SnapshotRecord:
    """The codekiln snapshot of a commit's files (catalogued like any local directory)."""
    with tempfile.TemporaryDirectory(prefix="codekiln-mine-", dir=state_dir("history")) as tmp:
        return add_repo(str(export_tree(gitdir, commit, Path(tmp) / name)))


def unusable_env(env: EnvRecord) -> str:
    """Why a state's environment cannot validate anything (no test of its suite passes there: old code
    on a newer Python, say), or "" when it can."""
    if any(status == "passed" for status in env.baseline.values()):
        return ""
    errors = [
        f"{path}: {text.strip().splitlines()[-1]}"
        for path, text in env.collection_errors.items()
        if text.strip()
    ]
    return f"no test passes on this state ({len(env.baseline)} ran)" + (f"; {errors[0]}" if errors else "")


def as_history_task(task: TaskRecord, change: Change, statement_source: str, split: str) -> TaskRecord:
    """A validated candidate as a mined task: source, id and provenance of its change."""
    tag = f"pr{change.pr}" if change.pr is not None else "commit"
    return task.model_copy(
        update={
            "instance_id": make_instance_id(task.repo, change.commit, [tag], task.candidate_id or ""),
            "source": TaskSource.history, "created_at": change.author_date,
            "statement_source": statement_source,
            "provenance": Provenance(
                commit=change.commit, parent=change.parent, author_date=change.author_date, pr=change.pr,
                kind=change.kind, title=change.title, message=change.message[:4000],
                statement_source=statement_source, split=split,
            ),
        }
    )  # fmt: skip


@dataclass
class Decided:
    """A unit's result: the change's decision and what its environment cost."""

    decision: Decision
    built: int = 0
    """Full environment builds this unit did (0 or 1)."""
    reused: int = 0
    """Environments it made on another state's venv (0 or 1)."""
    cutoffs: dict[str, str] = field(default_factory=dict)
    """Environment id -> its dependency cutoff or why none was applied, for the environments this
    unit's process has made or loaded (`EnvGroups.cutoffs`)."""


@dataclass
class DecideChange:
    """Decides one change of a repository's history (picklable: sent to Ray workers whole)."""

    gitdir: Path
    name: str
    backend: str = DEFAULT_BACKEND
    validation: ValidateConfig = field(default_factory=ValidateConfig)
    split_date: str = ""
    statement_model: str = ""
    """The model spec that writes statements the history cannot ("": the template)."""
    model: Any = field(default=None, compare=False)
    """A model object made by the driver (the local executor only; None on Ray)."""
    make_model: Callable[[str], Any] | None = field(default=None, compare=False)
    """Makes a model from `statement_model` in the worker (`models.make_model`, handed in by the caller:
    tasks sit below models in the layers, and a module-level function pickles by reference)."""

    def resources(self) -> Resources:
        """One CPU (tests run one pytest process at a time) and the sandbox's memory limit."""
        return Resources(cpus=1.0, memory_mb=Limits().memory_mb)

    def __call__(self, change: Change) -> Decided:
        key = f"mine-envs:{self.backend}:{state_dir('envs', 'groups')}"  # per backend and CODEKILN_HOME
        with borrowed(key, lambda: EnvGroups(self.backend)) as groups:
            builds, reused = groups.builds, groups.reused
            decision = self._decide(change, groups)
            return Decided(decision, groups.builds - builds, groups.reused - reused, dict(groups.cutoffs))

    @contextmanager
    def statement_writer(self) -> Iterator[Any]:
        """The model that writes statements: the driver's, else this process's instance of the spec
        (lent to this unit alone), else None (the template)."""
        if self.model is not None or not self.statement_model:
            yield self.model
            return
        make = self.make_model
        if make is None:
            raise ConfigError(
                f"statements by {self.statement_model!r} need a way to make the model in the worker",
                hint="pass make_model=codekiln.models.make_model to mine() (the CLI does)",
            )
        spec = self.statement_model
        with borrowed(f"mine-model:{spec}", lambda: make(spec)) as model:
            yield model

    def _decide(self, change: Change, groups: EnvGroups) -> Decision:
        """One candidate's decision: its state's environment, then the validation engine."""
        cand = candidate_of(change)
        try:
            snap = snapshot_of(self.gitdir, change.commit, self.name)
            env = groups.env_for(snap, change.author_date)
        except (EnvBuildError, RepoError) as err:
            return RejectedCandidate(
                candidate_id=cand.id, repo=self.name, base_commit=change.commit, reason=RejectReason.build_error,
                detail=f"the environment of {change.commit[:12]} ({change.author_date}): {err.message}"[:2000],
                mutators=cand.mutators,
            )  # fmt: skip
        unusable = unusable_env(env)
        if unusable:
            return RejectedCandidate(
                candidate_id=cand.id, repo=env.name, base_commit=env.snapshot_id, reason=RejectReason.build_error,
                detail=f"the environment of {change.commit[:12]} ({change.author_date}): {unusable}"[:2000],
                mutators=cand.mutators,
            )  # fmt: skip
        texts = {cand.id: history_text(change)}
        cmap = CoverageMap(env_id=env.id)  # none: every clean-passing test is selected
        try:
            with self.statement_writer() as model:
                writer = HistoryStatementWriter(
                    TemplateStatementWriter(Path(env.snapshot_path)), texts, model=model
                )
                with Validator(env, cmap, [], self.validation, backend=self.backend, statements=writer) as v:
                    decision = v.validate([cand])[0]
        except CodekilnError as err:
            return RejectedCandidate(
                candidate_id=cand.id, repo=env.name, base_commit=env.snapshot_id, reason=RejectReason.infra_error,
                detail=f"validation failed: {err.message}"[:2000], mutators=cand.mutators,
            )  # fmt: skip
        if isinstance(decision, RejectedCandidate):
            return decision
        split = split_of(change.author_date, self.split_date)
        return as_history_task(decision, change, writer.sources.get(cand.id, ""), split)


__all__ = [
    "HISTORY_MUTATOR",
    "DecideChange",
    "Decided",
    "as_history_task",
    "candidate_of",
    "snapshot_of",
    "unusable_env",
]
