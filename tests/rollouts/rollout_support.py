"""Real tasks for the rollout, reward, report, audit and training tests.

toolz: three tasks synthesized once from toolz 1.2.0 by the real pipeline and checked in with that
run's funnel (tests/fixtures/recorded, see `codekiln.testing.recorded`), bound to this machine's toolz
environment in test-cache/recorded-toolz: a synth output directory. No synthesis runs; building the environment needs root, so every test
that uses them is marked `root`.

`synth_cached` synthesizes into the test CODEKILN_HOME (test-cache/NAME, resumed in seconds later) for
the libraries that have no recording yet (markupsafe, for the audit tests).
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.core.records import append_jsonl
from codekiln.envs import EnvRecord, build_env, load_env
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, synthesize
from codekiln.testing import bind_tasks, recorded_tasks, write_recorded
from codekiln.testing.recorded import funnel_path

TOOLZ = "pypi:toolz==1.2.0"
RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "recorded" / "toolz-1.2.0.tasks.jsonl"
N_TASKS = 3


def synth_cached(
    spec: str,
    name: str,
    n_tasks: int,
    *,
    functions: list[str] | None = None,
    mutators: list[str] | None = None,
) -> Path:
    """`n_tasks` tasks of `spec` synthesized into test-cache/NAME (resumed in seconds later), under a
    lock; a directory made by another synthesis configuration is started over. `functions` and
    `mutators` narrow what gets bugs (`SynthConfig`): a test that needs a kind of task asks for it so,
    rather than hoping it is among the first `n_tasks`, which the seeded order decides."""
    out = state_dir("test-cache") / name
    config = SynthConfig(
        spec=spec, out=out, max_tasks=n_tasks, workers=1, batch_size=8, functions=functions, mutators=mutators
    )
    fd = os.open(state_dir("test-cache") / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            synthesize(config)
        except ConfigError:
            synthesize(config, redo=True)
    finally:
        os.close(fd)
    return out


def library_tasks(
    files: dict[str, str],
    folder: str,
    name: str,
    n_tasks: int,
    *,
    functions: list[str] | None = None,
    mutators: list[str] | None = None,
) -> list[tuple[TaskRecord, EnvRecord]]:
    """The tasks `synth_cached` makes of a fixture library written from `files` into test-cache/FOLDER,
    each with its environment."""
    root = state_dir("test-cache") / folder
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    out = synth_cached(str(root), name, n_tasks, functions=functions, mutators=mutators)
    return [(t, load_env(t.environment_id or "")) for t in read_tasks(out / "tasks.jsonl")]


class NoSuchTask(LookupError):
    """Synthesis made no task of the kind a test needs. Not an AssertionError, so that a strict xfail
    (`raises=AssertionError`) does not count the missing task as the open hole it documents."""


def the_task(
    found: list[tuple[TaskRecord, EnvRecord]], wanted: Callable[[TaskRecord], bool], what: str
) -> tuple[TaskRecord, EnvRecord]:
    """The first of `found` that is `wanted`, found by what it is, never by its place: which tasks a
    synthesis makes first follows the seeded candidate order. Raises `NoSuchTask` saying what was
    missing and what came out instead."""
    for task, env in found:
        if wanted(task):
            return task, env
    made = ", ".join(t.instance_id for t, _ in found) or "none"
    raise NoSuchTask(f"no synthesized task is {what} (made: {made})")


def setuptools_pyproject(package: str) -> str:
    """A fixture library's pyproject.toml: one setuptools package, its tests in tests/."""
    return (
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{package}"\nversion = "0.1"\n[tool.setuptools]\npackages = ["{package}"]\n'
        '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n'
    )


def toolz_tasks() -> Path:
    """A directory holding the recorded toolz tasks (tasks.jsonl), bound to the toolz environment."""
    tasks = bind_tasks(recorded_tasks(RECORDED), build_env(TOOLZ))
    assert len(tasks) == N_TASKS, f"expected {N_TASKS} recorded tasks in {RECORDED}, found {len(tasks)}"
    out = state_dir("test-cache") / "recorded-toolz"
    return write_recorded(tasks, out, funnel=funnel_path(RECORDED))


def load(out: Path) -> list[TaskRecord]:
    return read_tasks(out / "tasks.jsonl")


def eval_one(task: TaskRecord, patch: str, tmp: Path, timeout: float = 600) -> dict[str, object]:
    """`codekiln eval` as a user runs it (the CLI, in its own process) on a tasks file holding `task` and
    a predictions file holding `patch` for it: the one result row it writes."""
    append_jsonl(tmp / "tasks.jsonl", [task])
    prediction = {"instance_id": task.instance_id, "model_name_or_path": "m", "model_patch": patch}
    (tmp / "preds.jsonl").write_text(json.dumps(prediction) + "\n")
    code = "import sys; from codekiln.cli import main; sys.argv[0] = 'codekiln'; main()"
    argv = ["eval", "-t", str(tmp / "tasks.jsonl"), "-p", str(tmp / "preds.jsonl"), "-o", str(tmp / "o")]
    res = subprocess.run(
        [sys.executable, "-c", code, *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=dict(os.environ),
    )
    assert res.returncode in (0, 1), res.stdout + res.stderr
    (result,) = [json.loads(line) for line in (tmp / "o" / "results.jsonl").read_text().splitlines()]
    assert isinstance(result, dict)
    return result
