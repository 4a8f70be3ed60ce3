"""What the CI job that runs the tests installs is a source of test dependencies (pydantic-settings:
its CI runs `uv sync --group testing --all-extras`, and without the extras a doc example failed, and
pytest crashed rendering the failure), and the modules pytest could not import on the clean snapshot
are named for the build to install (httpx's conftest imports `trustme`, which no file in its sdist
declares)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from codekiln.envs import build_env
from codekiln.envs.ciinstall import ci_install, install_targets
from codekiln.envs.deps import detect_deps, read_pyproject
from codekiln.envs.missing import missing_imports, undeclared
from codekiln.testing import write_files
from codekiln.testing.index import LocalIndex, wheel_of_installed, write_wheel

BUILD = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'

PYPROJECT = """[project]
name = "proj"
version = "0.1"
[project.optional-dependencies]
yaml = ["pyyaml>=6"]
aws = ["boto3"]
lint = ["ruff"]
[dependency-groups]
testing = ["pytest", "pytest-mock"]
linting = ["mypy"]
dev = ["freezegun"]
"""
WORKFLOW = """on: [push]
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: uv sync --group linting --extra lint
      - run: make lint
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          uv sync --no-dev --group testing \\
            --all-extras
      - run: pip install ${{ matrix.extra }} && make test
"""


def test_the_extras_and_groups_of_the_job_that_runs_the_tests_are_installed(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "proj",
        {"pyproject.toml": PYPROJECT, ".github/workflows/ci.yml": WORKFLOW, "proj/__init__.py": ""},
    )
    ci = ci_install(root, read_pyproject(root))
    assert (ci.extras, ci.groups) == (["yaml", "aws", "lint"], ["testing"])
    assert ci.where == ".github/workflows/ci.yml job test"
    found = detect_deps(root, "proj")
    assert found.extras == ["yaml", "aws", "lint"]  # the job's --all-extras; the lint job's own is not read
    assert found.sources[".[yaml]"] == ".github/workflows/ci.yml job test"
    assert "pytest-mock" in found.deps and "mypy" not in found.deps and "freezegun" not in found.deps


def test_install_commands_name_the_projects_extras_as_pip_and_uv_read_them() -> None:
    pyproject = {"dependency-groups": {"dev": ["x"], "test": ["y"]}}
    assert install_targets('python -m pip install -e ".[test,yaml]" coverage', pyproject) == (
        ["test", "yaml"],
        [],
    )
    assert install_targets("uv sync --extra=http2 --group test", pyproject) == (["http2"], ["dev", "test"])
    assert install_targets("uv pip install ./[socks] --group test", pyproject) == (["socks"], ["test"])
    # another directory, not the project:
    assert install_targets("pip install somepkg/", pyproject) == ([], [])
    assert install_targets("make test", pyproject) is None


def test_the_modules_pytest_could_not_import_are_installed_unless_the_project_has_them(
    tmp_path: Path,
) -> None:
    root = write_files(
        tmp_path / "proj",
        {"proj/__init__.py": "", "tests/unit/helpers.py": "", "tests/data/yaml/x.txt": ""},
    )
    texts = [
        "ImportError while loading conftest '/testbed/tests/conftest.py'.\ntests/conftest.py:9: in <module>\n"
        "    import trustme\nE   ModuleNotFoundError: No module named 'trustme'",
        "ModuleNotFoundError: No module named 'jwt'",
        "ModuleNotFoundError: No module named 'helpers'",  # the project's own, not on pytest's path
        "ModuleNotFoundError: No module named 'google.cloud'",  # a namespace part: not guessed
        "ModuleNotFoundError: No module named 'tests'",
        "ModuleNotFoundError: No module named 'tomllib'",
        "ModuleNotFoundError: No module named 'yaml'",  # a data directory named yaml is no module
        "E   ModuleNotFoundError: No module named 'trustme'",
    ]
    modules = missing_imports(texts)
    assert modules == ["trustme", "jwt", "helpers", "tests", "tomllib", "yaml"]
    assert undeclared(modules, root) == {"trustme": "trustme", "PyJWT": "jwt", "PyYAML": "yaml"}


@pytest.mark.root  # builds an environment in bwrap sandboxes, installing from an index on loopback
def test_a_build_installs_what_the_tests_import_and_no_file_declares_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The conftest imports ckhelper (pytest stops before its session), a test module imports ckother
    (that module fails to collect), a third imports cknothere, which the index does not have: the first
    two are installed, one round each, and the suite runs; the third is recorded as skipped and its
    module left out. With the first, the requirements of the project's `fancy` extra are installed
    (the code under test imports ckfancy lazily), and not those of its `docs` extra."""
    files = tmp_path / "files"
    for dist in ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "setuptools"):
        wheel_of_installed(dist, files)
    write_wheel(files, "ckhelper", "1.0", {"ckhelper.py": "VALUE = 2\n"})
    write_wheel(files, "ckother", "1.0", {"ckother.py": "VALUE = 3\n"})
    write_wheel(files, "ckfancy", "1.0", {"ckfancy.py": "VALUE = 4\n"})
    write_files(
        tmp_path / "helped",
        {
            "pyproject.toml": BUILD + '[project]\nname = "helped"\nversion = "0.1"\n'
            '[project.optional-dependencies]\nfancy = ["ckfancy"]\ndocs = ["ckdocs"]\n'
            '[tool.setuptools]\npy-modules = ["helped"]\n',
            "helped.py": "import importlib\n\n\ndef fancy():\n    return importlib.import_module('ckfancy').VALUE\n",
            "tests/conftest.py": "import ckhelper\n",
            "tests/test_a.py": "import ckhelper\n\n\ndef test_a():\n    assert ckhelper.VALUE == 2\n",
            "tests/test_b.py": "import ckother\nimport helped\n\n\ndef test_b():\n"
            "    assert ckother.VALUE + helped.fancy() == 7\n",
            "tests/test_c.py": "import cknothere\n\n\ndef test_c():\n    pass\n",
        },
    )
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    profile = tmp_path / "home" / "profiles" / "helped.yaml"
    profile.parent.mkdir(parents=True)
    with LocalIndex(files, None) as index:
        profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index.url}}))
        env = build_env(str(tmp_path / "helped"))
    assert env.baseline == {"tests/test_a.py::test_a": "passed", "tests/test_b.py::test_b": "passed"}
    why = "pytest could not import {} on the clean snapshot; no file of the project declares it"
    assert list(env.added_deps) == ["[fancy]", "ckhelper", "ckother"]
    assert env.added_deps["ckother"] == why.format("ckother")
    assert env.added_deps["[fancy]"].startswith("the tests import modules no file of the snapshot declares")
    assert list(env.skipped_deps) == ["cknothere"]
    assert env.skipped_deps["cknothere"].startswith(why.format("cknothere") + "; it did not install: ")
    assert list(env.left_out) == ["tests/test_c.py"]
    assert env.left_out["tests/test_c.py"].startswith("ModuleNotFoundError: No module named 'cknothere'")


@pytest.mark.root  # builds an environment in bwrap sandboxes, installing from an index on loopback
def test_a_test_that_fails_importing_what_an_extra_provides_gets_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every module collects, but the tests of the project's `rpc` support import ckrpc inside the test
    (googleapis-common-protos: its `operations_pb2_grpc` tests import `grpc`, of its `grpc` extra): they
    failed on the clean snapshot, and were the only tests that run the project's functions. The build
    installs the extras and the module, and they pass; a test failing on a module the index lacks
    stays failed, the module recorded as skipped."""
    files = tmp_path / "files"
    for dist in ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "setuptools"):
        wheel_of_installed(dist, files)
    write_wheel(files, "ckrpc", "1.0", {"ckrpc.py": "def handler(name):\n    return 'rpc:' + name\n"})
    write_files(
        tmp_path / "served",
        {
            "pyproject.toml": BUILD + '[project]\nname = "served"\nversion = "0.1"\n'
            '[project.optional-dependencies]\nrpc = ["ckrpc"]\n[tool.setuptools]\npy-modules = ["served"]\n',
            "served.py": "def serve(name):\n    import ckrpc\n\n    return ckrpc.handler(name.upper())\n",
            "tests/test_plain.py": "def test_plain():\n    assert 1 + 1 == 2\n",
            "tests/test_rpc.py": "import served\n\n\ndef test_serve():\n    assert served.serve('a') == 'rpc:A'\n\n\n"
            "def test_absent():\n    import cknothere  # noqa: F401\n",
        },
    )
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    profile = tmp_path / "home" / "profiles" / "served.yaml"
    profile.parent.mkdir(parents=True)
    with LocalIndex(files, None) as index:
        profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index.url}}))
        env = build_env(str(tmp_path / "served"))
    assert env.baseline == {
        "tests/test_plain.py::test_plain": "passed",
        "tests/test_rpc.py::test_serve": "passed",
        "tests/test_rpc.py::test_absent": "failed",
    }
    assert list(env.added_deps) == ["[rpc]", "ckrpc"]
    assert list(env.skipped_deps) == ["cknothere"]
