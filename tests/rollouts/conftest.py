"""Fixtures of the rollout tests: real toolz tasks recorded from the pipeline (see rollout_support)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rollout_support import load, toolz_tasks

from codekiln.tasks.records import TaskRecord


@pytest.fixture(scope="session")
def tasks_dir() -> Path:
    return toolz_tasks()


@pytest.fixture(scope="session")
def tasks(tasks_dir: Path) -> list[TaskRecord]:
    return load(tasks_dir)
