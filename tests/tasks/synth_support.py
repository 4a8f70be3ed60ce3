"""Shared pieces of the validation / synthesis tests: the toolz 1.2.0 environment (built once into the
test CODEKILN_HOME and cached there), its coverage map, entities and the seeded candidate list, and a
copy of toolz with a planted flaky test (and a test the grader runs differently). Imported by the test modules (not a conftest: tests/tasks'
conftest belongs to the candidate-generation tests)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from codekiln.envs import EnvRecord, build_env
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.synth import SynthConfig, plan_candidates
from codekiln.tasks.validation.coverage_map import CoverageMap, coverage_map
from codekiln.testing.git import write_files

TOOLZ = "pypi:toolz==1.2.0"
PLANTED = "toolz/tests/test_zz_planted_flaky.py"
PLANTED_TEST = f"{PLANTED}::test_frequencies_planted_flaky"
# Fails every second time it runs in the same sandbox, whatever the code does: the kind of flaky test
# that leaks state between runs. A fresh sandbox's first run passes, so the baseline counts it passing.
PLANTED_SOURCE = '''"""Planted by codekiln's tests: a flaky test over toolz.frequencies."""
import os
import tempfile

from toolz import frequencies

STATE = os.path.join(tempfile.gettempdir(), "codekiln-planted-flaky-runs")


def test_frequencies_planted_flaky():
    runs = 0
    if os.path.exists(STATE):
        with open(STATE) as fh:
            runs = int(fh.read())
    with open(STATE, "w") as fh:
        fh.write(str(runs + 1))
    assert frequencies("abca") == {"a": 2, "b": 1, "c": 1}
    assert runs % 2 == 0, "fails every second run"


def test_fixtures_are_fresh_in_every_run(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    assert not marker.exists(), "a rerun saw the previous run's tmp_path"
    marker.write_text("ran")
    monkeypatch.setenv("CODEKILN_PLANTED", "1")
'''
FIXTURE_TEST = f"{PLANTED}::test_fixtures_are_fresh_in_every_run"
APART = "toolz/tests/test_zz_graded_apart.py"
APART_TEST = f"{APART}::test_count_outside_the_grader"
# Checks toolz.count only when pytest may autoload plugins, which the grader's guard forbids (it loads
# plugins by name): a test that depends on how pytest is started, so the validation engine and the
# grader see it differently (tests/tasks/test_gate.py).
APART_SOURCE = '''"""Planted by codekiln's tests: checks toolz.count only outside the grader."""
import os

from toolz import count


def test_count_outside_the_grader():
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        return
    assert count(["zz-planted"]) == 1
'''


def toolz_env() -> EnvRecord:
    return build_env(TOOLZ)


def toolz_parts(env: EnvRecord) -> tuple[CoverageMap, list[Entity], list[Candidate]]:
    entities, candidates, _ = plan_candidates(env, SynthConfig(spec=TOOLZ, out=Path("unused")))
    return coverage_map(env), entities, candidates


def planted_env(toolz_src: Path, tmp_root: Path) -> EnvRecord:
    """The environment of a local copy of toolz 1.2.0 with the planted flaky test added."""
    src = tmp_root / "toolz-planted"
    if not src.exists():
        shutil.copytree(toolz_src, src, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
        (src / PLANTED).write_text(PLANTED_SOURCE)
        (src / APART).write_text(APART_SOURCE)
    env = build_env(str(src))
    if env.baseline.get(PLANTED_TEST) != "passed":
        pytest.fail(f"the planted test should pass in the baseline run, got {env.baseline.get(PLANTED_TEST)}")
    return env


def plugin_pyproject(package: str, plugin: str, addopts: str = "") -> str:
    """A fixture project's pyproject.toml: one setuptools package whose `test` extra is pytest and the
    pytest plugin `plugin` (a dist name), and `addopts` for every pytest session if given."""
    ini = f'[tool.pytest.ini_options]\naddopts = "{addopts}"\n' if addopts else ""
    return (
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{package}"\nversion = "0.1"\n'
        f'[project.optional-dependencies]\ntest = ["pytest", "{plugin}"]\n'
        f'[tool.setuptools]\npackages = ["{package}"]\n{ini}'
    )


def built_with_map(root: Path, files: dict[str, str]) -> tuple[EnvRecord, CoverageMap, list[str]]:
    """A fixture project written from `files` under `root`, built (real pip, in bwrap): its environment,
    its coverage map built by this code whatever a cache holds, and the tests its baseline passed."""
    env = build_env(str(write_files(root, files)))
    passed = sorted(t for t, s in env.baseline.items() if s == "passed")
    return env, coverage_map(env, redo=True), passed
