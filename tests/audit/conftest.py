"""Fixtures of the red-team suite: one real task of toolz (flat layout) and one of markupsafe (src
layout, on sys.path through a .pth file), each with its environment."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from audit_support import synth_markupsafe
from rollout_support import toolz_tasks

from codekiln.envs import EnvRecord, load_env
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord

LIBRARIES = {"toolz": toolz_tasks, "markupsafe": synth_markupsafe}


@pytest.fixture(scope="session", params=sorted(LIBRARIES))
def case(request: pytest.FixtureRequest) -> tuple[TaskRecord, EnvRecord]:
    task = read_tasks(LIBRARIES[request.param]() / "tasks.jsonl")[0]
    return task, load_env(task.environment_id or "")
