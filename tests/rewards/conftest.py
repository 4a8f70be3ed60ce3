"""Fixtures of the reward tests: the recorded toolz tasks (tests/fixtures/recorded) as they were
synthesized, which need nothing to load, and the same tasks bound to this machine's toolz environment,
which grading needs (building it needs root: tests that use `tasks` or `env` are marked `root`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))

from rollout_support import RECORDED, load, toolz_tasks

from codekiln.envs import EnvRecord, load_env
from codekiln.tasks.records import TaskRecord
from codekiln.testing import recorded_tasks


@pytest.fixture(scope="session")
def recorded() -> list[TaskRecord]:
    return recorded_tasks(RECORDED)


@pytest.fixture(scope="session")
def tasks() -> list[TaskRecord]:
    return load(toolz_tasks())


@pytest.fixture(scope="session")
def env(tasks: list[TaskRecord]) -> EnvRecord:
    return load_env(tasks[0].environment_id or "")
