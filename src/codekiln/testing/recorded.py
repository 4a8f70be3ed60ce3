"""Recorded task fixtures: real tasks synthesized once from a real library and checked in, so tests that
use tasks (rewards, rollouts, exports, reports) do not rerun synthesis, which only its own tests need.

    tasks = recorded_tasks(FIXTURES / "toolz-1.2.0.tasks.jsonl")   # no root, no network
    env = build_env("pypi:toolz==1.2.0")                           # what grading them needs (root)
    write_recorded(bind_tasks(tasks, env), out)                    # out/tasks.jsonl, bound to env

A task names its environment by id, a hash that includes the Python version, so the id recorded on
one machine is not the one built on another: `bind_tasks` points the tasks at the environment built
here, after checking that it was built from the very snapshot the tasks were made from.

Re-record (needs root: synthesis runs in bwrap sandboxes); see `pick` for which tasks are kept:

    python -m codekiln.testing.recorded pypi:toolz==1.2.0 tests/fixtures/recorded/toolz-1.2.0.tasks.jsonl
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Iterable
from pathlib import Path

from codekiln.core.errors import ConfigError
from codekiln.core.records import atomic_write_text
from codekiln.envs import EnvRecord
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord


def recorded_tasks(path: Path) -> list[TaskRecord]:
    """The tasks recorded at `path` (JSONL), as they were synthesized."""
    if not path.is_file():
        raise ConfigError(
            f"no recorded tasks at {path}",
            hint="record them: python -m codekiln.testing.recorded SPEC PATH (needs root)",
        )
    return read_tasks(path)


def bind_tasks(tasks: Iterable[TaskRecord], env: EnvRecord) -> list[TaskRecord]:
    """The tasks pointed at `env` (their `environment_id`), which must hold the snapshot they were made
    from: a different snapshot would make every gold patch meaningless."""
    bound = []
    for task in tasks:
        if task.base_commit != env.snapshot_id:
            raise ConfigError(
                f"recorded task {task.instance_id} was made from snapshot {task.base_commit}, but "
                f"environment {env.id} holds snapshot {env.snapshot_id} ({env.name} {env.version})",
                hint="build the environment of the spec the tasks were recorded from, or re-record them: "
                "python -m codekiln.testing.recorded SPEC PATH",
            )
        bound.append(task.model_copy(update={"environment_id": env.id}))
    return bound


def _jsonl(tasks: Iterable[TaskRecord]) -> str:
    return "".join(task.model_dump_json() + "\n" for task in tasks)


def funnel_path(tasks_path: Path) -> Path:
    """Where the funnel of the synthesis run the tasks at `tasks_path` were picked from is recorded."""
    return tasks_path.with_name(tasks_path.name.removesuffix(".tasks.jsonl") + ".funnel.json")


def write_recorded(tasks: Iterable[TaskRecord], out: Path, *, funnel: Path | None = None) -> Path:
    """Write `tasks` as `out/tasks.jsonl`, and `funnel` as `out/funnel.json`: a synth output directory as
    `codekiln rollout --tasks` and the reports read it. Atomic, and only when the content changed, so
    concurrent test sessions can share `out`."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"tasks.jsonl": _jsonl(tasks)}
    if funnel is not None:
        files["funnel.json"] = funnel.read_text()
    for name, text in files.items():
        path = out / name
        if not path.is_file() or path.read_text() != text:
            atomic_write_text(path, text)
    return out


def pick(tasks: Iterable[TaskRecord], keep: int) -> list[TaskRecord]:
    """The first task (tests use `tasks[0]` where they need one with many tests) and the `keep - 1`
    smallest of the rest (fewest hidden test files), in their original order."""
    listed = list(tasks)
    rest = sorted(range(1, len(listed)), key=lambda i: len(listed[i].model_dump_json()))[: keep - 1]
    return [listed[i] for i in [0, *sorted(rest)]] if listed else []


def record(spec: str, dest: Path, *, candidates: int = 8, keep: int = 3) -> list[TaskRecord]:
    """Synthesize `candidates` tasks of `spec` with the default pipeline and write `keep` of them
    (see `pick`) to `dest`, and the run's funnel beside it (`funnel_path`). Needs root (synthesis builds the environment and validates in sandboxes)."""
    from codekiln.tasks.synth import SynthConfig, synthesize

    with tempfile.TemporaryDirectory(prefix="codekiln-record-") as scratch:
        out = Path(scratch) / "synth"
        synthesize(SynthConfig(spec=spec, out=out, max_tasks=candidates, workers=1, batch_size=8))
        tasks = pick(read_tasks(out / "tasks.jsonl"), keep)
        funnel = (out / "funnel.json").read_text()
    if len(tasks) < keep:
        raise ConfigError(f"{spec} gave {len(tasks)} tasks, fewer than {keep}", hint="raise --candidates")
    dest.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(dest, _jsonl(tasks))
    atomic_write_text(funnel_path(dest), funnel)  # the whole run's counts, not only the kept tasks'
    return tasks


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Record real task fixtures for codekiln's tests.")
    parser.add_argument("spec", help="repository spec, e.g. pypi:toolz==1.2.0")
    parser.add_argument("dest", type=Path, help="the JSONL file to write")
    parser.add_argument("--candidates", type=int, default=8, help="tasks to synthesize")
    parser.add_argument("--keep", type=int, default=3, help="how many tasks to keep (see pick)")
    args = parser.parse_args(argv)
    tasks = record(args.spec, args.dest, candidates=args.candidates, keep=args.keep)
    print(f"recorded {len(tasks)} tasks of {args.spec} in {args.dest} ({args.dest.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
