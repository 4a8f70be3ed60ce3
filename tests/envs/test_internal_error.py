"""A run that pytest ends with an internal error says what was raised and where, read from real pytest
runs. google-api-core: `filterwarnings = error` made a plugin's start-up warning (pytest-asyncio's
"asyncio_default_fixture_loop_scope is unset") an INTERNALERROR before the session began, and the build
said only "no test report: the test process ended before its session did (exit code 3)"; the error kept
the last line of a two-line message, without the warning's type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codekiln.envs import build_env
from codekiln.envs.rounds import startup_warning_filter
from codekiln.grading import internal_error
from codekiln.tasks.validation.testexec import pytest_options
from codekiln.testing import write_files
from codekiln.testing.index import LocalIndex, wheel_of_installed, write_wheel

BUILD = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'

WARNS_AT_START = (
    "import warnings\n\n\ndef pytest_configure(config):\n"
    "    warnings.warn(DeprecationWarning('option x is unset.\\nIt will default to y.'))\n"
)


def _pytest(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-p", "no:cacheprovider", "tests"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_a_warning_made_an_error_at_start_up_is_named_with_its_type_and_where_it_was_raised(
    tmp_path: Path,
) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "pyproject.toml": '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n',
            "tests/conftest.py": WARNS_AT_START,
            "tests/test_a.py": "def test_a():\n    pass\n",
        },
    )
    res = _pytest(root)
    assert res.returncode == 3, res.stdout + res.stderr
    assert internal_error(res.stdout + res.stderr) == (
        "pytest stopped with an internal error (exit code 3): DeprecationWarning: option x is unset. "
        f"(raised in {root}/tests/conftest.py, line 5, in pytest_configure)"
    )


def test_a_crash_inside_pytest_itself_names_the_exception_and_no_place(tmp_path: Path) -> None:
    """pydantic-settings: pytest failed rendering a failure (its own frames only)."""
    log = (
        "INTERNALERROR> Traceback (most recent call last):\n"
        'INTERNALERROR>   File "/opt/venv/lib/python3.11/site-packages/_pytest/_code/code.py", line 1097, '
        "in repr_traceback_entry\n"
        "INTERNALERROR>     end_line_index = entry.end_lineno_relative\n"
        'INTERNALERROR>   File "/usr/lib/python3.11/inspect.py", line 1, in getsource\n'
        "INTERNALERROR>     x\n"
        "INTERNALERROR> RuntimeError: generator raised StopIteration\n"
    )
    assert internal_error(log) == (
        "pytest stopped with an internal error (exit code 3): RuntimeError: generator raised StopIteration"
    )


def test_only_a_warning_at_start_up_from_outside_the_project_is_ignored(tmp_path: Path) -> None:
    root = write_files(tmp_path / "proj", {"tests/conftest.py": ""})
    plugin = (
        "pytest stopped with an internal error (exit code 3): pytest.PytestDeprecationWarning: The option "
        '"x" is unset. (raised in pytest_asyncio/plugin.py, line 306, in pytest_configure)'
    )
    assert (
        startup_warning_filter(plugin, root)
        == 'ignore:The option "x" is unset.:pytest.PytestDeprecationWarning'
    )
    own = plugin.replace("pytest_asyncio/plugin.py", "tests/conftest.py")
    assert startup_warning_filter(own, root) is None  # the project's own warning is its suite's verdict
    in_a_test = plugin.replace("pytest_configure", "pytest_runtest_call")
    assert startup_warning_filter(in_a_test, root) is None
    error = plugin.replace("PytestDeprecationWarning", "PytestError")
    assert startup_warning_filter(error, root) is None


@pytest.mark.root  # builds an environment in bwrap sandboxes, installing from an index on loopback
def test_a_plugins_warning_at_start_up_under_filterwarnings_error_is_ignored_and_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test group's plugin warns in pytest_configure (a two-line message), the config says
    `filterwarnings = error`: the first baseline stops with INTERNALERROR, the build ignores that one
    warning with -W in the environment's test command, and another warning a test raises still fails it
    (the same message raised in a test would be ignored too: `-W` applies to the whole run)."""
    files = tmp_path / "files"
    for dist in ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "setuptools"):
        wheel_of_installed(dist, files)
    warns = "import warnings\n\n\ndef pytest_configure(config):\n    warnings.warn(DeprecationWarning('ckplug option is unset.\\nIt will change.'))\n"
    write_wheel(files, "ckplug", "1.0", {"ckplug.py": warns})
    write_files(
        tmp_path / "warned",
        {
            "pyproject.toml": BUILD + '[project]\nname = "warned"\nversion = "0.1"\n'
            '[tool.setuptools]\npy-modules = ["warned"]\n[dependency-groups]\ntest = ["ckplug"]\n'
            '[tool.pytest.ini_options]\naddopts = "-p ckplug"\nfilterwarnings = ["error"]\n',
            "warned.py": "",
            "tests/test_a.py": "import warnings\n\n\ndef test_a():\n    pass\n\n\n"
            "def test_warns():\n    warnings.warn(DeprecationWarning('another change'))\n",
        },
    )
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    profile = tmp_path / "home" / "profiles" / "warned.yaml"
    profile.parent.mkdir(parents=True)
    with LocalIndex(files, None) as index:
        profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index.url}}))
        env = build_env(str(tmp_path / "warned"))
    # one argument, the option joined to its value: every stage that keeps only a command's options (a
    # validation job, a grade, an exported row) keeps it whole (split, pytest read a test id as -W's value)
    assert env.test.args[-1] == "-Wignore:ckplug option is unset.:DeprecationWarning"
    assert env.test.args[-1] in pytest_options(env.test)
    assert env.baseline == {"tests/test_a.py::test_a": "passed", "tests/test_a.py::test_warns": "failed"}
