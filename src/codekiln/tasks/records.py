"""Task records: what a validated task is, in a schema compatible with SWE-bench rows.

A `TaskRecord` carries SWE-bench's fields under their exact names (`instance_id`, `repo`, `base_commit`,
`patch`, `test_patch`, `FAIL_TO_PASS`, `PASS_TO_PASS`, `problem_statement`, ...) plus codekiln's own:
where the task came from (`source`, `mutators`), how to rebuild the buggy state (`environment_id`,
`bug_patch` on top of the snapshot named by `base_commit`), `hidden_tests`, a `content_hash` to dedup
by, a `difficulty` estimate and the `validation` evidence. Candidates that fail validation become
`RejectedCandidate`s with a `RejectReason`.

    task = task_from_candidate(cand, repo="toolz", base_commit=snap_id, environment_id=env_id,
                               fail_to_pass=[...], pass_to_pass=[...], hidden_tests=["tests/test_x.py"],
                               test_patch=hidden_tests_patch(snapshot_dir, ["tests/test_x.py"]))
    row = task.to_swebench_row()              # FAIL_TO_PASS / PASS_TO_PASS as JSON strings, as SWE-bench
    same = TaskRecord.from_swebench_row(row)
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from codekiln.core.diffs import diff_hash, reverse_diff, whole_file_diff
from codekiln.core.errors import TaskError
from codekiln.core.records import Record
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.record_parts import Difficulty, Provenance, Validation

SWEBENCH_FIELDS = (
    "instance_id",
    "repo",
    "base_commit",
    "patch",
    "test_patch",
    "problem_statement",
    "hints_text",
    "created_at",
    "version",
    "FAIL_TO_PASS",
    "PASS_TO_PASS",
    "environment_setup_commit",
)


class TaskSource(StrEnum):
    """How a task was made. `swebench` marks rows imported from SWE-bench-style datasets."""

    func_pm = "func_pm"
    lm_rewrite = "lm_rewrite"
    lm_modify = "lm_modify"
    combined = "combined"
    """Bugs of different strategies (procedural and model-written) in one task."""
    pr_mirror = "pr_mirror"
    history = "history"
    """Mined from a repository's history (`codekiln mine`): a real change, its own tests."""
    swebench = "swebench"


class RejectReason(StrEnum):
    """Why a candidate did not become a task."""

    no_failing_test = "no_failing_test"
    """No previously passing test fails with the bug."""
    timeout = "timeout"
    flaky = "flaky"
    """A rerun disagreed with the first run."""
    syntax_error = "syntax_error"
    patch_failed = "patch_failed"
    """The bug patch did not apply to the snapshot."""
    gold_failed = "gold_failed"
    """With the gold patch, the failing tests do not all pass again."""
    empty_resolved = "empty_resolved"
    """The task counts as solved with no change at all."""
    no_hidden_failing_test = "no_hidden_failing_test"
    """Every failing test is one the agent can read (doctests of library modules, tests in files the bug
    changes): a patch special-casing those tests' inputs would resolve it, so its reward says nothing.
    Not applied with `ValidateConfig.visible_tests`, where every test is shown by choice."""
    build_error = "build_error"
    baseline_failed = "baseline_failed"
    """The clean snapshot's own test run failed (collection error, crash)."""
    statement_leak = "statement_leak"
    """Every problem statement written for it revealed the fix."""
    statement_names_hidden_test = "statement_names_hidden_test"
    """Its problem statement still named a hidden test after the names were rewritten out."""
    workspace_names_hidden_test = "workspace_names_hidden_test"
    """A file of the agent's workspace (other than a scrubbed build manifest) holds a hidden test's code
    (the name is older than the rule: a mere mention of the path no longer counts)."""
    duplicate = "duplicate"
    infra_error = "infra_error"
    import_breakage = "import_breakage"
    """Valid, but the bug breaks the package at import (every selected test fails to collect): dropped by
    default (`TaskFilter.allow_import_breakage` keeps it). Also a bug that ends the test process before
    any test (the package imported at pytest's start-up, by a root conftest or a plugin): never a task."""
    f2p_share = "f2p_share"
    """Valid, but more of its selected tests fail than `TaskFilter.max_f2p_share` allows."""
    over_quota = "over_quota"
    """Valid, but its group (`TaskFilter.balance`) already has its share of the tasks."""
    validation_error = "validation_error"
    """Validating it raised an error of codekiln's own (not the sandbox's or the machine's); the detail
    names the error's type and message. The rest of its batch is decided without it."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class TaskRecord(Record):
    """One verifiable task. SWE-bench fields first, under SWE-bench's names; codekiln's after."""

    schema_version: int = 3
    """3: `difficulty` holds the quality features (n_selected, f2p_share, import_breakage) and
    `validation` may be trimmed (older records get the features filled in when read). 2: test ids are
    pytest's own node ids (1: rebuilt from JUnit, which merged inherited, imported and data-driven
    tests; see `collapsed_ids`)."""
    instance_id: str
    repo: str
    base_commit: str
    """For synthesized tasks the snapshot id: the buggy code is this snapshot plus `bug_patch`."""
    patch: str
    """The gold fix, as a git diff (for synthesized tasks, the reverse of `bug_patch`)."""
    test_patch: str = ""
    """Applied before grading: for synthesized tasks it restores the `hidden_tests` files."""
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str] = []
    problem_statement: str = ""
    hints_text: str = ""
    version: str = ""
    environment_setup_commit: str = ""
    created_at: str = Field(default_factory=now_iso)

    source: TaskSource = TaskSource.func_pm
    mutators: list[str] = []
    entities: list[str] = []
    bug_patch: str = ""
    """Applied to the `base_commit` snapshot to make the buggy state; empty when that state is the base."""
    environment_id: str | None = None
    hidden_tests: list[str] = []
    """Test files removed from the agent's workspace and restored (by `test_patch`) only for grading."""
    content_hash: str = ""
    """`diff_hash(patch)`: equal fixes, equal hash. Filled in when left empty."""
    difficulty: Difficulty | None = None
    validation: Validation | None = None
    candidate_id: str | None = None
    left_out: list[str] = []
    """Tests of its hidden files left out because their run on the clean snapshot reads the tests'
    source (`tasks.validation.own_reads`): never graded, not even as collateral (`grading.collateral`)."""
    provenance: Provenance | None = None
    """Set on tasks mined from history only."""
    statement_source: str = ""
    """Who wrote `problem_statement`: "template" or "model", and for mined tasks also "pr" or "commit"
    (the change's own words; see `Provenance`). Empty: not recorded."""

    @model_validator(mode="after")
    def _fill_derived(self) -> TaskRecord:
        if not self.content_hash and self.patch:
            self.content_hash = diff_hash(self.patch)
        if self.difficulty is None and self.patch:
            self.difficulty = Difficulty.estimate(
                self.patch, n_fail_to_pass=len(self.FAIL_TO_PASS), n_bugs=max(1, len(self.mutators))
            )
        if self.difficulty is not None and not self.difficulty.n_selected and self.tests:
            d = self.difficulty  # written before the features existed: they follow from the tests
            d.n_selected = len(self.tests)
            d.f2p_share = round(len(self.FAIL_TO_PASS) / d.n_selected, 4)
            d.import_breakage = self.breaks_import()
        return self

    def breaks_import(self) -> bool:
        """Whether the bug breaks the package at import (see `Validation.breaks_import`); False without
        validation evidence."""
        if self.validation is None:
            return False
        return len(self.FAIL_TO_PASS) == len(self.tests) and self.validation.breaks_import(self.FAIL_TO_PASS)

    def collapsed_ids(self) -> list[str]:
        """Test ids of a schema-1 synthesized task that name where a test was defined rather than where
        pytest collected it (`tests/__init__.py::...`, `conftest.py::...`): such ids merged several
        tests into one and cannot be rerun. Tasks made since node ids came from pytest have none."""
        if self.schema_version >= 2 or self.source not in (
            TaskSource.func_pm,
            TaskSource.lm_modify,
            TaskSource.lm_rewrite,
        ):
            return []
        return [
            t for t in self.tests if t.split("::", 1)[0].rsplit("/", 1)[-1] in ("__init__.py", "conftest.py")
        ]

    @property
    def tests(self) -> list[str]:
        """All graded tests: FAIL_TO_PASS then PASS_TO_PASS."""
        return [*self.FAIL_TO_PASS, *self.PASS_TO_PASS]

    def to_swebench_row(self, *, extras: bool = False) -> dict[str, Any]:
        """The task as a SWE-bench row: exactly SWE-bench's keys, FAIL_TO_PASS/PASS_TO_PASS as JSON
        strings. `extras=True` adds codekiln's fields (lists and objects as they are)."""
        row: dict[str, Any] = {key: getattr(self, key) for key in SWEBENCH_FIELDS}
        row["FAIL_TO_PASS"] = json.dumps(self.FAIL_TO_PASS)
        row["PASS_TO_PASS"] = json.dumps(self.PASS_TO_PASS)
        if extras:
            data = self.model_dump(mode="json")
            row.update({k: v for k, v in data.items() if k not in row})
        return row

    @classmethod
    def from_swebench_row(cls, row: dict[str, Any], *, source: TaskSource | None = None) -> TaskRecord:
        """Import a SWE-bench-style row (test lists as JSON strings or lists; unknown keys ignored)."""
        data = dict(row)
        missing = [k for k in ("instance_id", "repo", "base_commit", "patch") if not data.get(k)]
        if missing:
            raise TaskError(
                f"SWE-bench row lacks {', '.join(missing)}",
                hint="rows need instance_id, repo, base_commit, patch",
            )
        for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
            value = data.get(key) or []
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError as err:
                    raise TaskError(
                        f"{data['instance_id']}: {key} is not a JSON list",
                        hint="store test ids as a JSON list",
                    ) from err
            data[key] = [str(v) for v in value]
        for key in ("validation", "provenance"):  # parquet exports store them as JSON strings
            if isinstance(data.get(key), str):
                data[key] = json.loads(data[key])
        for key in ("created_at", "version", "environment_setup_commit", "hints_text"):
            if data.get(key) is None:
                data.pop(key, None)
            elif not isinstance(data[key], str):
                data[key] = str(data[key])
        if source is not None:
            data["source"] = source
        elif "source" not in data:
            data["source"] = TaskSource.swebench
        return cls.model_validate(data)


class RejectedCandidate(Record):
    """A candidate that did not become a task, and why."""

    schema_version: int = 2
    """2: `validation` may be trimmed to the tests that decided the rejection, with counts."""
    candidate_id: str
    repo: str
    base_commit: str
    reason: RejectReason
    detail: str = ""
    mutators: list[str] = []
    entities: list[str] = []
    validation: Validation | None = None
    created_at: str = Field(default_factory=now_iso)


def source_of(mutators: list[str]) -> TaskSource:
    """The strategy of a candidate's bugs: lm_modify or lm_rewrite (model-written), func_pm (procedural
    mutators), or combined when they mix strategies."""
    model_written = {TaskSource.lm_modify.value, TaskSource.lm_rewrite.value}
    kinds = {m if m in model_written else TaskSource.func_pm.value for m in mutators}
    if len(kinds) > 1:
        return TaskSource.combined
    return TaskSource(kinds.pop()) if kinds else TaskSource.func_pm


def make_instance_id(repo: str, base_commit: str, mutators: list[str], candidate_id: str) -> str:
    """`<repo>.<snapshot[:8]>.<mutator or comboN>__<id[:10]>`, safe as a folder name."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "__", repo).strip("_") or "repo"
    tag = mutators[0] if len(mutators) == 1 else f"combo{len(mutators)}"
    return f"{slug}.{base_commit[:8]}.{tag}__{candidate_id[:10]}"


def task_from_candidate(
    candidate: Candidate,
    *,
    repo: str,
    base_commit: str,
    fail_to_pass: list[str],
    pass_to_pass: list[str],
    environment_id: str | None = None,
    hidden_tests: list[str] | None = None,
    test_patch: str = "",
    problem_statement: str = "",
    validation: Validation | None = None,
    source: TaskSource | None = None,
) -> TaskRecord:
    """A task from a validated candidate: the gold patch is the candidate's patch reversed. Its source
    is the candidate's strategy (`source_of`) unless given."""
    if not fail_to_pass:
        raise TaskError(
            f"candidate {candidate.id} has no FAIL_TO_PASS tests", hint="reject it as no_failing_test"
        )
    return TaskRecord(
        instance_id=make_instance_id(repo, base_commit, candidate.mutators, candidate.id),
        repo=repo,
        base_commit=base_commit,
        patch=reverse_diff(candidate.patch),
        test_patch=test_patch,
        FAIL_TO_PASS=fail_to_pass,
        PASS_TO_PASS=pass_to_pass,
        problem_statement=problem_statement,
        source=source or source_of(candidate.mutators),
        mutators=candidate.mutators,
        entities=candidate.entities,
        bug_patch=candidate.patch,
        environment_id=environment_id,
        hidden_tests=sorted(hidden_tests or []),
        validation=validation,
        candidate_id=candidate.id,
        difficulty=Difficulty.estimate(
            candidate.patch,
            n_fail_to_pass=len(fail_to_pass),
            n_bugs=candidate.n_bugs,
            n_selected=len(fail_to_pass) + len(pass_to_pass),
            import_breakage=validation is not None
            and not pass_to_pass
            and validation.breaks_import(fail_to_pass),
        ),
    )


def hidden_tests_patch(snapshot_dir: Path, paths: list[str]) -> str:
    """A patch that creates the given test files with their snapshot content: the `test_patch` of a task
    whose bug-triggering test files were removed from the agent's workspace."""
    out = []
    for rel in sorted(paths):
        path = Path(snapshot_dir) / rel
        if not path.is_file():
            raise TaskError(
                f"hidden test file {rel} is not in the snapshot",
                hint="pass paths relative to the snapshot root",
            )
        out.append(whole_file_diff(path, rel, create=True))
    return "".join(out)
