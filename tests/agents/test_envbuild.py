"""The environment-building agent through the real path: scripted models play the real agent loop in a
build sandbox with network (pip really installs), and the judge really builds a fresh environment."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codekiln.agents.envbuild import (
    ProfileRejected,
    agent_build_env,
    attempt_base,
    profile_from_submission,
    pytest_command_args,
)
from codekiln.cli.env import app
from codekiln.core.config import home
from codekiln.core.errors import EnvBuildError
from codekiln.envs import build_env, load_profile
from codekiln.models.scripted import ScriptedModel


def call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


GOOD = [
    call("bash", command="/opt/venv/bin/python -m pip install -e /testbed six pytest"),
    call("bash", command="TINY_MODE=1 /opt/venv/bin/python -m pytest -q tests"),
    call(
        "write_profile",
        test_command="python -m pytest -q tests",
        extra_deps=["six"],
        test_env={"TINY_MODE": "1"},
    ),
]
ECHO = [call("bash", command="ls"), call("write_profile", test_command="echo ok")]


def _project(root: Path) -> str:
    """A project the rules cannot build: its conftest refuses to run without an environment variable,
    and its tests import `six`, which nothing declares. A fresh name (and snapshot) every run."""
    name = f"needs-agent-{uuid.uuid4().hex[:8]}"
    (root / "mode").mkdir(parents=True)
    (root / "mode" / "__init__.py").write_text(
        "import os\n\n\ndef mode():\n    return os.environ.get('TINY_MODE')\n"
    )
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text(
        "import os\n\nif os.environ.get('TINY_MODE') != '1':\n    raise RuntimeError('set TINY_MODE=1')\n"
    )
    (root / "tests" / "test_mode.py").write_text(
        "import six\n\nfrom mode import mode\n\n\ndef test_mode():\n    assert mode() == '1'\n\n\n"
        "def test_six():\n    assert six.PY3\n"
    )
    (root / "pyproject.toml").write_text(
        f'[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        f'[project]\nname = "{name}"\nversion = "0.1"\n[tool.setuptools]\npackages = ["mode"]\n'
    )
    return name


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_a_good_profile_is_accepted_and_the_cli_falls_back_to_the_agent(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    name = _project(root)
    script = tmp_path / "good.json"
    script.write_text(json.dumps(GOOD))
    profile = home() / "profiles" / f"{name}.yaml"
    try:
        with pytest.raises(EnvBuildError):  # the rules alone fail (TINY_MODE is not set)
            build_env(str(root))
        result = CliRunner().invoke(
            app, ["build", str(root), "--agent", f"scripted:{script}"], env={"COLUMNS": "200"}
        )
        assert result.exit_code == 0, f"{result.output}\n{result.exception}"
        assert "rules failed" in result.output and "profile accepted" in result.output
        assert "2 passed, 0 failed" in result.output
        saved = load_profile(name)
        assert (saved.extra_deps, saved.test_env, saved.test_args) == (["six"], {"TINY_MODE": "1"}, ["tests"])
        assert profile.is_file() and str(profile) in result.output
        env = build_env(str(root))  # later builds use the profile: a cache hit of the judged build
        assert env.baseline == {
            "tests/test_mode.py::test_mode": "passed",
            "tests/test_mode.py::test_six": "passed",
        }
        (record,) = [
            json.loads(p.read_text())
            for p in (home() / "envs" / "agent").glob("*.json")
            if not p.name.endswith(".trajectory.json") and json.loads(p.read_text())["env_id"] == env.id
        ]
        assert record["accepted"] and record["exit_reason"] == "submitted" and record["turns"] == 3
        trajectory = json.loads(Path(record["trajectory"]).read_text())
        assert "2 passed" in trajectory["steps"][1]["observations"][0]["text"]  # pip and pytest really ran
    finally:
        profile.unlink(missing_ok=True)


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_an_echo_test_command_is_rejected_with_the_reason(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    name = _project(root)
    result = agent_build_env(str(root), ScriptedModel(ECHO))
    assert not result.accepted and result.env is None
    assert result.reason == (
        "the test command 'echo ok' is not a pytest invocation: codekiln runs every suite with pytest, so "
        "the profile needs the pytest command that ran the tests (e.g. python -m pytest tests)"
    )
    assert not (home() / "profiles" / f"{name}.yaml").exists()
    assert result.record.exit_reason == "submitted" and result.record.turns == 2


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_a_command_that_collects_nothing_is_rejected(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _project(root)
    command = "python -m pytest tests -k no_such_test"
    nothing = [call("write_profile", test_command=command, extra_deps=["six"], test_env={"TINY_MODE": "1"})]
    result = agent_build_env(str(root), ScriptedModel(nothing))
    assert not result.accepted
    assert result.reason.startswith(
        "a fresh build from the profile failed: environment build failed at step 'baseline': no tests collected"
    )


def test_attempts_on_one_snapshot_within_a_second_keep_their_own_files() -> None:
    # Named to the second, an attempt's verdict and trajectory were written over by the next attempt's
    # on the same snapshot in the same second; many made at once must all differ.
    bases = [attempt_base("0123456789abcdef") for _ in range(50)]
    assert len(set(bases)) == 50
    assert all(b.name.startswith("0123456789abcdef-") for b in bases)


@pytest.mark.parametrize(
    "command",
    ["pytest tests | grep passed", "pytest tests || true", "echo pytest", "grep -r def tests", "cat $(ls)",
     "pytest tests > log"],
)  # fmt: skip
def test_commands_that_are_not_one_pytest_run_are_rejected(command: str) -> None:
    with pytest.raises(ProfileRejected):
        pytest_command_args(command)


def test_pytest_commands_become_profile_test_args(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    assert pytest_command_args("A=1 /opt/venv/bin/python3.11 -m pytest -x tests") == ["-x", "tests"]
    prof = profile_from_submission(
        {"test_command": "py.test -v --doctest-modules tests", "extras": ["test"], "skip_deps": []},
        tmp_path,
        "p",
    )
    assert (prof.test_args, prof.extras, prof.skip_deps, prof.name) == (
        ["--doctest-modules", "tests"], ["test"], [], "p"
    )  # fmt: skip
