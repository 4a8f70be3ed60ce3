"""Fixtures of the red-team suite: one real task of toolz (flat layout) and one of markupsafe (src
layout, on sys.path through a .pth file), each with its environment; a bwrap sandbox on the small demo
project that the walk forgeries and their silencers are planted in (`walk_sandbox`); Harbor trials
whose task images and oracle runs a module's tests share (`harbor`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harbor_support as hs
from audit_support import synth_markupsafe
from rollout_support import toolz_tasks
from test_redteam9_walk import PROJECT

from codekiln.core.protocols import Sandbox
from codekiln.envs import EnvRecord, load_env
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.records import TaskRecord
from codekiln.testing import make_repo, open_test_sandbox

LIBRARIES = {"toolz": toolz_tasks, "markupsafe": synth_markupsafe}


@pytest.fixture(scope="session", params=sorted(LIBRARIES))
def case(request: pytest.FixtureRequest) -> tuple[TaskRecord, EnvRecord]:
    task = read_tasks(LIBRARIES[request.param]() / "tasks.jsonl")[0]
    return task, load_env(task.environment_id or "")


@pytest.fixture()
def walk_sandbox(tmp_path: Path) -> Iterator[Sandbox]:
    """A fresh bwrap sandbox on the demo project of `test_redteam9_walk` (`PROJECT`) with this run's venv,
    one per test: each test plants its own forgery in it. 300 s per command, the sandbox's default."""
    with open_test_sandbox(
        make_repo(tmp_path / "walk", PROJECT), "bwrap", timeout_s=300, venv=Path(sys.prefix)
    ) as sb:
        yield sb


@pytest.fixture(scope="module")
def harbor(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hs.Trials]:
    """Harbor trials of exported tasks (podman), each task's image built and its oracle run once per
    module; skipped where podman cannot run."""
    if (problem := hs.podman_problem()) is not None:
        pytest.skip(f"podman cannot run: {problem}")
    with hs.trials(tmp_path_factory.mktemp("harbor")) as trials:
        yield trials
