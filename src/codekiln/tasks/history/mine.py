"""Tasks from a repository's real history, resumable at any moment: `codekiln mine` runs it.

    result = mine(MineConfig(repo="https://github.com/org/proj", out=Path("out"), max_commits=300))
    result.funnel.validated, result.funnel.rejected        # {"no_failing_test": 40, ...}

Steps: the history (`walk`: first-parent changes touching code and tests, split into fix and test
patches), exclusions (`--exclude`), then for each candidate, oldest first: a snapshot of the change's
commit, its environment (`envs.shared.EnvGroups`: one install per dependency fingerprint, with
dependencies as of the change's month where the index gives upload times: `envs.cutoff`), and the
validation engine synthesis uses (`validate.Validator`, with its reruns and grader gate). A candidate's
"bug" is the fix patch reversed on the commit's snapshot: the buggy state is the parent's code with the
change's tests, so FAIL_TO_PASS are the tests that fail on the parent's code and pass with the fix, and
PASS_TO_PASS the rest of the suite that passes on both. The failing tests' files are hidden from the
agent and restored for grading, as for synthesized tasks. Every test of the suite that passes on the
commit is selected (no coverage map is built per commit).

Each candidate is one unit of work (`decide.DecideChange`) on the configured executor (`executor`:
this machine, `workers` at once, or a Ray cluster); the driver writes the decisions in the history's
order whatever order the units finish in, so a run that stops at `max_tasks` writes the same records
on any executor, and a unit Ray retries after a lost worker is never written twice.

Records are synthesis' own (`TaskRecord`, `RejectedCandidate`) with `source: history` and a
`provenance` (commit, parent, author date, PR number, message, who wrote the statement, split). A
rejection names why: `build_error` (the environment of that state does not build, or no test of its
suite passes there), `patch_failed` (the fix does not apply in reverse), `no_failing_test`, `flaky`, `timeout`,
`gold_failed`, `empty_resolved`, statement reasons. Changes that are not candidates are counted in the
funnel (`no_test_change`, `no_code_change`, `merge_commit`, `root_commit`, `excluded`).

The output directory is a `core.stage` directory like synth's: manifest.json (the options and the head
commit walked, which a rerun keeps), tasks.jsonl, rejected.jsonl (one fsynced line per decision, by
candidate id), funnel.json and, with `split_date`, splits.json. A rerun after `kill -9` skips what is
decided and ends with the same records as an uninterrupted run.

Any machine: the history's order decides, never a measured time. With no coverage map a run's limit
counts 0.1 s per selected test (`CoverageMap.duration`), so it hangs on the suite's size, but a suite
of slower tests, or a busy machine, can still reach it (`timeout`). Dependencies are those of the
change's month only where the index gives upload times (`envs.cutoff`); elsewhere the newest, as of
the day the environment was built.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from codekiln.core.errors import CodekilnError, RepoError, TaskError
from codekiln.core.executor import ExecutorConfig
from codekiln.core.records import Record, iter_jsonl
from codekiln.core.stage import Layout, Stage, StageManifest, open_stage
from codekiln.envs import load_env
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.history.decide import (
    HISTORY_MUTATOR,
    DecideChange,
    Decided,
    as_history_task,
    candidate_of,
    snapshot_of,
    unusable_env,
)
from codekiln.tasks.history.exclude import Exclusions, load_exclusions, split_of
from codekiln.tasks.history.walk import (
    Change,
    WalkOptions,
    git,
    open_history,
    resolve_head,
    walk_history,
)
from codekiln.tasks.quality import compact
from codekiln.tasks.records import RejectedCandidate, TaskRecord
from codekiln.tasks.validation.validate import Decision, ValidateConfig

TASKS, REJECTED, FUNNEL, SPLITS = "tasks.jsonl", "rejected.jsonl", "funnel.json", "splits.json"
LAYOUT = Layout("tasks", logs=(TASKS, REJECTED), derived=(FUNNEL, SPLITS))
# reasons decided before the "no failing test" rule passed (`verdict` judges infrastructure errors and
# timeouts first; a timeout of the grader gate, after it, is rare and counted here too)
_BEFORE_TESTS = {"build_error", "patch_failed", "syntax_error", "infra_error", "timeout"}


class MineConfig(BaseModel):
    """One mining run."""

    repo: str = Field(description="a git checkout, a bare repository, a git bundle or a git URL")
    out: Path = Field(description="output directory")
    name: str = Field(default="", description="the repository's name (default: from its origin or path)")
    ref: str = Field(default="", description="the branch to walk (default: the repository's HEAD)")
    since: str = Field(default="", description="only changes after this date (git's --since)")
    until: str = Field(default="", description="only changes before this date (git's --until)")
    max_commits: int | None = Field(default=None, ge=1, description="walk at most this many commits")
    max_tasks: int | None = Field(default=None, ge=1, description="stop once this many tasks are valid")
    exclude: Path | None = Field(default=None, description="benchmark instances to leave out (see exclude)")
    split_date: str = Field(
        default="", description="YYYY-MM-DD: changes from this date on are the test split"
    )
    backend: str = Field(default=DEFAULT_BACKEND, description="sandbox backend")
    validation: ValidateConfig = Field(default_factory=lambda: ValidateConfig(), description="validation")
    statement_model: str = Field(
        default="", description="the model spec that writes statements the history cannot (recorded only)"
    )
    workers: int = Field(default=1, ge=0, description="changes decided at once (0: as the executor admits)")
    executor: ExecutorConfig = Field(
        default_factory=lambda: ExecutorConfig(),
        description="where changes are decided (local or a Ray cluster)",
    )


class Manifest(StageManifest):
    """What an output directory holds tasks for; `head` is the commit walked, kept by reruns."""

    informational = frozenset({"repo", "head", "name"})

    repo: str
    head: str
    name: str = ""
    ref: str
    since: str
    until: str
    max_commits: int | None
    exclude_digest: str
    split_date: str
    validation: ValidateConfig
    statement_model: str = ""


class Funnel(Record):
    """commits -> candidates -> environment ok -> failing test found -> valid, with the reasons."""

    commits: int = 0
    skipped: dict[str, int] = Field(default_factory=dict)
    candidates: int = 0
    tried: int = 0
    env_ok: int = 0
    failing_test_found: int = 0
    validated: int = 0
    rejected: dict[str, int] = Field(default_factory=dict)
    env_builds: int = 0
    """Full environment builds this run did (the rest reused a venv of the same fingerprint)."""
    env_reused: int = 0
    environments: int = 0
    """Distinct environments (one per state) of the valid tasks, over all runs."""
    deps_cutoff: str = ""
    """The dependency cutoffs of this run's environments in one line (see `cutoffs`)."""
    cutoffs: dict[str, str] = Field(default_factory=dict)
    """Environment id -> the cutoff its dependencies were resolved at, or why none was applied."""
    seconds: float = 0.0

    def add(self, decision: Decision) -> None:
        self.tried += 1
        reason = "" if isinstance(decision, TaskRecord) else str(decision.reason.value)
        if isinstance(decision, TaskRecord):
            self.validated += 1
        else:
            self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if reason != "build_error":
            self.env_ok += 1
        if reason not in _BEFORE_TESTS and reason != "no_failing_test":
            self.failing_test_found += 1


class MineResult(BaseModel):
    out: Path
    funnel: Funnel
    tasks: int
    new_decisions: int
    per_node: Counter[str] = Field(default_factory=Counter)
    """Changes decided this run, per node that decided them ("local" for the local executor)."""


ProgressFn = Callable[[str, Funnel], None]


def _quiet(message: str, funnel: Funnel) -> None:
    return None


def repo_name(spec: str, gitdir: Path | None = None) -> str:
    """A short name for the repository: that of its `origin` remote when it has one, else of the spec
    (the last path part, without .git / .bundle). Snapshots take the project's own name when its
    packaging files give one; this is the fallback, and what `--exclude` entries are matched against."""
    origin = ""
    if gitdir is not None:
        try:
            origin = git(gitdir, "config", "--get", "remote.origin.url").strip()
        except RepoError:
            origin = ""
    last = re.split(r"[/:]", (origin or spec).rstrip("/"))[-1]
    return re.sub(r"\.(git|bundle)$", "", last) or "repo"


def _cutoffs_of(env_ids: set[str]) -> dict[str, str]:
    """The cutoff notes of environments built by earlier runs (valid tasks' ones), where still there."""
    out = {}
    for eid in sorted(env_ids):
        try:
            out[eid] = load_env(eid).recipe.cutoff_note or "no cutoff: no date given"
        except CodekilnError:
            continue  # removed since: the task records keep the environment id only
    return out


def cutoff_summary(cutoffs: dict[str, str]) -> str:
    """One line over the environments' cutoff notes: how many got which, and why the others got none."""
    if not cutoffs:
        return "no environment built or loaded this run"
    applied = sorted(
        {
            n.split(" (")[0].removeprefix("uploaded before ")
            for n in cutoffs.values()
            if not n.startswith("no cutoff")
        }
    )
    reasons = sorted({n for n in cutoffs.values() if n.startswith("no cutoff")})
    count = sum(not n.startswith("no cutoff") for n in cutoffs.values())
    parts = (
        [f"dependency cutoff applied to {count} of {len(cutoffs)} environments ({', '.join(applied)})"]
        if applied
        else []
    )
    return "; ".join(parts + reasons)


def read_decisions(out: Path) -> list[Decision]:
    rows: list[Decision] = [TaskRecord.model_validate(r) for r in iter_jsonl(Path(out) / TASKS)]
    return rows + [RejectedCandidate.model_validate(r) for r in iter_jsonl(Path(out) / REJECTED)]


def mine(
    config: MineConfig,
    *,
    redo: bool = False,
    on_progress: ProgressFn = _quiet,
    model: Any = None,
    make_model: Callable[[str], Any] | None = None,
) -> MineResult:
    """Run (or resume) mining into `config.out`; see the module docstring. `model` (any object with
    `.chat(messages)`, made from `config.statement_model` by the caller) writes the statements that
    the history's own text cannot; on Ray, each worker makes its own with `make_model(spec)`
    (`codekiln.models.make_model`)."""
    with open_stage(Path(config.out), LAYOUT, redo=redo) as stage:
        return _mine(stage, config, on_progress, model, make_model)


def _head(stage: Stage, gitdir: Path, config: MineConfig) -> str:
    """The commit to walk from: the one a previous run of this directory walked, else the ref's."""
    path = stage.path("manifest.json")
    if path.is_file():
        try:
            return str(json.loads(path.read_text())["head"])
        except (ValueError, KeyError):
            pass
    return resolve_head(gitdir, config.ref)


def _mine(
    stage: Stage,
    config: MineConfig,
    on_progress: ProgressFn,
    model: Any,
    make_model: Callable[[str], Any] | None,
) -> MineResult:
    start = time.monotonic()
    funnel = Funnel()
    on_progress(f"reading the history of {config.repo}", funnel)
    split_of("", config.split_date)  # a bad date stops here, before any work
    gitdir = open_history(config.repo)
    exclusions = load_exclusions(config.exclude) if config.exclude else Exclusions()
    head = _head(stage, gitdir, config)
    stage.match(
        Manifest(
            repo=config.repo, head=head, name=config.name, ref=config.ref, since=config.since, until=config.until,
            max_commits=config.max_commits, exclude_digest=exclusions.digest, split_date=config.split_date,
            validation=config.validation, statement_model=config.statement_model,
        )
    )  # fmt: skip
    options = WalkOptions(config.ref, config.since, config.until, config.max_commits)
    walk = walk_history(gitdir, options, head)
    name = config.name or repo_name(
        str(Path(config.repo).resolve()) if Path(config.repo).is_dir() else config.repo, gitdir
    )
    changes = []
    for change in reversed(walk.changes):  # oldest first
        if exclusions.matches(change, name):
            walk.skipped["excluded"] = walk.skipped.get("excluded", 0) + 1
        else:
            changes.append(change)
    funnel.commits, funnel.skipped, funnel.candidates = walk.commits, walk.skipped, len(changes)
    decided = {d.candidate_id: d for d in read_decisions(stage.out)}
    for decision in decided.values():
        funnel.add(decision)
    envs: set[str] = {
        d.environment_id for d in decided.values() if isinstance(d, TaskRecord) and d.environment_id
    }
    todo = [change for change in changes if candidate_of(change).id not in decided]
    unit = DecideChange(
        gitdir, name, config.backend, config.validation, config.split_date, config.statement_model,
        model=model if config.executor.kind == "local" else None, make_model=make_model,
    )  # fmt: skip
    new, per_node = 0, Counter[str]()
    cutoffs: dict[str, str] = {}  # environment id -> its cutoff note, from this run's units
    enough = config.max_tasks is not None and funnel.validated >= config.max_tasks
    for change, result in [] if enough else _in_order(unit, todo, config, per_node):
        decision = compact(result.decision)
        if isinstance(decision, TaskRecord) and decision.environment_id:
            envs.add(decision.environment_id)
        stage.append(TASKS if isinstance(decision, TaskRecord) else REJECTED, [decision])
        funnel.add(decision)
        new += 1
        funnel.env_builds += result.built
        funnel.env_reused += result.reused
        cutoffs.update(result.cutoffs)
        on_progress(f"{change.commit[:12]} {change.title[:60]}: {_verdict(decision)}", funnel)
        if config.max_tasks is not None and funnel.validated >= config.max_tasks:
            break  # the units still running are cancelled; nothing of theirs is written
    funnel.environments = len(envs)
    funnel.cutoffs = _cutoffs_of(envs) | cutoffs
    funnel.deps_cutoff = cutoff_summary(funnel.cutoffs)
    funnel.seconds = round(time.monotonic() - start, 3)
    stage.write(FUNNEL, funnel)
    if config.split_date:
        tasks = [d for d in read_decisions(stage.out) if isinstance(d, TaskRecord)]
        splits: dict[str, list[str]] = {"train": [], "test": []}
        for task in tasks:
            splits[task.provenance.split if task.provenance and task.provenance.split else "train"].append(
                task.instance_id
            )
        stage.write(SPLITS, splits)
    on_progress("done", funnel)
    return MineResult(
        out=stage.out, funnel=funnel, tasks=funnel.validated, new_decisions=new, per_node=per_node
    )


def _verdict(decision: Decision) -> str:
    return "valid" if isinstance(decision, TaskRecord) else str(decision.reason.value)


def _in_order(
    unit: DecideChange, todo: list[Change], config: MineConfig, per_node: Counter[str]
) -> Iterator[tuple[Change, Decided]]:
    """The changes' decisions from units on `config.executor`, in the history's order (oldest first),
    whatever order the units finish in: a run stopped at `max_tasks` writes the same records on any
    executor. A unit that failed outside the candidate's own work (every try lost on Ray, a bug)
    stops the run; what was written before it is kept for the rerun."""
    outcomes = config.executor.make(config.workers).map(unit, todo, desc="mining", resources=unit.resources())
    order = {change.commit: index for index, change in enumerate(todo)}
    ready: dict[int, tuple[Change, Decided]] = {}
    next_index = 0
    for outcome in outcomes:
        change = outcome.item
        if outcome.value is None:
            error = outcome.error or {}
            raise TaskError(
                f"deciding change {change.commit[:12]} failed: {error.get('type')}: {error.get('message')}",
                hint=error.get("hint") or "fix the cause and rerun: decisions already written are kept",
            )
        per_node[outcome.node] += 1
        ready[order[change.commit]] = change, outcome.value
        while next_index in ready:
            yield ready.pop(next_index)
            next_index += 1


__all__ = [  # the unit's helpers live in decide; re-exported: this is where callers look
    "FUNNEL", "HISTORY_MUTATOR", "LAYOUT", "REJECTED", "SPLITS", "TASKS", "Funnel", "Manifest", "MineConfig",
    "MineResult", "as_history_task", "candidate_of", "mine", "read_decisions", "repo_name", "snapshot_of",
    "unusable_env",
]  # fmt: skip
