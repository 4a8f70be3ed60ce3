"""The plain side of bench/envbuild.py runs the project's own pytest command (`bench/envcommand.py`): tox's
with all its arguments, else the paths and suite-deciding options of nox's test session, a test script,
the Makefile's test target or a CI job. Fixture projects shaped like the libraries that showed the rule
was needed, then the rule run through a real pytest on one of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from envcommand import plain_pytest_args, pytest_words


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


REFERENCING_NOXFILE = """\
from pathlib import Path
import nox

ROOT = Path(__file__).parent
PYPROJECT = ROOT / "pyproject.toml"
REFERENCING = ROOT / "referencing"
REQUIREMENTS = dict(tests=ROOT / "test-requirements.txt")


@nox.session(python=["3.11", "3.12"])
def tests(session):
    session.install("-r", REQUIREMENTS["tests"])
    if session.posargs and session.posargs[0] == "coverage":
        session.run("coverage", "run", "-m", "pytest", REFERENCING)
    else:
        session.run("pytest", *session.posargs, REFERENCING)


@nox.session
def style(session):
    session.run("ruff", "check", ROOT)
"""


def referencing_like(root: Path) -> Path:
    """referencing 0.37.0: its noxfile runs `pytest referencing`; `suite/` is a vendored project of its own
    whose `test_sanity.py` needs jsonschema, which the project's tests never install."""
    return write(
        root,
        {
            "noxfile.py": REFERENCING_NOXFILE,
            "referencing/__init__.py": "",
            "referencing/tests/__init__.py": "",
            "referencing/tests/test_core.py": "def test_one():\n    assert True\n",
            "suite/test_sanity.py": "import not_installed_anywhere\n\ndef test_sanity():\n    pass\n",
        },
    )


def test_the_plain_side_takes_the_paths_of_the_noxfiles_test_session(tmp_path: Path) -> None:
    root = referencing_like(tmp_path)
    args, where = plain_pytest_args(root, "3.11")
    assert args == ["referencing"]
    assert where.startswith("noxfile.py test session: pytest")


def test_the_maintainers_paths_keep_a_vendored_project_out_of_the_plain_run(tmp_path: Path) -> None:
    """Through a real pytest: with the command's paths the vendored suite's module is not collected (it
    errors when it is, as referencing's plain run did), and the project's own test runs."""
    root = referencing_like(tmp_path)
    args, _ = plain_pytest_args(root, "3.11")
    base = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--continue-on-collection-errors"]
    bare = subprocess.run(base, cwd=root, capture_output=True, text=True, timeout=120)
    own = subprocess.run([*base, *args], cwd=root, capture_output=True, text=True, timeout=120)
    assert "suite/test_sanity.py" in bare.stdout and "1 error" in bare.stdout
    assert "suite/test_sanity.py" not in own.stdout and own.returncode == 0 and "1 passed" in own.stdout


def test_tox_decides_first_and_runs_with_all_its_arguments(tmp_path: Path) -> None:
    """requests-toolbelt: tox's `-W error::DeprecationWarning` is kept; a tox pytest command with no
    arguments still decides (pyjwt, zipp), so the noxfile beside it is not read."""
    root = referencing_like(tmp_path)
    write(root, {"tox.ini": "[tox]\nenvlist = py311\n[testenv]\ncommands = pytest -v -W error {posargs}\n"})
    assert plain_pytest_args(root, "3.11") == (["-v", "-W", "error"], "tox.ini")
    write(root, {"tox.ini": "[tox]\nenvlist = py311\n[testenv]\ncommands = pytest {posargs}\n"})
    assert plain_pytest_args(root, "3.11") == ([], "tox.ini")
    write(root, {"tox.ini": "[tox]\nenvlist = py311\n[testenv]\ncommands = python -m unittest\n"})
    assert plain_pytest_args(root, "3.11")[0] == ["referencing"]  # tox runs no pytest: nox decides


def test_output_speed_and_coverage_options_of_other_sources_are_left_out(tmp_path: Path) -> None:
    """pydantic's Makefile `pytest --durations=10 --parallel-threads $(NUM_THREADS)`: nothing that decides
    the suite (the Make variable gone, `--parallel-threads`' plugin not the plain install's business);
    jsonschema-specifications' nox `--verbosity=3 --pythonwarnings=error`: the warning filter stays."""
    write(
        tmp_path,
        {
            "Makefile": "NUM_THREADS ?= 1\n.PHONY: test\ntest:\n\t@uv run pytest --durations=10 "
            "--parallel-threads $(NUM_THREADS)\n\nlint:\n\tpytest tests/lint\n",
            "tests/test_a.py": "def test_a():\n    pass\n",
        },
    )
    assert plain_pytest_args(tmp_path, "3.11") == (
        [],
        "Makefile test target: pytest --durations=10 --parallel-threads",
    )
    write(
        tmp_path, {"Makefile": "test:\n\tpytest -n auto --cov=pkg -k 'not slow' --ignore=tests/big tests\n"}
    )
    assert plain_pytest_args(tmp_path, "3.11")[0] == ["-knot slow", "--ignore=tests/big", "tests"]
    (tmp_path / "Makefile").unlink()
    write(
        tmp_path,
        {"noxfile.py": "import nox\n@nox.session\ndef test(session):\n"
         "    session.run('pytest', '--verbosity=3', '--pythonwarnings=error', *session.posargs)\n"},
    )  # fmt: skip
    assert plain_pytest_args(tmp_path, "3.11")[0] == ["--pythonwarnings=error"]


def test_ci_and_script_commands_are_read_when_nothing_before_them_runs_pytest(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: |\n          pip install .\n"
            "          python -m pytest tests/unit -x\n",
            "tests/unit/test_a.py": "def test_a():\n    pass\n",
        },
    )
    assert plain_pytest_args(tmp_path, "3.11") == (["tests/unit"], "CI workflow: pytest tests/unit -x")
    write(tmp_path, {"pyproject.toml": "[tool.hatch.envs.default.scripts]\ntests = 'pytest tests/unit -q'\n"})
    assert plain_pytest_args(tmp_path, "3.11")[1] == "pyproject.toml test script: pytest tests/unit -q"
    (tmp_path / ".github/workflows/ci.yml").unlink()
    (tmp_path / "pyproject.toml").unlink()
    assert plain_pytest_args(tmp_path, "3.11") == ([], "")  # no command anywhere: pytest's own defaults


def test_pytest_words_end_at_the_shell() -> None:
    assert pytest_words("coverage run -m pytest tests -x && coverage report") == ["tests", "-x"]
    assert pytest_words(".venv/bin/py.test -q | tee out") == ["-q"]
    assert pytest_words("python -m unittest discover") is None


def test_a_project_that_builds_compiled_extensions_is_installed_editable(tmp_path: Path) -> None:
    """regex (flat layout) and greenlet (tests inside `src/greenlet`): pytest in the source tree imports
    the tree's package, which only an editable install completes with its compiled modules; their plain
    runs stopped at `cannot import name '_regex'` / `No module named 'greenlet._greenlet'`."""
    from envplain import builds_extensions

    write(tmp_path, {"setup.py": "from setuptools import setup\nsetup(name='x')\n", "x/__init__.py": ""})
    assert builds_extensions(tmp_path) == ""  # pure Python: installed as before
    write(tmp_path, {"setup.py": "from setuptools import Extension, setup\n"
                     "setup(ext_modules=[Extension('x._x', ['x/_x.c'])])\n"})  # fmt: skip
    assert builds_extensions(tmp_path) == "setup.py ext_modules"
    (tmp_path / "setup.py").unlink()
    write(
        tmp_path,
        {"pyproject.toml": "[tool.setuptools]\next-modules = [{name = 'x._x', sources = ['x.c']}]\n"},
    )
    assert builds_extensions(tmp_path) == "pyproject.toml [tool.setuptools] ext-modules"
    write(tmp_path, {"pyproject.toml": "[build-system]\nbuild-backend = 'mesonpy'\n"})
    assert builds_extensions(tmp_path) == "build backend mesonpy"
    write(tmp_path, {"pyproject.toml": "[build-system]\nbuild-backend = 'hatchling.build'\n"})
    assert builds_extensions(tmp_path) == ""
