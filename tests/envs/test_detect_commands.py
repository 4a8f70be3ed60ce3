"""Which test command an environment runs: pytest's configuration, tox/nox/CI commands and their option
arguments, doctests and unittest-only modules (the dependency side is test_detect.py)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from codekiln.envs import detect_tests
from codekiln.testing.git import write_files


def write(root: Path, files: dict[str, str]) -> Path:
    return write_files(root, {rel: textwrap.dedent(text) for rel, text in files.items()})


def test_pytest_config_precedence(tmp_path: Path) -> None:
    write(tmp_path, {
        "setup.cfg": "[tool:pytest]\ntestpaths = other\n",
        "pyproject.toml": "[tool.pytest.ini_options]\ntestpaths = ['src/pkg/tests']\n",
        "src/pkg/tests/test_x.py": "",
        "other/test_y.py": "",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.config == "pyproject.toml [tool.pytest.ini_options]"
    assert found.args == []  # pytest reads testpaths itself
    assert [p.name for p in found.test_files] == ["test_x.py"]


def test_tox_pytest_paths_and_pythonpath(tmp_path: Path) -> None:
    write(tmp_path, {
        "tox.ini": """
            [testenv]
            setenv =
                PYTHONPATH = {env:PYTHONPATH}{:}{toxinidir}
            commands =
                unit: pytest tests examples/tests {posargs:-x --basetemp={envtmpdir}}
                lint: pytest --flake8 linters
        """,
        "tests/test_a.py": "",
        "examples/tests/test_b.py": "",
        "linters/test_c.py": "",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.args == ["tests", "examples/tests"]
    assert found.env == {"PYTHONPATH": "/testbed"}


def test_unittest_runner_is_noted(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"tox.ini": "[testenv]\ncommands = {envpython} -m unittest -v {posargs}\n", "test/test_a.py": ""},
    )
    found = detect_tests(tmp_path)
    assert (found.runner, found.args) == ("unittest", ["test"])


# The ten libraries of the environment-building goal, from their real PyPI sdists.


def test_tox_command_options_take_their_arguments(tmp_path: Path) -> None:
    write(tmp_path, {
        "tox.ini": "[testenv]\ncommands = pytest -v --doctest-modules --ignore benchmark -k 'not slow' "
        "-p no:randomly --cov src -n 4 --deselect tests/test_a.py::test_x tests {posargs}\n",
        "benchmark/bench_x.py": "",
        "tests/test_a.py": "",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.args == [
        "--doctest-modules", "--ignore=benchmark", "-knot slow", "-pno:randomly",
        "--deselect=tests/test_a.py::test_x", "tests",
    ]  # fmt: skip
    assert found.source.startswith("tox.ini [testenv] commands: pytest -v --doctest-modules")
    assert found.source.endswith("(left out: -v --cov=src -n=4)")


@pytest.mark.parametrize(
    ("files", "source"),
    [
        (
            {
                "noxfile.py": "import nox\n@nox.session\ndef tests(session):\n    session.install('.')\n"
                "    session.run('pytest', '--doctest-modules', 'src', *session.posargs)\n"
            },
            "noxfile.py",
        ),
        (  # referencing: `session.run("coverage", "run", "-m", "pytest", REFERENCING)`, a path named once
            {
                "noxfile.py": "from pathlib import Path\nROOT = Path(__file__).resolve().parent\nSRC = ROOT / 'src'\n"
                "def tests(session):\n    session.run('coverage', 'run', '-m', 'pytest', '--doctest-modules', str(SRC))\n"
            },
            "noxfile.py",
        ),
        (
            {
                "pyproject.toml": "[tool.hatch.envs.default.scripts]\ntest = 'pytest --doctest-modules src'\n"
                "lint = 'ruff check'\n"
            },
            "pyproject.toml scripts",
        ),
        (
            {"pyproject.toml": "[tool.pdm.scripts]\ntest = {cmd = 'pytest --doctest-modules src'}\n"},
            "pyproject.toml scripts",
        ),
        (
            {
                "Makefile": "lint:\n\truff check .\ntest:\n\t@python -m pytest --doctest-modules src && echo ok\n"
            },
            "Makefile",
        ),
        (
            {
                ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pip install .\n"
                "      - run: |\n          coverage run -m pytest --doctest-modules src\n"
            },
            ".github/workflows",
        ),
    ],
    ids=["nox", "nox-names", "hatch", "pdm", "make", "ci"],
)
def test_project_command_sources(tmp_path: Path, files: dict[str, str], source: str) -> None:
    write(tmp_path, {**files, "src/pkg/__init__.py": "", "tests/test_a.py": ""})
    found = detect_tests(tmp_path)
    assert (found.args, found.source) == (
        ["--doctest-modules", "src"],
        f"{source}: pytest --doctest-modules src",
    )


@pytest.mark.parametrize(
    "workflow",
    ["jobs:\n  - t\n", "jobs:\n", "jobs: t\n", "jobs:\n  t:\n    steps: run\n", "- jobs\n"],
    ids=["jobs-list", "jobs-null", "jobs-string", "steps-string", "top-list"],
)
def test_a_workflow_of_another_shape_gives_no_command_and_no_error(tmp_path: Path, workflow: str) -> None:
    write(tmp_path, {".github/workflows/ci.yml": workflow, "src/pkg/__init__.py": "", "tests/test_a.py": ""})
    found = detect_tests(tmp_path)
    assert not found.source.startswith(".github/workflows"), found.source


def test_option_table_matches_pytests_own() -> None:
    from _pytest.config import _prepareconfig

    from codekiln.envs.pytestargs import FLAGS, OPTIONAL_VALUE, VALUE

    parser = _prepareconfig(["-p", "no:cacheprovider"])._parser
    for group in [parser._anonymous, *parser._groups]:
        for option in group.options:
            attrs = option.attrs()
            takes = attrs.get("action", "store") in ("store", "append") and attrs.get("nargs") != 0
            for name in option.names():
                if name == "--run-slow":
                    continue  # this repository's own conftest option
                if attrs.get("nargs") == "?":
                    assert name in OPTIONAL_VALUE, name
                elif takes:
                    assert name in VALUE, name
                else:
                    assert name in FLAGS, name


@pytest.mark.parametrize("layout", ["flat", "src"])
def test_tox_doctests_of_the_installed_package_run_on_its_source(tmp_path: Path, layout: str) -> None:
    pkg = "src/pkg" if layout == "src" else "pkg"
    write(tmp_path, {
        "tox.ini": """
            [testenv]
            commands = pytest --doctest-modules {envsitepackagesdir}/pkg tests {posargs}
        """,
        f"{pkg}/__init__.py": '"""\\n>>> 1 + 1\\n2\\n"""\\n',
        "tests/test_a.py": "",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.args == ["--doctest-modules", pkg, "tests"]
    assert "left out" not in found.source


def test_of_several_tox_pytest_commands_the_suites_is_run(tmp_path: Path) -> None:
    # natsort 8.4.0: doctest files first, then the installed package's doctests, then the suite
    write(tmp_path, {
        "tox.ini": """
            [testenv]
            commands =
                {envpython} -m doctest docs/howitworks.rst
                pytest README.rst docs/examples.rst
                pytest --doctest-modules {envsitepackagesdir}/pkg
                pytest --tb=short {posargs:}
        """,
        "README.rst": ">>> 1 + 1\n2\n",
        "docs/examples.rst": ">>> 2 + 2\n4\n",
        "pkg/__init__.py": "",
        "tests/test_a.py": "def test_a():\n    pass\n\ndef test_b():\n    pass\n",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.args == []
    assert found.source.startswith("tox.ini [testenv] commands: pytest --tb=short")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *found.args],
        cwd=tmp_path, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "2 passed" in run.stdout, run.stdout
    # the first command is kept when none runs the test directories, or when the first does
    write(
        tmp_path, {"tox.ini": "[testenv]\ncommands =\n    pytest README.rst\n    pytest docs/examples.rst\n"}
    )
    assert detect_tests(tmp_path).args == ["README.rst"]
    write(tmp_path, {"tox.ini": "[testenv]\ncommands =\n    pytest tests/test_a.py\n    pytest README.rst\n"})
    assert detect_tests(tmp_path).args == ["tests/test_a.py"]


OVERRIDE = "--override-ini=python_files=test_*.py *_test.py"
UNITTEST_MODULE = "import unittest\n\nclass TestA(unittest.TestCase):\n    def test_a(self):\n        pass\n"
MISSED = ("tests.py", "test.py", "basicTests.py")
OWN_MAIN = (
    "import unittest\n\nclass TestMissing(unittest.TestCase):\n    def runTest(self):\n        pass\n\n"
    "def main():\n    unittest.TextTestRunner().run(unittest.TestSuite())\n\n"
    "if __name__ == '__main__':\n    main()\n"
)
HELPERS_ONLY = (
    "import unittest\n\nclass BaseTestCase(unittest.TestCase):\n    def assertOutput(self, a, b):\n"
    "        self.assertEqual(a, b)\n"
)
INHERITS = "\nclass Checks(BaseTestCase):\n    def test_a(self):\n        pass\n\nclass TestMore(Checks):\n    pass\n"
MIXIN = "import unittest\nfrom shared import Checks\n\nclass TestMix(Checks, unittest.TestCase):\n    pass\n"
SCRIPT_MODULE = (
    "import unittest\n\nclass LineTests(unittest.TestCase):\n    def test_a(self):\n        pass\n\n"
    "if __name__ == '__main__':\n    unittest.main()\n"
)


@pytest.mark.parametrize(
    ("files", "args"),
    [
        # defusedxml: the whole suite is one top-level tests.py, run as `python tests.py`
        ({"tests.py": UNITTEST_MODULE, "pkg/__init__.py": ""}, [f"{OVERRIDE} tests.py"]),
        # xxhash: tests/test.py beside tests/test_name.py; pytest's default names miss the first
        (
            {"tests/test.py": UNITTEST_MODULE, "tests/test_name.py": "def test_b():\n    pass\n"},
            ["tests", f"{OVERRIDE} test.py"],
        ),
        # zope.event 6.2: tests.py inside a namespace package in src/, run by zope.testrunner; the
        # whole tree is collected, so one anywhere in it counts
        (
            {"src/zope/event/tests.py": UNITTEST_MODULE, "src/zope/event/__init__.py": ""},
            [f"{OVERRIDE} tests.py"],
        ),
        # pytweening 1.2.0: the whole suite is tests/basicTests.py, run as a script (`unittest.main()`);
        # neither pytest's names nor unittest's discovery find it
        (
            {"tests/basicTests.py": SCRIPT_MODULE, "pkg/__init__.py": ""},
            ["tests", f"{OVERRIDE} basicTests.py"],
        ),
        # a script that runs no unittest (a chart generator beside the tests) is not named
        (
            {"tests/seeGraphs.py": "if __name__ == '__main__':\n    print(1)\n", "tests/test_x.py": ""},
            ["tests"],
        ),
        # a script calling `main` imported from unittest is named too
        (
            {
                "tests/runme.py": "from unittest import TestCase, main\n\nclass A(TestCase):\n    def test_a(self):\n"
                "        pass\n\nif __name__ == '__main__':\n    main()\n",
                "tests/test_x.py": "",
            },
            ["tests", f"{OVERRIDE} runme.py"],
        ),
        # simplejson 4.3.0: `simplejson/tests/__init__.py` defines a TestCase and runs the suites with a
        # `main` of its own; named, `python_files` held `__init__.py` (every package's init a test
        # module, one test plain pytest does not run); a script whose `main` is its own is not named
        (
            {
                "pkg/__init__.py": "",
                "pkg/tests/test_x.py": UNITTEST_MODULE,
                "pkg/tests/__init__.py": OWN_MAIN,
                "pkg/tests/run_all.py": OWN_MAIN,
            },
            [],
        ),
        # a test-named module that defines no test is not named
        ({"tests/testing.py": "def helper():\n    pass\n", "tests/test_x.py": ""}, ["tests"]),
        # fire 0.7.1: `testutils.py`, a TestCase of helpers and no test method, is not named either
        ({"tests/testutils.py": HELPERS_ONLY, "tests/test_x.py": ""}, ["tests"]),
        # a TestCase whose tests come from a base of the module, or from one imported (a mixin), is
        (
            {"tests/testmore.py": HELPERS_ONLY + INHERITS, "tests/test_x.py": ""},
            ["tests", f"{OVERRIDE} testmore.py"],
        ),
        ({"tests/testmix.py": MIXIN, "tests/test_x.py": ""}, ["tests", f"{OVERRIDE} testmix.py"]),
        # the project chose its file names: kept as they are
        ({"tests.py": UNITTEST_MODULE, "pytest.ini": "[pytest]\npython_files = check_*.py\n"}, []),
    ],
)
def test_modules_only_unittest_would_find_are_collected(
    tmp_path: Path, files: dict[str, str], args: list[str]
) -> None:
    found = detect_tests(write(tmp_path, files))
    assert found.args == args
    missed = [rel for rel in files if rel.rpartition("/")[2] in MISSED and args]
    assert {tmp_path / m for m in missed} <= set(found.test_files)
    assert all(m in found.source for m in missed)


def test_tox_substitutions_name_the_paths(tmp_path: Path) -> None:
    """hyperlink 21.0.0: the path is `{posargs:src/{env:PY_MODULE}}`, PY_MODULE set in the `setenv` of
    another section; unread, pytest collected the whole tree with --doctest-modules (docs/conf.py too)."""
    write(tmp_path, {
        "tox.ini": """
            [default]
            setenv =
                PY_MODULE=pkg
            [testenv]
            setenv =
                {[default]setenv}
                py27: OLD=1
                COVERAGE_FILE={toxworkdir}/coverage
            commands =
                pytest --cov={env:PY_MODULE} --doctest-modules {posargs:src/{env:PY_MODULE}} {env:EXTRA:tests}
        """,
        "src/pkg/__init__.py": "",
        "tests/test_a.py": "",
        "docs/conf.py": "import sphinx_theme\n",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.args == ["--doctest-modules", "src/pkg", "tests"], found.source
    assert "{env:" not in found.source.partition("left out")[2]


def test_a_unittest_script_is_run_by_the_detected_command(tmp_path: Path) -> None:
    """pytweening 1.2.0: `pytest tests` collected nothing from tests/basicTests.py (exit 5, the build
    failed); the detected arguments run its tests through pytest itself."""
    write(tmp_path, {"tests/basicTests.py": SCRIPT_MODULE, "tests/seeGraphs.py": "import openpyxl\n"})
    args = detect_tests(tmp_path).args
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def test_doctest_options_in_the_config_collect_the_whole_tree(tmp_path: Path) -> None:
    """parse 1.22.4: no test command, no testpaths, and addopts `--doctest-modules
    --doctest-glob=README.rst`; `pytest tests` left out the README's and the module's doctests (109 of
    its 111 tests). Plain `pytest` collects the whole tree, and so does the detected command."""
    write(tmp_path, {
        "pyproject.toml": """
            [tool.pytest.ini_options]
            addopts = "--doctest-modules --doctest-glob=README.rst"
        """,
        "README.rst": "Usage::\n\n    >>> from parselib import half\n    >>> half(4)\n    2.0\n",
        "parselib.py": '"""\n>>> half(2)\n1.0\n"""\n\n\ndef half(x):\n    return x / 2\n',
        "tests/test_half.py": "from parselib import half\n\n\ndef test_half():\n    assert half(1) == 0.5\n",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.args == [] and "whole tree" in found.source
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *found.args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "3 passed" in run.stdout, run.stdout + run.stderr


def test_the_hidden_pytest_ini_is_read(tmp_path: Path) -> None:
    """semver 3.2.0 configures pytest in `.pytest.ini` only (which pytest reads after pytest.ini): its
    addopts' plugins (`--cov`) were not seen."""
    write(tmp_path, {
        ".pytest.ini": "[pytest]\ntestpaths = tests docs\naddopts = --cov=semverlib --doctest-glob='*.rst'\n",
        "tests/test_a.py": "def test_a():\n    pass\n",
        "docs/usage.rst": ">>> 1\n1\n",
    })  # fmt: skip
    found = detect_tests(tmp_path)
    assert found.config == ".pytest.ini" and "testpaths in .pytest.ini" in found.source
    assert any(req.startswith("pytest-cov") for req, _ in found.plugins), found.plugins
