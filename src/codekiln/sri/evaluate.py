"""`codekiln sri eval`: the same samples through one model as SRI and as FIM, scored by text and by
execution, resumable.

    summary = evaluate_samples("sri/toolz", "sri/toolz/eval-embedded", model="embedded", modes=("sri", "fim"))

or `codekiln sri eval sri/toolz --model embedded --out sri/toolz/eval-embedded --split test`.

Per sample and mode, one generation (temperature and max_tokens from the model options):
- sri: the chat messages of `prompt.sri_messages`; the answer's blocks are applied to the prompt file
  (`apply.apply_answer`, its outcome recorded).
- fim: the same context as a FIM prompt in the model's family (`fim.family_for_format`, or `fim=NAME`),
  through the backend's raw completion (`complete`); the middle goes between the shown prefix and suffix.
Then the scores of `metrics.score_file` and, by execution, pass@1: the predicted file replaces the
repository's in a fresh sandbox of the sample's environment and the tests that execute the middle (and
passed on the clean repository) run; it passes when all of them pass. Identical predicted files are run
once per evaluation. A sandbox that fails is an infrastructure error (`infra_error`), never a model's 0.

Outputs in OUT: `results.jsonl` (one `SriResult` per sample and mode, appended as produced: a rerun
resumes) and `summary.json` (per mode, overall and per kind: exact match, edit similarity, apply rate,
repair rate, pass@1, latency).
"""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

from codekiln.core.errors import CodekilnError, ConfigError
from codekiln.core.protocols import Sandbox
from codekiln.core.records import Record, iter_jsonl
from codekiln.core.stage import Layout, StageManifest, open_stage
from codekiln.envs import EnvRecord, ensure_env, env_sandbox
from codekiln.models import make_model
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.sri.apply import apply_answer
from codekiln.sri.data import SAMPLES, SriSample
from codekiln.sri.fim import FimFamily, family_for_format, get_family
from codekiln.sri.metrics import score_file
from codekiln.sri.prompt import sri_messages
from codekiln.tasks.validation.testexec import FreshExecutor, Job

Mode = Literal["sri", "fim"]
RESULTS, SUMMARY = "results.jsonl", "summary.json"
LAYOUT = Layout("SRI results", logs=(RESULTS,), derived=(SUMMARY,))


class SriResult(Record):
    """One sample answered in one mode, and its scores."""

    schema_version: int = 1
    sample_id: str
    mode: Mode
    kind: str
    split: str
    corrupted: bool
    model: str
    output: str
    """The model's raw output (SRI: the answer; FIM: the completion before cutting)."""
    outcome: str
    """SRI: the applier's outcome (`apply.Outcome`); FIM: "fim"."""
    applied: bool
    exact: bool
    edit_similarity: float
    repaired: bool | None = None
    passed: bool | None = None
    """All covering tests pass with the predicted file; None when they could not be run."""
    failed_tests: list[str] = []
    infra_error: str | None = None
    latency_s: float = 0.0
    completion_tokens: int = 0


class EvalManifest(StageManifest):
    informational: ClassVar[frozenset[str]] = frozenset({"samples"})
    model: str
    options: dict[str, Any]
    modes: list[str]
    split: str
    fim: str
    execute: bool
    samples: str = ""


def load_samples(path: str | Path, split: str = "test") -> list[SriSample]:
    """Samples of a `sri make` directory (or a samples .jsonl), of one split ("all" for both)."""
    path = Path(path)
    file = path / SAMPLES if path.is_dir() else path
    if not file.is_file():
        raise ConfigError(
            f"no SRI samples at {file}", hint="make them first: codekiln sri make SPEC --out DIR"
        )
    samples = [SriSample.model_validate(row) for row in iter_jsonl(file)]
    if not samples:
        raise ConfigError(
            f"{file} holds no SRI samples", hint="make them first: codekiln sri make SPEC --out DIR"
        )
    return [s for s in samples if split == "all" or s.split == split]


class Runner:
    """Runs covering tests on predicted files, one sandbox per environment, results cached by content."""

    def __init__(self, backend: str) -> None:
        self.backend = backend
        self.envs: dict[str, tuple[EnvRecord, Sandbox]] = {}
        self.cache: dict[str, tuple[bool | None, list[str], str | None]] = {}

    def run(self, sample: SriSample, text: str) -> tuple[bool | None, list[str], str | None]:
        """(passed, failed tests, infrastructure error) of the tests covering `sample` with `text` in place."""
        key = hashlib.sha256(f"{sample.env_id}\0{sample.path}\0{','.join(sample.tests)}\0{text}".encode())
        if key.hexdigest() not in self.cache:
            self.cache[key.hexdigest()] = self._run(sample, text)
        return self.cache[key.hexdigest()]

    def _run(self, sample: SriSample, text: str) -> tuple[bool | None, list[str], str | None]:
        if sample.env_id not in self.envs:
            env = ensure_env(sample.env_id, backend=self.backend)
            self.envs[sample.env_id] = (env, env_sandbox(env, self.backend))
        env, sandbox = self.envs[sample.env_id]
        job = Job(sample.id, tests=list(sample.tests), files={sample.path: text}, timeout=env.test.timeout_s)
        result = FreshExecutor(sandbox, env.test).run_one(job)
        run = result.runs[-1] if result.runs else None
        if result.error or run is None or run.error:
            return None, [], result.error or (run.error if run else "no test run")
        failed = [t for t in sample.tests if run.statuses.get(t) != "passed"]
        return not failed, failed[:20], None

    def close(self) -> None:
        for _, sandbox in self.envs.values():
            sandbox.close()


def answer(model: Any, sample: SriSample, mode: Mode, fim: FimFamily) -> tuple[SriResult, str | None]:
    """Ask `model` for `sample` in `mode`; the result scored by text (execution comes later) and the
    predicted file (None when an SRI answer does not apply)."""
    view = sample.view()
    problem = view.problem
    if mode == "sri":
        response = model.chat(sri_messages(view))
        output, latency, tokens = response.text, response.latency_s, response.usage.completion_tokens
        applied = apply_answer(problem.prompt_file(), output)
        predicted, outcome = applied.text, str(applied.outcome)
    else:
        if not hasattr(model, "complete"):
            raise ConfigError(
                f"the model {getattr(model, 'name', model)!r} has no raw completions, which FIM needs",
                hint="use a format-rendering backend (embedded, transformers, openai with --option mode=raw)",
            )
        prefix, suffix = view.fim_parts()
        result = model.complete(fim.prompt(prefix, suffix), stop=fim.end)
        output, latency, tokens = result.text, result.latency_s, result.usage.completion_tokens
        middle = fim.middle(output, suffix, inline=not problem.whole_lines)
        predicted, outcome = problem.prefix + middle + problem.suffix, "fim"
    scores = score_file(problem, predicted)
    result = SriResult(
        sample_id=sample.id, mode=mode, kind=sample.kind, split=sample.split, corrupted=problem.corrupted,
        model=getattr(model, "name", "?"), output=output, outcome=outcome, applied=predicted is not None,
        exact=scores.exact, edit_similarity=round(scores.edit_similarity, 6), repaired=scores.repaired,
        latency_s=round(latency, 4), completion_tokens=tokens,
    )  # fmt: skip
    return result, predicted


def _rate(values: Iterable[bool | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 4) if known else None


def summarize(results: Sequence[SriResult]) -> dict[str, Any]:
    """Per mode (and per mode and kind): n, exact, edit similarity, apply, repair, pass@1, latency."""

    def block(rows: list[SriResult]) -> dict[str, Any]:
        return {
            "n": len(rows),
            "exact_match": _rate(r.exact for r in rows),
            "edit_similarity": round(statistics.fmean(r.edit_similarity for r in rows), 4) if rows else None,
            "apply_rate": _rate(r.applied for r in rows),
            "repair_rate": _rate(r.repaired for r in rows if r.corrupted),
            "pass_at_1": _rate(r.passed for r in rows),
            "executed": sum(1 for r in rows if r.passed is not None),
            "infra_errors": sum(1 for r in rows if r.infra_error),
            "latency_p50_s": round(statistics.median(r.latency_s for r in rows), 4) if rows else None,
            "outcomes": {
                o: sum(1 for r in rows if r.outcome == o) for o in sorted({r.outcome for r in rows})
            },
        }

    out: dict[str, Any] = {}
    for mode in sorted({r.mode for r in results}):
        mine = [r for r in results if r.mode == mode]
        kinds = sorted({r.kind for r in mine})
        out[mode] = {
            "all": block(mine),
            "per_kind": {k: block([r for r in mine if r.kind == k]) for k in kinds},
        }
    return out


def evaluate_samples(
    samples: str | Path,
    out: str | Path,
    *,
    model: str = "embedded",
    options: dict[str, Any] | None = None,
    modes: Sequence[Mode] = ("sri", "fim"),
    split: str = "test",
    fim: str | None = None,
    execute: bool = True,
    limit: int | None = None,
    backend: str = DEFAULT_BACKEND,
    redo: bool = False,
    progress: Callable[[SriResult, int, int], None] | None = None,
) -> dict[str, Any]:
    """Answer, score and (with `execute`) run every sample in every mode; see the module docstring."""
    options = dict(options or {})
    todo = load_samples(samples, split)[:limit]
    with open_stage(Path(out), LAYOUT, redo=redo) as stage:
        llm = make_model(model, **options)
        family = get_family(fim) if fim else family_for_format(getattr(llm, "format", None), llm.name)
        stage.match(
            EvalManifest(model=model, options=options, modes=list(modes), split=split, fim=family.name,
                         execute=execute, samples=str(samples))
        )  # fmt: skip
        done = stage.finished(RESULTS, key=lambda row: (row["sample_id"], row["mode"]))
        runner = Runner(backend)
        total, count = len(todo) * len(modes), 0
        try:
            for sample in todo:
                for mode in modes:
                    count += 1
                    if (sample.id, mode) in done:
                        continue
                    result = _one(llm, sample, mode, family, runner if execute else None)
                    stage.append(RESULTS, [result])
                    if progress:
                        progress(result, count, total)
        finally:
            runner.close()
        results = [SriResult.model_validate(r) for r in iter_jsonl(stage.path(RESULTS))]
        summary = {"model": model, "fim": family.name, "split": split, "modes": summarize(results)}
        stage.write(SUMMARY, summary)
        return summary


def _one(llm: Any, sample: SriSample, mode: Mode, family: FimFamily, runner: Runner | None) -> SriResult:
    try:
        result, text = answer(llm, sample, mode, family)
    except ConfigError:
        raise
    except CodekilnError as err:  # one failed generation never stops the evaluation
        return SriResult(
            sample_id=sample.id, mode=mode, kind=sample.kind, split=sample.split,
            corrupted=bool(sample.corruption), model=getattr(llm, "name", "?"), output="",
            outcome="error", applied=False, exact=False, edit_similarity=0.0,
            infra_error=f"{type(err).__name__}: {err.message}",
        )  # fmt: skip
    if runner is None:
        return result
    if text is None:
        result.passed = False  # an answer that does not apply fails, as it would in an editor
        return result
    result.passed, result.failed_tests, result.infra_error = runner.run(sample, text)
    return result
