"""Gather what a report shows from output directories: synthesis runs, rollouts, evaluations, format evals.

    data = collect([Path("out/toolz"), Path("runs/r1"), Path("eval/")])
    data.synth, data.tasks, data.results, data.viewer_rows()

Each path is recognised by what it holds: a synth directory (`funnel.json` / `tasks.jsonl` with a synth
`manifest.json`), a rollout directory (`rollouts.jsonl`), an evaluation directory (`results.jsonl` +
`summary.json`, from `codekiln eval`), or a format-following report (a JSON file with `scores` and
`turns`, from `codekiln formats eval`). A directory that is none of these is searched (three levels deep).

The viewer's rows are compact copies of the rollouts: long texts are cut to their head and tail
(`MAX_TEXT` characters) so a report of thousands of trajectories stays a file a browser opens at once.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codekiln.audit.grader import AttackResult
from codekiln.audit.trajectories import Attempt
from codekiln.core.errors import ConfigError
from codekiln.reports.audit import is_audit_dir, load_audit
from codekiln.reports.eval import RESULTS, SUMMARY, EvalResult, read_results, rollout_result, rollout_tasks
from codekiln.reports.grpo import Curve, is_grpo_dir, load_curve
from codekiln.reports.verify import is_verify_dir, load_verify
from codekiln.rollouts.engine import ROLLOUTS, read_rollouts
from codekiln.rollouts.records import Rollout
from codekiln.tasks import load_tasks
from codekiln.tasks.quality import mix
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import FUNNEL, TASKS, Funnel

MAX_TEXT = 20_000
MAX_DEPTH = 3


def clip(text: str, limit: int = MAX_TEXT) -> str:
    """Head and tail of a long text, with a note of what was cut."""
    if len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n… [{len(text) - limit} characters cut by the report] …\n{text[-half:]}"


@dataclass
class SynthRun:
    name: str
    path: Path
    funnel: Funnel
    repo: str = ""
    tasks: int = 0
    mix: dict[str, dict[str, int]] = field(default_factory=dict)
    """The tasks' difficulty mix (`tasks.quality.mix`)."""


@dataclass
class RolloutRun:
    name: str
    path: Path
    rollouts: list[Rollout]


@dataclass
class ReportData:
    """Everything loaded for one report."""

    synth: list[SynthRun] = field(default_factory=list)
    runs: list[RolloutRun] = field(default_factory=list)
    evals: list[tuple[str, Path, list[EvalResult]]] = field(default_factory=list)
    format_evals: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    tasks: dict[str, TaskRecord] = field(default_factory=dict)
    results: list[tuple[str, EvalResult]] = field(default_factory=list)
    """(run name, result) of every rollout and every graded prediction."""
    sources: list[dict[str, str]] = field(default_factory=list)
    attacks: list[AttackResult] = field(default_factory=list)
    """`codekiln audit grader` results found in audit directories."""
    attempts: list[Attempt] = field(default_factory=list)
    """`codekiln audit rollouts` results found in audit directories."""
    verify: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)
    """(name, summary table) of each `codekiln verify` output directory."""
    grpo: list[tuple[str, Curve]] = field(default_factory=list)
    """(name, curve) of each GRPO run directory (steps.jsonl, see `reports.grpo`)."""

    def viewer_rows(self) -> list[dict[str, Any]]:
        """One compact row per rollout for the trajectory viewer (see `viewer_row`)."""
        rows: list[dict[str, Any]] = []
        for run in self.runs:
            for rollout in run.rollouts:
                result = rollout_result(rollout, self.tasks.get(rollout.instance_id))
                rows.append(viewer_row(f"r{len(rows)}", run.name, rollout, result))
        return rows

    def viewer_tasks(self) -> dict[str, dict[str, Any]]:
        """Per task the viewer needs once (not per rollout): statement, gold patch, graded test lists."""
        wanted = {r.instance_id for run in self.runs for r in run.rollouts}
        return {
            tid: {"repo": t.repo, "mutators": t.mutators, "statement": clip(t.problem_statement),
                  "gold": clip(t.patch), "f2p": t.FAIL_TO_PASS, "p2p": t.PASS_TO_PASS}
            for tid, t in sorted(self.tasks.items()) if tid in wanted
        }  # fmt: skip


def viewer_row(rid: str, run: str, rollout: Rollout, result: EvalResult) -> dict[str, Any]:
    """A rollout as the viewer shows it: identity, verdict, reward, tests, patch and each step."""
    traj = rollout.trajectory
    steps = []
    for s in traj.steps if traj else []:
        steps.append({
            "raw": clip(s.raw),
            "content": clip(str(s.message.get("content") or "")),
            "error": s.parse_error,
            "calls": [{"name": str(c.get("name", "")), "args": c.get("arguments", {})} for c in s.calls],
            "obs": [
                {"tool": o.tool, "text": clip(o.text), "ok": o.ok, "exit": o.exit_code,
                 "timed_out": o.timed_out, "truncated": o.truncated}
                for o in s.observations
            ],
            "feedback": [clip(str(m.get("content") or "")) for m in s.feedback if m.get("role") != "tool"],
            "tokens": [s.usage.prompt_tokens, s.usage.completion_tokens],
            "seconds": round(s.duration_s, 3),
        })  # fmt: skip
    first_user = next((m for m in (traj.messages if traj else []) if m.get("role") == "user"), None)
    totals = traj.totals if traj else None
    return {
        "id": rid, "run": run, "task": rollout.instance_id, "sample": rollout.sample, "model": rollout.model,
        "scaffold": rollout.scaffold, "format": rollout.format or "", "status": result.status,
        "outcome": result.outcome, "error_class": result.error_class, "reason": clip(result.reason, 4000),
        "reward": rollout.reward.value, "resolved": result.resolved, "masked": result.masked,
        "exit": traj.exit_reason if traj else None, "exit_message": clip(traj.exit_message, 2000) if traj else "",
        "turns": len(traj.steps) if traj else 0,
        "tokens": totals.total_tokens if totals else 0,
        "format_errors": sum(1 for s in traj.steps if s.parse_error) if traj else 0,
        "prompt": clip(str(first_user.get("content") or "")) if first_user else "",
        "patch": clip(rollout.patch), "f2p": result.FAIL_TO_PASS, "p2p": result.PASS_TO_PASS, "steps": steps,
    }  # fmt: skip


def kind_of(path: Path) -> str | None:
    """synth, rollouts, eval, format_eval, audit, verify, grpo, or None (search inside)."""
    if path.is_file():
        if path.name == ROLLOUTS:
            return "rollouts"
        if path.suffix == ".json":
            try:
                data = json.loads(path.read_text())
            except ValueError:
                return None
            return "format_eval" if isinstance(data, dict) and "scores" in data and "turns" in data else None
        return None
    if is_audit_dir(path):
        return "audit"
    if is_verify_dir(path):
        return "verify"
    if is_grpo_dir(path):
        return "grpo"
    if (path / ROLLOUTS).is_file():
        return "rollouts"
    if (path / RESULTS).is_file() and (path / SUMMARY).is_file():
        return "eval"
    if (path / FUNNEL).is_file() or (path / TASKS).is_file():
        return "synth"
    return None


def discover(paths: list[Path]) -> list[tuple[str, Path]]:
    """(kind, path) of every recognised input under `paths`, in a stable order, each once (`report
    out/tasks out` found out/tasks twice and drew its funnel twice, the second as `tasks-2`)."""
    found: list[tuple[str, Path]] = []
    seen: set[Path] = set()

    def visit(path: Path, depth: int) -> None:
        kind = kind_of(path)
        if kind:
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append((kind, path))
        elif path.is_dir() and depth < MAX_DEPTH:
            for child in sorted(path.iterdir()):
                if child.is_dir() or child.suffix == ".json":
                    visit(child, depth + 1)

    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path} does not exist", hint="give synth, rollout or eval output directories")
        visit(path, 0)
    return found


def _name(path: Path, taken: set[str]) -> str:
    base = path.name if path.name not in (ROLLOUTS, "") else path.parent.name
    name, i = base, 2
    while name in taken:
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def collect(paths: list[Path], *, tasks: list[Path] | None = None) -> ReportData:
    """Load every input found under `paths` (and task files from `tasks`) into one `ReportData`."""
    found = discover(paths)
    if not found:
        raise ConfigError(
            f"nothing to report in {', '.join(map(str, paths))}",
            hint="give synth output, rollout (rollouts.jsonl) or eval (results.jsonl) directories",
        )
    data, names = ReportData(), set[str]()
    for extra in tasks or []:
        data.tasks.update({t.instance_id: t for t in load_tasks(extra)})
    for kind, path in found:
        name = _name(path, names)
        data.sources.append({"kind": kind, "path": str(path), "name": name})
        if kind == "synth":
            funnel = (
                Funnel.model_validate_json((path / FUNNEL).read_text())
                if (path / FUNNEL).is_file()
                else Funnel()
            )
            task_list = load_tasks(path, allow_empty=True) if (path / TASKS).is_file() else []
            data.tasks.update({t.instance_id: t for t in task_list})
            repo = task_list[0].repo if task_list else ""
            data.synth.append(SynthRun(name, path, funnel, repo, len(task_list), mix(task_list)))
        elif kind == "rollouts":
            rollout_dir = path.parent if path.is_file() else path
            for tid, task in rollout_tasks(rollout_dir).items():
                data.tasks.setdefault(tid, task)
            data.runs.append(RolloutRun(name, rollout_dir, read_rollouts(path)))
        elif kind == "eval":
            data.evals.append((name, path, read_results(path)))
        elif kind == "audit":
            attacks, attempts = load_audit(path)
            data.attacks += attacks
            data.attempts += attempts
        elif kind == "verify":
            data.verify.append((name, load_verify(path)))
        elif kind == "grpo":
            data.grpo.append((name, load_curve(path) or Curve([])))
        else:
            data.format_evals.append((name, json.loads(path.read_text())))
    for _, path in found:  # an audit folder inside a synth or rollout directory
        if path.is_dir() and is_audit_dir(path / "audit") and not any(p == path / "audit" for _, p in found):
            attacks, attempts = load_audit(path / "audit")
            data.attacks += attacks
            data.attempts += attempts
    for run in data.runs:
        data.results += [(run.name, rollout_result(r, data.tasks.get(r.instance_id))) for r in run.rollouts]
    for name, _, results in data.evals:
        data.results += [(name, r) for r in results]
    return data


__all__ = [
    "MAX_TEXT",
    "ReportData",
    "RolloutRun",
    "SynthRun",
    "clip",
    "collect",
    "discover",
    "kind_of",
    "viewer_row",
]
