"""Real code for the task-synthesis tests: toolz 1.2.0's sdist (downloaded once into the test
CODEKILN_HOME), a git checkout of it, its entities and candidates, and one task validated by really
running toolz's tests with a bug in place."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from tasks_helpers import TOOLZ, fetch_sdist, make_checkout, run_pytest

from codekiln.tasks.frontend.candidates import Candidate, Generation, generate_candidates
from codekiln.tasks.frontend.entities import Entity, find_entities
from codekiln.tasks.frontend.mutators import load_mutators
from codekiln.tasks.records import TaskRecord, Validation, hidden_tests_patch, task_from_candidate
from codekiln.testing import run_git


@pytest.fixture(scope="session")
def toolz_src() -> Path:
    return fetch_sdist("toolz==1.2.0", TOOLZ)


@pytest.fixture(scope="session")
def toolz_repo(toolz_src: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pristine git checkout of toolz; tests must not modify it (use `toolz_checkout`)."""
    return make_checkout(toolz_src, tmp_path_factory.mktemp("toolz") / "repo")


@pytest.fixture
def toolz_checkout(toolz_repo: Path, tmp_path: Path) -> Path:
    """A private copy of the toolz checkout (with its git history) for tests that change files."""
    dest = tmp_path / "checkout"
    shutil.copytree(toolz_repo, dest)
    return dest


@pytest.fixture(scope="session")
def toolz_entities(toolz_repo: Path) -> list[Entity]:
    return find_entities(toolz_repo)


@pytest.fixture(scope="session")
def toolz_generation(toolz_repo: Path, toolz_entities: list[Entity]) -> Generation:
    return generate_candidates(toolz_repo, toolz_entities, load_mutators(), seed=0, max_per_entity=1)


@pytest.fixture(scope="session")
def toolz_baseline(toolz_repo: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    statuses, output = run_pytest(toolz_repo, "toolz/tests/test_itertoolz.py")
    assert statuses and all(s == "PASSED" for s in statuses.values()), output[-2000:]
    return statuses


def _validate_first(
    repo: Path, workdir: Path, candidates: list[Candidate], baseline: dict[str, str], test_file: str
) -> tuple[Candidate, dict[str, str], str]:
    """The first candidate that makes some passing test fail, with its statuses and output."""
    for cand in candidates:
        checkout = workdir / cand.id
        shutil.copytree(repo, checkout)
        assert run_git(checkout, "apply", "-", input=cand.patch).exit_code == 0
        statuses, output = run_pytest(checkout, test_file)
        shutil.rmtree(checkout)
        if any(baseline.get(t) == "PASSED" and s != "PASSED" for t, s in statuses.items()):
            return cand, statuses, output
    raise AssertionError("no candidate broke a test")


@pytest.fixture(scope="session")
def toolz_task_parts(
    toolz_repo: Path,
    toolz_generation: Generation,
    toolz_baseline: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[TaskRecord, str]:
    """A task validated for real: a flipped comparison in toolz/itertoolz.py that fails some of
    test_itertoolz.py, with that test file hidden. Returns (task, the failing run's output)."""
    test_file = "toolz/tests/test_itertoolz.py"
    pool = [
        c
        for c in toolz_generation.candidates
        if c.mutators == ["flip_comparison"] and c.files == ["toolz/itertoolz.py"]
    ]
    cand, after, output = _validate_first(
        toolz_repo, tmp_path_factory.mktemp("validate"), pool, toolz_baseline, test_file
    )
    f2p = sorted(t for t, s in after.items() if s != "PASSED" and toolz_baseline.get(t) == "PASSED")
    p2p = sorted(t for t, s in after.items() if s == "PASSED" and toolz_baseline.get(t) == "PASSED")
    task = task_from_candidate(
        cand,
        repo="pytoolz/toolz",
        base_commit=run_git(toolz_repo, "rev-parse", "HEAD").stdout.strip(),
        environment_id="toolz-1.2.0-py311",
        fail_to_pass=f2p,
        pass_to_pass=p2p,
        hidden_tests=[test_file],
        test_patch=hidden_tests_patch(toolz_repo, [test_file]),
        validation=Validation(before=toolz_baseline, after=after, reruns=0),
    )
    return task, output


@pytest.fixture
def toolz_task(toolz_task_parts: tuple[TaskRecord, str]) -> TaskRecord:
    return toolz_task_parts[0].model_copy(deep=True)


@pytest.fixture(scope="session")
def apply_check() -> Callable[[Path, str], None]:
    """Assert that a patch applies to a checkout with `git apply --check`."""

    def check(checkout: Path, patch: str) -> None:
        res = run_git(checkout, "apply", "--check", "-", input=patch)
        assert res.exit_code == 0, f"{res.stderr}\n{patch}"

    return check
