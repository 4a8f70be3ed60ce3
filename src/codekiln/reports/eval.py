"""Evaluation: grade SWE-bench-style predictions or codekiln rollouts, with pass@k and breakdowns.

    summary = evaluate_predictions(Path("out/toolz"), Path("preds.jsonl"), Path("eval/"), workers=2)
    summary = evaluate_rollouts(Path("runs/r1"))              # grades already stored by the rollout
    summary.overall.rate, summary.overall.pass_at_k["1"], summary.breakdowns["mutator"]

or `codekiln eval --tasks out/toolz --predictions preds.jsonl --out eval/` / `codekiln eval --rollouts runs/r1`.

Predictions are JSON lines (or a JSON list) with `instance_id`, `model_name_or_path` and `model_patch`, as
SWE-bench takes them. Each is graded by `grading.grade_patch` (the grader rollouts and validation use)
in a fresh sandbox. An instance listed several times for one model is several samples of it (numbered in
file order), which is what pass@k is estimated from.

The output directory, a `core.stage` directory (locked while a run writes to it; a torn last line is
dropped with a warning and its sample graded again), holds `results.jsonl` (one `EvalResult` per sample,
appended as each is graded, so a rerun skips what is already graded; `redo=True` starts over) and
`summary.json` (an `EvalSummary`).

Error classes, each with its reason kept in `EvalResult.reason`: `patch_failed` (git apply refused the
patch), `rejected` (the patch broke a grader rule: binary or special files, git metadata, code that
reaches into the test machinery), `tampered` (the test run's report failed the grader's cross-checks:
a forged verdict, with its evidence), `timeout` (the test run hit its limit), `collection_error` (the patched code broke test collection:
those tests count as failed), `infra_error` (the sandbox or test runner failed: masked, left out of every
rate, never scored as the model's 0). All but the last are the model's doing and score as unresolved.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.core.executor import ExecutorConfig
from codekiln.core.stage import Layout, Stage, open_stage
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import GradeResult, grade_patch
from codekiln.reports.results import (
    DIMENSIONS,
    ERROR_CLASSES,
    RESULTS,
    SUMMARY,
    EvalResult,
    EvalSummary,
    Prediction,
    error_class,
    read_predictions,
    read_results,
    result_from_grade,
    summarize_results,
)
from codekiln.rollouts.engine import MANIFEST as ROLLOUT_MANIFEST
from codekiln.rollouts.engine import read_rollouts
from codekiln.rollouts.records import Rollout
from codekiln.sandbox import DEFAULT_BACKEND, SANDBOXES
from codekiln.tasks import load_tasks
from codekiln.tasks.records import TaskRecord

LAYOUT = Layout("results", logs=(RESULTS,), derived=(SUMMARY,))


def _tasks_by_id(tasks: Path) -> dict[str, TaskRecord]:
    return {t.instance_id: t for t in load_tasks(tasks)}


def _key(row: dict[str, Any]) -> tuple[str, str, int]:
    """The (instance_id, model, sample) a result row is for: what makes it finished work."""
    return str(row["instance_id"]), str(row["model"]), int(row.get("sample", 0))


def _envs_for(tasks: Iterable[TaskRecord]) -> dict[str, EnvRecord]:
    envs: dict[str, EnvRecord] = {}
    for task in tasks:
        if not task.environment_id:
            raise ConfigError(
                f"task {task.instance_id} names no environment, so it cannot be graded here",
                hint="evaluate tasks made by codekiln synth (their records carry environment_id)",
            )
        if task.environment_id not in envs:
            envs[task.environment_id] = load_env(task.environment_id)
    return envs


ResultFn = Callable[[EvalResult, int, int], None]


def _quiet(result: EvalResult, done: int, total: int) -> None:
    return None


def _grade_all(
    jobs: list[tuple[TaskRecord, str, EvalResult]],
    stage: Stage,
    workers: int,
    backend: str,
    on_result: ResultFn,
    timeout: float | None = None,
    executor: ExecutorConfig | None = None,
) -> None:
    """Grade (task, patch) jobs on `workers` threads (or on `executor`: a Ray cluster's workers), each in
    its own fresh sandbox; append each result as it arrives, here in the driver. `template` carries the
    identity fields of the result to write."""
    envs = _envs_for(task for task, _, _ in jobs)

    def grade(job: tuple[TaskRecord, str, EvalResult]) -> EvalResult:
        task, patch, template = job
        try:
            graded: GradeResult | None = grade_patch(
                task, envs[task.environment_id or ""], patch, backend=backend, timeout=timeout
            )
            reason = ""
        except CodekilnError as err:
            graded, reason = None, f"{type(err).__name__}: {err}"
        extra = template.model_dump(include={"source", "scaffold", "format", "reward", "empty_patch"})
        if graded is None:
            extra["reason"] = reason
        return result_from_grade(
            task, graded, instance_id=task.instance_id, model=template.model, sample=template.sample, **extra
        )

    outcomes = (executor or ExecutorConfig()).make(workers).map(grade, jobs, desc="grading")
    for done, outcome in enumerate(outcomes, start=1):
        if outcome.value is None:
            task, _, template = outcome.item
            error = outcome.error or {}
            reason = f"{error.get('type')}: {error.get('message')}"
            value = result_from_grade(
                task, None, instance_id=task.instance_id, model=template.model, sample=template.sample,
                source=template.source, reason=reason,
            )  # fmt: skip
        else:
            value = outcome.value
        stage.append(RESULTS, [value])
        on_result(value, done, len(jobs))


def check_grading(backend: str, timeout: float | None) -> None:
    """Refuse an unknown sandbox backend or a timeout that is not positive before anything is graded:
    either used to give every sample the same failure (`infra_error`; or `timeout`, gold patches
    scored 0), stored as results and exit 0."""
    SANDBOXES.load(backend)
    if timeout is not None and not timeout > 0:
        raise ConfigError(
            f"--timeout {timeout:g}: a test run needs a positive number of seconds", hint="e.g. --timeout 300"
        )


def evaluate_predictions(
    tasks: Path,
    predictions: Path,
    out: Path,
    *,
    workers: int = 1,
    backend: str = DEFAULT_BACKEND,
    redo: bool = False,
    timeout: float | None = None,
    on_result: ResultFn = _quiet,
    executor: ExecutorConfig | None = None,
) -> EvalSummary:
    """Grade every prediction (resuming `out`), then write and return the summary. `timeout` caps each
    test run in seconds (default: the environment's own limit)."""
    start = time.monotonic()
    check_grading(backend, timeout)
    preds = read_predictions(predictions)  # a malformed file fails before anything is loaded or graded
    by_id = _tasks_by_id(tasks)
    unknown = sorted({p.instance_id for p in preds if p.instance_id not in by_id})
    if len(unknown) == len({p.instance_id for p in preds}):
        raise ConfigError(
            f"none of the {len(preds)} predictions in {predictions} names a task in {tasks} "
            f"(e.g. {unknown[0]!r}; the tasks are e.g. {next(iter(by_id), 'none')!r})",
            hint="give the tasks directory the predictions were made for (--tasks)",
        )
    with open_stage(Path(out), LAYOUT, redo=redo) as stage:
        done = stage.finished(RESULTS, _key)
        jobs = [
            (by_id[p.instance_id], p.model_patch,
             EvalResult(instance_id=p.instance_id, model=p.model_name_or_path, sample=p.sample,
                        outcome="error", empty_patch=not p.model_patch.strip()))
            for p in preds
            if p.instance_id in by_id and (p.instance_id, p.model_name_or_path, p.sample) not in done
        ]  # fmt: skip
        _grade_all(jobs, stage, workers, backend, on_result, timeout, executor)
        wanted = {(p.instance_id, p.model_name_or_path, p.sample) for p in preds}
        results = [r for r in read_results(stage.out) if r.key in wanted]
        seconds = round(time.monotonic() - start, 3)
        summary = summarize_results(results, str(predictions), unknown_instances=unknown, duration_s=seconds)
        stage.write(SUMMARY, summary)
    return summary


def rollout_tasks(rollout_dir: Path, tasks: Path | None = None) -> dict[str, TaskRecord]:
    """The tasks of a rollout directory: from `tasks`, else from the path its manifest names ({} if gone)."""
    if tasks is None:
        manifest = Path(rollout_dir) / ROLLOUT_MANIFEST
        if manifest.is_file():
            named = json.loads(manifest.read_text()).get("tasks") or ""
            tasks = Path(named) if named else None
    if tasks is None or not Path(tasks).exists():
        return {}
    return _tasks_by_id(Path(tasks))


def rollout_result(rollout: Rollout, task: TaskRecord | None) -> EvalResult:
    """An `EvalResult` from the grade a rollout stored (masked when its reward is masked)."""
    extra: dict[str, Any] = {
        "source": "rollout", "scaffold": rollout.scaffold, "format": rollout.format,
        "reward": rollout.reward.value, "empty_patch": not rollout.patch.strip(),
    }  # fmt: skip
    if rollout.grade is None:
        error = rollout.error or (rollout.trajectory.error if rollout.trajectory else None) or {}
        extra["reason"] = rollout.reward.mask_reason or str(error.get("message") or "not graded")
    result = result_from_grade(
        task,
        rollout.grade,
        instance_id=rollout.instance_id,
        model=rollout.model,
        sample=rollout.sample,
        **extra,
    )
    if rollout.reward.masked and not result.masked:
        result.masked, result.error_class = True, "infra_error"
        result.reason = result.reason or rollout.reward.mask_reason
    return result


def evaluate_rollouts(
    rollout_dir: Path,
    out: Path | None = None,
    *,
    tasks: Path | None = None,
    regrade: bool = False,
    workers: int = 1,
    backend: str = DEFAULT_BACKEND,
    redo: bool = False,
    timeout: float | None = None,
    on_result: ResultFn = _quiet,
    executor: ExecutorConfig | None = None,
) -> EvalSummary:
    """Evaluate a rollout directory from the grades it stored, or regrade every patch in fresh sandboxes
    (`regrade`, resumable like predictions). Writes to `out` (default: ROLLOUT_DIR/eval)."""
    start = time.monotonic()
    check_grading(backend, timeout)
    rollout_dir = Path(rollout_dir)
    out = Path(out) if out else rollout_dir / "eval"
    rollouts = read_rollouts(rollout_dir)
    if not rollouts:
        raise ConfigError(
            f"no rollouts in {rollout_dir}", hint="run some first: codekiln rollout --tasks DIR --out DIR"
        )
    by_id = rollout_tasks(rollout_dir, tasks)
    # Without --regrade the results are rebuilt from the stored grades every time.
    with open_stage(out, LAYOUT, redo=redo or not regrade) as stage:
        if not regrade:
            stage.append(RESULTS, [rollout_result(r, by_id.get(r.instance_id)) for r in rollouts])
        else:
            missing = sorted({r.instance_id for r in rollouts} - set(by_id))
            if missing:
                raise ConfigError(
                    f"regrading needs the tasks of {len(missing)} instances, e.g. {missing[0]}",
                    hint="pass --tasks with the synth directory the rollouts were run on",
                )
            done = stage.finished(RESULTS, _key)
            jobs = []
            for r in rollouts:
                if (r.instance_id, r.model, r.sample) in done:
                    continue
                template = rollout_result(r, by_id[r.instance_id])
                if template.masked and r.grade is None:  # the episode itself failed: nothing to regrade
                    stage.append(RESULTS, [template])
                    continue
                jobs.append((by_id[r.instance_id], r.patch, template))
            _grade_all(jobs, stage, workers, backend, on_result, timeout, executor)
        summary = summarize_results(
            read_results(out), str(rollout_dir), duration_s=round(time.monotonic() - start, 3)
        )
        stage.write(SUMMARY, summary)
    return summary


__all__ = [
    "DIMENSIONS",
    "ERROR_CLASSES",
    "EvalResult",
    "EvalSummary",
    "Prediction",
    "error_class",
    "evaluate_predictions",
    "evaluate_rollouts",
    "read_predictions",
    "read_results",
    "result_from_grade",
    "rollout_result",
    "rollout_tasks",
    "summarize_results",
]
