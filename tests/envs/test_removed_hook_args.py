"""A conftest whose hook declares an argument pytest has since removed builds under the last pytest that
had it. docopt-ng 0.9.0 collects its text cases (`tests/testcases.docopt`) with
`pytest_collect_file(file_path, path, parent)`; pytest 9 dropped the py.path arguments, refused the
conftest before any test ran, and the build failed ("Argument(s) {'path'} are declared in the hookimpl
but can not be found in the hookspec"), where the project's own run at its release passed 614 tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codekiln.envs import build_env
from codekiln.envs.rounds import removed_hook_pin
from codekiln.testing import write_files
from codekiln.testing.index import LocalIndex, wheel_of_installed

BUILD = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'

# a conftest collecting text cases, each line `INPUT EXPECTED`, checked against the library
CONFTEST = """import pytest

import cases


def pytest_collect_file(file_path, path, parent):
    if file_path.suffix == ".cases":
        return CaseFile.from_parent(parent, path=file_path)


class CaseFile(pytest.File):
    def collect(self):
        for i, line in enumerate(self.path.read_text().splitlines(), 1):
            yield CaseItem.from_parent(self, name=f"case{i}", case=line.split())


class CaseItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        assert cases.double(int(self.case[0])) == int(self.case[1])
"""


def test_the_pin_is_read_from_what_pytest_printed(tmp_path: Path) -> None:
    """pytest's own message, from a real run of today's pytest on the conftest; an argument pytest never
    had is the project's own mistake, left as its verdict."""
    root = write_files(
        tmp_path / "proj",
        {
            "tests/conftest.py": CONFTEST,
            "tests/a.cases": "1 2\n",
            "cases.py": "def double(x):\n    return 2 * x\n",
        },
    )
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "tests"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert res.returncode != 0 and "PluginValidationError" in res.stdout + res.stderr
    assert removed_hook_pin(res.stdout + res.stderr) == "pytest<9"
    startdir = "Argument(s) {'startdir'} are declared in the hookimpl but can not be found in the hookspec"
    assert removed_hook_pin(startdir) == "pytest<9"
    assert removed_hook_pin(startdir.replace("'startdir'", "'startdir', 'typo'")) is None
    assert removed_hook_pin("1 failed") is None


@pytest.mark.root  # builds an environment in bwrap sandboxes, installing from an index on loopback
def test_a_hook_with_an_argument_pytest_removed_builds_under_the_pytest_that_had_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The index holds today's pytest and an older one whose `pytest_collect_file` still passes `path`
    (the installed pytest with that argument put back, as pytest 8 had it); the project asks for plain
    `pytest`. The first baseline stops on the conftest, the build installs `pytest<9` and says why, and
    the text cases run: one passes, one fails (the library's verdict, not the build's)."""
    files = tmp_path / "files"
    for dist in ("pluggy", "iniconfig", "packaging", "pygments", "setuptools"):
        wheel_of_installed(dist, files)
    wheel_of_installed("pytest", files)
    call = "ihook.pytest_collect_file(file_path=path, parent=self)"
    passes_path = "ihook.pytest_collect_file(file_path=path, path=path, parent=self)"
    wheel_of_installed(
        "pytest",
        files,
        version="8.4.99",
        edits={
            "_pytest/hookspec.py": [("def pytest_collect_file(file_path: Path, ", "def pytest_collect_file(file_path: Path, path, ")],
            "_pytest/main.py": [(call, passes_path)],
            "_pytest/python.py": [(call, passes_path)],
        },
    )  # fmt: skip
    write_files(
        tmp_path / "cases",
        {
            "pyproject.toml": BUILD + '[project]\nname = "cases"\nversion = "0.1"\n'
            '[tool.setuptools]\npy-modules = ["cases"]\n[dependency-groups]\ntest = ["pytest"]\n'
            '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
            "cases.py": "def double(x):\n    return 2 * x\n",
            "tests/conftest.py": CONFTEST,
            "tests/double.cases": "1 2\n2 5\n",
        },
    )
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    profile = tmp_path / "home" / "profiles" / "cases.yaml"
    profile.parent.mkdir(parents=True)
    with LocalIndex(files, None) as index:
        profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index.url}}))
        env = build_env(str(tmp_path / "cases"))
    assert "pytest==8.4.99" in env.packages
    assert list(env.added_deps) == ["pytest<9"]
    assert "removed" in env.added_deps["pytest<9"]
    assert env.baseline == {"tests/double.cases::case1": "passed", "tests/double.cases::case2": "failed"}
