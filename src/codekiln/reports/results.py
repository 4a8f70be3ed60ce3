"""Evaluation records and their summaries: what one graded sample gave (`EvalResult`), the summary over
many (`EvalSummary`, with pass@k and breakdowns), error classes, and reading predictions and results.
`reports.eval` grades; this module only describes and summarizes what grading gave.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from codekiln.core.errors import ConfigError
from codekiln.core.records import Record, iter_jsonl
from codekiln.grading import GradeResult
from codekiln.reports.stats import RateSummary, Scored, breakdown, summarize
from codekiln.tasks.records import TaskRecord

RESULTS, SUMMARY = "results.jsonl", "summary.json"
ErrorClass = Literal["patch_failed", "rejected", "tampered", "timeout", "collection_error", "infra_error"]
ERROR_CLASSES: tuple[str, ...] = ErrorClass.__args__  # type: ignore[attr-defined]
DIMENSIONS = ("repo", "mutator", "strategy", "scaffold", "format", "model")


class Prediction(BaseModel):
    """One SWE-bench prediction row; `sample` numbers repeats of (instance_id, model) in file order."""

    instance_id: str
    model_name_or_path: str = "unknown"
    model_patch: str = ""
    sample: int = 0


class EvalResult(Record):
    """One graded sample: the verdict, every graded test's status, and the error class with its reason."""

    schema_version: int = 1
    instance_id: str
    model: str
    sample: int = 0
    source: Literal["predictions", "rollout"] = "predictions"
    repo: str = ""
    mutators: list[str] = Field(default_factory=list)
    strategy: str = ""
    """How the task was made (its `source`): func_pm, lm_modify, lm_rewrite, combined, ..."""
    scaffold: str | None = None
    format: str | None = None
    outcome: str
    """The grader's outcome: resolved, unresolved, patch_failed, rejected, tampered, timeout or error."""
    resolved: bool = False
    masked: bool = False
    """An infrastructure failure: left out of rates (see the module docstring)."""
    error_class: ErrorClass | None = None
    reason: str = ""
    FAIL_TO_PASS: dict[str, str] = Field(default_factory=dict)
    """Test id -> status after the patch ("missing" when the test was not reported)."""
    PASS_TO_PASS: dict[str, str] = Field(default_factory=dict)
    empty_patch: bool = False
    reward: float | None = None
    duration_s: float = 0.0

    @property
    def key(self) -> tuple[str, str, int]:
        return self.instance_id, self.model, self.sample

    @property
    def status(self) -> Literal["resolved", "failed", "error"]:
        """resolved, error (any error class) or failed: what the report's filters use."""
        if self.resolved:
            return "resolved"
        return "error" if self.error_class else "failed"

    def groups(self, dimension: str) -> list[str]:
        """The groups this sample belongs to along one breakdown dimension."""
        if dimension == "mutator":
            return list(self.mutators)
        value = {"repo": self.repo, "strategy": self.strategy, "scaffold": self.scaffold, "format": self.format,
                 "model": self.model}  # fmt: skip
        name = value[dimension]
        return [name] if name else []


class EvalSummary(Record):
    """What `codekiln eval` writes to summary.json."""

    schema_version: int = 1
    source: str
    overall: RateSummary
    error_classes: dict[str, int] = Field(default_factory=dict)
    errors: list[dict[str, Any]] = Field(default_factory=list)
    """One entry per sample with an error class: instance_id, model, sample, error_class, reason."""
    breakdowns: dict[str, dict[str, RateSummary]] = Field(default_factory=dict)
    unknown_instances: list[str] = Field(default_factory=list)
    """Predicted instance ids the tasks do not hold (not graded)."""
    duration_s: float = 0.0


def error_class(grade: GradeResult | None, task: TaskRecord | None = None) -> ErrorClass | None:
    """The error class of a grade (None: graded cleanly, resolved or not; no grade: infra_error).

    A bug may itself break collection of the module its FAIL_TO_PASS tests live in, so collection errors
    count as the patch's `collection_error` only when a graded test that was reported in the buggy state
    (`task.validation.after`; PASS_TO_PASS tests passed there by definition) went missing or errored.
    Without the task, any collection error of an unresolved grade counts."""
    if grade is None or grade.outcome == "error":
        return "infra_error"
    if grade.outcome in ("patch_failed", "rejected", "tampered"):
        return grade.outcome  # type: ignore[return-value]
    if grade.outcome == "timeout":
        return "timeout"
    if grade.resolved or not grade.detail.startswith("collection errors"):
        return None
    if task is None:
        return "collection_error"
    before = dict.fromkeys(task.PASS_TO_PASS, "passed")  # a trimmed `after` holds FAIL_TO_PASS only
    before.update(task.validation.after if task.validation else {})
    lost = ("missing", "error")
    broken = any(
        grade.statuses.get(t, "missing") in lost and before.get(t, "missing") not in lost for t in task.tests
    )
    return "collection_error" if broken else None


def _statuses(grade: GradeResult | None, tests: list[str]) -> dict[str, str]:
    found = grade.statuses if grade else {}
    return {t: found.get(t, "missing") for t in tests}


def result_from_grade(
    task: TaskRecord | None,
    grade: GradeResult | None,
    *,
    instance_id: str,
    model: str,
    sample: int,
    **extra: Any,
) -> EvalResult:
    """An `EvalResult` from the grader's verdict (None: the sample could not be graded)."""
    klass = error_class(grade, task)
    return EvalResult(
        instance_id=instance_id,
        model=model,
        sample=sample,
        repo=task.repo if task else instance_id.split(".")[0],
        mutators=list(task.mutators) if task else [],
        strategy=task.source.value if task else "",
        outcome=grade.outcome if grade else "error",
        resolved=bool(grade and grade.resolved),
        masked=klass == "infra_error",
        error_class=klass,
        reason=(grade.detail if grade else extra.pop("reason", "not graded"))[:4000],
        FAIL_TO_PASS=_statuses(grade, task.FAIL_TO_PASS if task else []),
        PASS_TO_PASS=_statuses(grade, task.PASS_TO_PASS if task else []),
        duration_s=round(grade.duration_s, 3) if grade else 0.0,
        **extra,
    )


PREDICTION_HINT = (
    'one JSON object per line: {"instance_id": ..., "model_name_or_path": ..., "model_patch": ...} '
    "(model_patch may be empty or null for no patch)"
)


def _prediction(row: Any, where: str) -> Prediction:
    """One row as a Prediction, or a ConfigError naming `where` (file and line) and what is wrong."""
    if not isinstance(row, dict):
        raise ConfigError(
            f"{where}: a prediction must be a JSON object, got {type(row).__name__}", hint=PREDICTION_HINT
        )
    missing = [k for k in ("instance_id", "model_patch") if k not in row]
    if missing:
        raise ConfigError(f"{where}: the prediction has no {' and no '.join(missing)}", hint=PREDICTION_HINT)
    if not isinstance(row["instance_id"], str) or not row["instance_id"].strip():
        raise ConfigError(f"{where}: instance_id must be a non-empty string", hint=PREDICTION_HINT)
    if row["model_patch"] is not None and not isinstance(row["model_patch"], str):
        raise ConfigError(
            f"{where}: model_patch must be a string (a unified diff) or null", hint=PREDICTION_HINT
        )
    return Prediction(
        instance_id=row["instance_id"],
        model_name_or_path=str(row.get("model_name_or_path") or "unknown"),
        model_patch=row["model_patch"] or "",
    )


def read_predictions(path: Path) -> list[Prediction]:
    """Predictions from JSONL or a JSON list; repeats of (instance_id, model) become samples 0, 1, ...
    A malformed row (bad JSON, not an object, no instance_id or model_patch) is a ConfigError naming the
    file and line: one bad line never silently shrinks what gets graded."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no predictions file at {path}", hint="give a JSONL file of SWE-bench predictions")
    text = path.read_text()
    out: list[Prediction] = []
    if text.lstrip().startswith("["):
        try:
            rows = json.loads(text)
        except ValueError as err:
            raise ConfigError(
                f"{path}:{getattr(err, 'lineno', '?')}: not valid JSON: {err}", hint=PREDICTION_HINT
            ) from err
        out = [_prediction(row, f"{path}: item {i}") for i, row in enumerate(rows, start=1)]
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as err:
                raise ConfigError(
                    f"{path}:{lineno}: not valid JSON ({err}): {line[:80]}", hint=PREDICTION_HINT
                ) from err
            out.append(_prediction(row, f"{path}:{lineno}"))
    if not out:
        raise ConfigError(f"{path} holds no predictions", hint=PREDICTION_HINT)
    seen: dict[tuple[str, str], int] = {}
    for pred in out:
        pred.sample = seen.get((pred.instance_id, pred.model_name_or_path), 0)
        seen[(pred.instance_id, pred.model_name_or_path)] = pred.sample + 1
    return out


def summarize_results(results: list[EvalResult], source: str, **extra: Any) -> EvalSummary:
    """Overall rate, pass@k, error classes and per-dimension breakdowns of graded samples."""
    rows: list[Scored] = list(results)
    counts: dict[str, int] = {}
    errors = []
    for r in results:
        if r.error_class:
            counts[r.error_class] = counts.get(r.error_class, 0) + 1
            errors.append(
                {"instance_id": r.instance_id, "model": r.model, "sample": r.sample,
                 "error_class": r.error_class, "reason": r.reason[:500]}
            )  # fmt: skip
    breakdowns = {
        dim: breakdown(rows, lambda row, dim=dim: row.groups(dim))  # type: ignore[attr-defined, misc]
        for dim in DIMENSIONS
    }
    return EvalSummary(
        source=source, overall=summarize(rows), error_classes=counts, errors=errors,
        breakdowns={dim: groups for dim, groups in breakdowns.items() if groups}, **extra,
    )  # fmt: skip


def read_results(out: Path) -> list[EvalResult]:
    return [EvalResult.model_validate(row) for row in iter_jsonl(Path(out) / RESULTS)]
