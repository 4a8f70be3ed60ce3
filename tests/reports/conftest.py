"""Fixtures of the report tests: real toolz 1.2.0 tasks recorded from the real pipeline (see
rollout_support), and real rollouts on them through the rollout engine (oracle, noop and a scripted
policy that breaks the chat format once), all kept in the test CODEKILN_HOME (test-cache/reports-*,
keyed by the tasks' content) so later sessions resume them in seconds."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
from rollout_support import toolz_tasks

from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.rollouts import RolloutConfig, run_rollouts
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord

# A scripted policy: one turn that breaks the hermes format, a call with a long output, then submit.
SCRIPT = [
    '<tool_call>{"name": "bash", "arguments": {"command": "ls"</tool_call>',
    {
        "tool_calls": [
            {"name": "bash", "arguments": {"command": "seq 1 300 && echo '<script>alert(1)</script>'"}}
        ]
    },
    {"tool_calls": [{"name": "submit", "arguments": {}}]},
]
# A scripted policy whose change breaks `import toolz`: every graded test fails to collect.
BREAKER = [
    {
        "tool_calls": [
            {"name": "bash", "arguments": {"command": "echo 'raise ImportError(1)' >> toolz/__init__.py"}}
        ]
    },
    {"tool_calls": [{"name": "submit", "arguments": {}}]},
]


@contextmanager
def locked(name: str) -> Iterator[Path]:
    root = state_dir("test-cache")
    fd = os.open(root / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield root / name
    finally:
        os.close(fd)


@pytest.fixture(scope="session")
def tasks_dir() -> Path:
    return toolz_tasks()


@pytest.fixture(scope="session")
def tasks(tasks_dir: Path) -> list[TaskRecord]:
    return read_tasks(tasks_dir / "tasks.jsonl")


def _rollouts(tasks_dir: Path, name: str, **options: object) -> Path:
    # Keyed by the tasks' content: a rollout directory resumes whatever tasks it is given (its
    # identity leaves the task file out), so rows of an earlier task set would stay in it.
    digest = hashlib.sha256((tasks_dir / "tasks.jsonl").read_bytes()).hexdigest()[:12]
    with locked(f"reports-rollouts-{name}-{digest}") as out:
        config = RolloutConfig(tasks=tasks_dir, out=out, workers=1, max_turns=6, **options)  # type: ignore[arg-type]
        try:
            stats = run_rollouts(config)
        except ConfigError:
            stats = run_rollouts(config, redo=True)
    assert not stats.errors, stats.errors
    return out


@pytest.fixture(scope="session")
def rollout_dirs(tasks_dir: Path) -> dict[str, Path]:
    """Real rollout directories: oracle (2 samples), noop (mini scaffold), scripted (hermes format, one
    format error), breaker (glm46 format, a patch that breaks collection)."""
    scripts = {}
    for name, outputs in (("script", SCRIPT), ("breaker", BREAKER)):
        path = scripts[name] = state_dir("test-cache") / f"reports-{name}.json"
        if not path.is_file() or path.read_text() != json.dumps(outputs):
            path.write_text(json.dumps(outputs))
    cycle = {"cycle": True}  # one scripted model serves every episode of a worker thread
    return {
        "oracle": _rollouts(tasks_dir, "oracle", model="oracle", n=2),
        "noop": _rollouts(tasks_dir, "noop", model="noop", scaffold="mini"),
        "scripted": _rollouts(
            tasks_dir, "scripted", model=f"scripted:{scripts['script']}", format="hermes", model_options=cycle
        ),
        "breaker": _rollouts(
            tasks_dir, "breaker", model=f"scripted:{scripts['breaker']}", format="glm46", model_options=cycle
        ),
    }
