"""Real tasks for the rollout and reward tests: three tasks synthesized from toolz 1.2.0 by the real
pipeline, kept in the test CODEKILN_HOME (test-cache/rollout-tasks-toolz) so later sessions resume them in
seconds. A lock keeps two test sessions from writing the directory at once; a directory made by another
synthesis configuration is started over."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, synthesize

TOOLZ = "pypi:toolz==1.2.0"
N_TASKS = 3


def synth_cached(spec: str, name: str, n_tasks: int) -> Path:
    """`n_tasks` tasks of `spec` synthesized into test-cache/NAME (resumed in seconds later), under a
    lock; a directory made by another synthesis configuration is started over."""
    out = state_dir("test-cache") / name
    config = SynthConfig(spec=spec, out=out, max_tasks=n_tasks, workers=1, batch_size=8)
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


def synth_tasks() -> Path:
    """The directory holding the synthesized tasks (tasks.jsonl)."""
    out = synth_cached(TOOLZ, "rollout-tasks-toolz", N_TASKS)
    tasks = read_tasks(out / "tasks.jsonl")
    assert len(tasks) == N_TASKS, f"expected {N_TASKS} synthesized tasks in {out}, found {len(tasks)}"
    return out


def load(out: Path) -> list[TaskRecord]:
    return read_tasks(out / "tasks.jsonl")
