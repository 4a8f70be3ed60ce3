"""Tests that install or build the project itself pass offline, from the venv's wheelhouse: a fixture
project whose own test pip-installs it into a fresh venv, built and run through the real build (pip,
the package index) and the real offline sandbox."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.env import app
from codekiln.envs import EnvRecord, build_env, env_sandbox
from codekiln.envs.wheelhouse import WHEELHOUSE_NAME, sandbox_env
from codekiln.grading import run_tests
from codekiln.sandbox import SandboxSpec, open_sandbox

FRESH = "tests/test_fresh.py::test_installs_into_a_fresh_venv"
# The test a suite like anyio's runs: the project, installed into a fresh venv with pip (an isolated
# build that needs setuptools, then its dependency), imported from there.
FRESH_TEST = """
import os, pathlib, subprocess, sys, tempfile


def test_installs_into_a_fresh_venv():
    root = pathlib.Path(__file__).resolve().parents[1]
    venv = pathlib.Path(tempfile.mkdtemp()) / "venv"
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "--no-input", str(root)], check=True, timeout=600)
    code = "import fresh, iniconfig; print(fresh.__file__)"
    out = subprocess.run([python, "-I", "-c", code], check=True, capture_output=True, text=True).stdout
    assert str(venv) in out  # the installed copy, not the source tree
"""


def write_fresh(root: Path, name: str = "fresh", build_requires: str = '"setuptools"') -> Path:
    """A src layout (its editable install leaves `src/fresh.egg-info` on sys.path beside the venv's
    record of the project, as anyio's sdist does) with a dependency under a marker."""
    (root / "src" / "fresh").mkdir(parents=True)
    (root / "src" / "fresh" / "__init__.py").write_text("def double(x):\n    return x * 2\n")
    (root / "tests").mkdir()
    (root / "tests" / "test_fresh.py").write_text(FRESH_TEST)
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = [{build_requires}]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "0.1"\n'
        """dependencies = ['iniconfig; python_version >= "3"']\n"""
        '[tool.setuptools.packages.find]\nwhere = ["src"]\n'
    )
    return root


@pytest.fixture(scope="module")
def fresh_env(tmp_path_factory: pytest.TempPathFactory) -> EnvRecord:
    return build_env(str(write_fresh(tmp_path_factory.mktemp("fresh") / "fresh")))


@pytest.mark.root  # builds environments in bwrap sandboxes
@pytest.mark.network  # the build downloads the wheelhouse from the package index
def test_a_fresh_venv_install_passes_offline_from_the_wheelhouse(fresh_env: EnvRecord) -> None:
    env = fresh_env
    assert env.baseline[FRESH] == "passed", Path(env.logs["baseline"]).read_text()[-3000:]
    assert not env.wheelhouse_problem
    names = {f.split("-")[0].lower() for f in env.wheelhouse}
    assert {"setuptools", "iniconfig"} <= names and "fresh" not in names
    assert (Path(env.venv) / WHEELHOUSE_NAME).is_dir()
    shown = CliRunner().invoke(app, ["show", env.id], env={"COLUMNS": "250"})
    assert f"{len(env.wheelhouse)} file(s) pip finds offline" in shown.output, shown.output
    with env_sandbox(env) as sb:  # every later sandbox of the environment, as the grader opens them
        assert run_tests(sb, env.test, [FRESH]).statuses == {FRESH: "passed"}
        assert sb.exec(
            ["python", "-c", "import socket; socket.create_connection(('pypi.org', 443), 5)"]
        ).exit_code


@pytest.mark.root
@pytest.mark.network
def test_the_same_sandbox_without_the_wheelhouse_fails_it(fresh_env: EnvRecord) -> None:
    """The wheelhouse is what makes it pass: the same offline sandbox without pip's settings fails."""
    spec = SandboxSpec(
        snapshot=Path(fresh_env.snapshot_path), venv=Path(fresh_env.venv), env=fresh_env.test.env
    )
    assert sandbox_env(spec.venv)  # the environment has a wheelhouse; this sandbox is not told of it
    with open_sandbox(spec) as sb:
        assert run_tests(sb, fresh_env.test, [FRESH]).statuses == {FRESH: "failed"}


@pytest.mark.root
@pytest.mark.network
def test_the_project_itself_never_lies_in_the_wheelhouse(tmp_path: Path) -> None:
    """A project that needs a released copy of itself to build (here one named like a real package,
    six) gets no copy of it in the wheelhouse: that wheel would hold the project's clean source, the
    answer to a task. The build is not failed for it; the problem is recorded."""
    root = write_fresh(tmp_path / "six", name="six", build_requires='"setuptools", "six"')
    env = build_env(str(root))
    assert not any(f.lower().startswith("six") for f in env.wheelhouse), env.wheelhouse
    assert "six" in env.wheelhouse_problem
    assert not list((Path(env.venv) / WHEELHOUSE_NAME).glob("six*"))


def test_no_wheelhouse_no_pip_settings(tmp_path: Path) -> None:
    """An environment built before the wheelhouse existed keeps the sandboxes its baseline ran in."""
    assert sandbox_env(tmp_path) == {} and sandbox_env(None) == {}
    (tmp_path / WHEELHOUSE_NAME).mkdir()
    assert sandbox_env(tmp_path) == {"PIP_FIND_LINKS": f"/opt/venv/{WHEELHOUSE_NAME}", "PIP_NO_INDEX": "1"}
