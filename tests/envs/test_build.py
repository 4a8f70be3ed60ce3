"""Environment builds through the real path: a PyPI sdist, bwrap sandboxes, pip, pytest."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from typer.testing import CliRunner

from codekiln.cli.env import app
from codekiln.core.config import state_dir
from codekiln.core.errors import EnvBuildError
from codekiln.envs import EnvRecord, build_env, env_sandbox, list_envs, load_env
from codekiln.grading import run_tests

GET = "toolz/tests/test_itertoolz.py::test_get"


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_baseline_reproduces_the_suite(toolz_env: EnvRecord) -> None:
    env = toolz_env
    assert (env.name, env.version, env.python) == ("toolz", "1.2.0", env.recipe.python.version)
    assert env.counts["failed"] == 0 and env.counts["error"] == 0
    assert env.counts["passed"] >= 190 and env.counts["passed"] == sum(
        s == "passed" for s in env.baseline.values()
    )
    assert env.baseline[GET] == "passed"
    assert not env.collection_errors and not env.skipped_deps
    assert any(p.startswith("pytest==") for p in env.packages)
    assert "toolz==1.2.0 (editable /testbed)" in env.packages  # the release's version, not the git's
    assert set(env.logs) >= {"venv", "install", "baseline"}
    assert all(Path(p).is_file() for p in env.logs.values())
    assert json.loads(Path(env.venv).with_name("env.json").read_text())["id"] == env.id


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_second_build_is_a_cache_hit(toolz_env: EnvRecord) -> None:
    steps: list[str] = []
    again = build_env("pypi:toolz==1.2.0", on_step=lambda step, info: steps.append(step))
    assert again == toolz_env
    assert "cached" in steps and "install" not in steps and "baseline" not in steps
    assert load_env("pypi:toolz==1.2.0").id == toolz_env.id
    assert load_env(toolz_env.id[:8]).id == toolz_env.id
    assert toolz_env.id in {e.id for e in list_envs()}


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_tests_import_the_workspace_code(toolz_env: EnvRecord) -> None:
    """The editable install points at /testbed: a change in the sandbox's tree is what the tests see."""
    with env_sandbox(toolz_env) as sb:
        source = sb.read_file("toolz/itertoolz.py").decode()
        broken = source.replace(
            "def get(ind, seq, default=no_default):",
            "def get(ind, seq, default=no_default):\n    return None",
            1,
        )
        assert broken != source
        sb.write_file("toolz/itertoolz.py", broken)
        assert run_tests(sb, toolz_env.test, [GET]).statuses == {GET: "failed"}
        sb.reset()
        assert run_tests(sb, toolz_env.test, [GET]).statuses == {GET: "passed"}


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_env_sandbox_has_no_network_and_a_read_only_venv(toolz_env: EnvRecord) -> None:
    with env_sandbox(toolz_env) as sb:
        assert sb.exec(["python", "-c", "import sys; print(sys.prefix)"]).stdout.strip() == "/opt/venv"
        assert not sb.exec(["touch", "/opt/venv/x"]).ok
        code = "import socket; socket.create_connection(('pypi.org', 443), timeout=5)"
        assert not sb.exec(["python", "-c", code]).ok


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_failed_build_leaves_nothing(tmp_path: Path) -> None:
    profile = tmp_path / "broken.yaml"
    profile.write_text("extra_deps: [codekiln-no-such-dist-xyz==1.0]\n")
    before = set(state_dir("envs").iterdir())
    with pytest.raises(EnvBuildError) as err:
        build_env("pypi:toolz==1.2.0", profile=profile)
    assert err.value.data["step"] == "install"
    assert "environment build failed at step 'install'" in err.value.message
    assert "codekiln-no-such-dist-xyz" in err.value.data["log_tail"]
    assert err.value.hint is not None and "full log: " in err.value.hint
    kept = Path(err.value.hint.split("full log: ")[1].strip())
    assert kept.is_file() and kept.parent == state_dir("envs", "failed")
    after = set(state_dir("envs").iterdir())
    assert after - before <= {state_dir("envs", "failed")} | {p for p in after if p.name.endswith(".lock")}
    assert not [p for p in after if p.name.startswith(".build-")]


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_cli_env_test_ends_with_the_counts(toolz_env: EnvRecord) -> None:
    other = "toolz/tests/test_itertoolz.py::test_first"
    result = CliRunner().invoke(app, ["test", "pypi:toolz==1.2.0", "--tests", GET, other])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().splitlines()[-1] == "2 passed, 0 failed"


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_local_project_with_a_failing_test(tmp_path: Path, make_tiny: Callable[..., Path]) -> None:
    """A local directory builds too; an optional test dep that cannot install is skipped and recorded;
    the baseline records the failing test and `env test` reports it."""
    root = make_tiny(tmp_path / "tiny")
    (root / "test-requirements.txt").write_text("codekiln-no-such-dist-xyz\niniconfig\n")
    env = build_env(str(root))
    assert list(env.skipped_deps) == ["codekiln-no-such-dist-xyz"]
    assert any(p.startswith("iniconfig==") for p in env.packages)
    assert env.baseline == {
        "tests/test_tiny.py::test_ok": "passed",
        "tests/test_tiny.py::test_wrong": "failed",
    }
    assert env.test.args == ["tests"]
    result = CliRunner().invoke(app, ["test", env.id], env={"COLUMNS": "200"})
    assert result.exit_code == 1
    assert "tests/test_tiny.py::test_wrong" in result.output and "two doubled is not 5" in result.output
    assert "1 of them also failed in the environment's baseline (the clean snapshot)" in result.output
    assert result.output.rstrip().splitlines()[-1] == "1 passed, 1 failed"
    # a file given in place of test ids selects its tests; it is not itself a test gone "missing"
    by_file = CliRunner().invoke(
        app, ["test", env.id, "--tests", "tests/test_tiny.py"], env={"COLUMNS": "200"}
    )
    assert "missing" not in by_file.output
    assert by_file.output.rstrip().splitlines()[-1] == "1 passed, 1 failed"


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_a_suite_in_one_top_level_tests_module_runs(tmp_path: Path) -> None:
    """A project whose whole suite is a top-level tests.py of unittest classes (run as `python tests.py`;
    pytest's default file names miss it) builds and runs it: it used to be refused as 'ships no tests'
    (an sdist) or to build with a baseline of 0 tests."""
    root = tmp_path / "flat"
    (root / "flat").mkdir(parents=True)
    (root / "flat" / "__init__.py").write_text("def double(x):\n    return x * 2\n")
    (root / "tests.py").write_text(
        "import unittest\nfrom flat import double\n\n\nclass TestDouble(unittest.TestCase):\n"
        "    def test_ok(self):\n        self.assertEqual(double(2), 4)\n\n"
        "    def test_wrong(self):\n        self.assertEqual(double(2), 5)\n\n\n"
        "if __name__ == '__main__':\n    unittest.main()\n"
    )
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "flat"\nversion = "0.1"\n[tool.setuptools]\npackages = ["flat"]\n'
    )
    env = build_env(str(root))
    assert env.baseline == {
        "tests.py::TestDouble::test_ok": "passed",
        "tests.py::TestDouble::test_wrong": "failed",
    }
    assert env.test.args == ["--override-ini=python_files=test_*.py *_test.py tests.py"]


@pytest.mark.root  # builds environments in bwrap sandboxes
@pytest.mark.slow  # two fresh builds every run (a new snapshot each time)
def test_concurrent_builds_share_one_build_and_redo_rebuilds(
    tmp_path: Path, make_tiny: Callable[..., Path]
) -> None:
    root = make_tiny(tmp_path / "tiny", expected=6)
    (root / "tiny" / "run_id.py").write_text(f"RUN = {uuid.uuid4().hex!r}\n")  # a fresh snapshot every run
    steps: list[list[str]] = [[], []]

    def build(i: int) -> EnvRecord:
        return build_env(str(root), on_step=lambda step, info: steps[i].append(step))

    with ThreadPoolExecutor(2) as pool:
        first, second = pool.map(build, [0, 1])
    assert first == second
    assert sorted("cached" in s for s in steps) == [False, True]  # one built, the other waited and reused it
    assert sum("install" in s for s in steps) == 1
    redone = build_env(str(root), redo=True)
    assert redone.id == first.id and redone.created >= first.created and redone.duration_s != first.duration_s
    assert redone.baseline == first.baseline
    assert not [p for p in state_dir("envs").iterdir() if p.name.startswith((".build-", ".old-"))]


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_cli_build_show_list(toolz_env: EnvRecord) -> None:
    runner = CliRunner()
    built = runner.invoke(app, ["build", "pypi:toolz==1.2.0"])
    assert built.exit_code == 0 and "cached" in built.output and toolz_env.id in built.output
    shown = runner.invoke(app, ["show", "pypi:toolz==1.2.0"])
    assert shown.exit_code == 0 and toolz_env.summary_line() in shown.output
    assert "pyproject [dependency-groups] test" in shown.output  # where each dep came from
    listed = runner.invoke(app, ["list"])
    assert listed.exit_code == 0 and toolz_env.id in listed.output


@pytest.mark.root  # builds environments in bwrap sandboxes
@pytest.mark.slow
def test_extensions_built_in_place_are_kept() -> None:
    """markupsafe compiles `_speedups` into its source tree: the environment keeps it, and every sandbox
    of it shows the compiled module in the package directory (where an editable install leaves it, and
    where a test that walks the package finds it) without it ever being a change of the tree."""
    env = build_env("pypi:markupsafe==3.0.4")
    assert env.kept_extensions == [
        p for p in env.kept_extensions if p.startswith("src/markupsafe/_speedups.")
    ]
    assert len(env.kept_extensions) == 1
    assert env.counts["failed"] == 0 and env.counts["skipped"] <= 1  # the speedups half of the suite runs
    with env_sandbox(env) as sb:
        res = sb.exec(["python", "-c", "import markupsafe._speedups as m; print(m.__file__)"])
        assert res.stdout.strip() == "/testbed/" + env.kept_extensions[0]
        listed = sb.exec(["python", "-c", "import os; print(os.listdir('src/markupsafe'))"]).stdout
        assert env.kept_extensions[0].rsplit("/", 1)[1] in listed
        assert sb.diff() == "" and sb.changed() == {}  # part of the tree it starts from, never a change


def test_a_directory_that_is_no_project_is_refused_before_any_build(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("hello\n")

    def written() -> set[Path]:  # lookups may make empty folders (state_dir); nothing may be written
        return {p for p in state_dir("envs").rglob("*") if not p.is_dir() or any(p.iterdir())}

    before = written()
    for directory in ("/etc", str(tmp_path / "notes")):
        result = CliRunner().invoke(app, ["test", directory])
        assert result.exit_code != 0
        assert f"{directory} is not a Python project" in str(result.exception or result.output)
    assert written() == before


@pytest.mark.root  # the toolz environment is built in bwrap sandboxes
@pytest.mark.parametrize("newer", ["f" * 16, "0" * 16])
def test_builds_finished_within_one_second_are_ordered_by_when_they_were_written(
    toolz_env: EnvRecord, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, newer: str
) -> None:
    """`created` is to the second; the newest of two builds of one snapshot in that second is the one
    written last, whatever their ids or the directory's listing order say (either one newer)."""
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path))
    older = ({"f" * 16, "0" * 16} - {newer}).pop()
    for name, ns in ((older, 1_000), (newer, 2_000)):
        record = toolz_env.model_copy(update={"id": name})
        path = state_dir("envs", name) / "env.json"
        path.write_text(record.model_dump_json())
        os.utime(path, ns=(ns, ns))
    assert [e.id for e in list_envs()] == [older, newer]
