"""The plain side of bench/envbuild.py follows the project's own test setup (`bench/envplain.py`,
`bench/envdeclared.py`): nox's test session, the CI job that runs pytest, the Makefile's test target, the
dev tool's default groups, `tests_require`, and the plugins its own addopts load when its files declare
them. Fixture projects shaped like the libraries whose plain run stopped before any test."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from envcompare import plain_counts
from envdeclared import install_words, poetry_requirement
from envplain import plain_targets


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


MULTIDICT_MAKEFILE = """\
.install-deps: $(shell find requirements -type f)
\tpip install -Ur requirements/dev.txt
\t@touch .install-deps

lint:
\tpip install ruff

.develop: .install-deps $(shell find multidict -type f)
\tpip install -e .

test: .develop
\t@pytest -q
"""


def test_the_makefile_test_target_and_what_it_depends_on_install_their_requirement_files(
    tmp_path: Path,
) -> None:
    """multidict 7.2.1: addopts load `-p pytest_cov`; `make test` -> .develop -> .install-deps installs
    requirements/dev.txt, which includes ci.txt (the project itself, then pytest.txt: pytest-cov)."""
    write(tmp_path, {
        "Makefile": MULTIDICT_MAKEFILE,
        "requirements/dev.txt": "-r ci.txt\n-r towncrier.txt\n",
        "requirements/ci.txt": "-e .\n-r pytest.txt\n",
        "requirements/pytest.txt": "pytest==9.1.1\npytest-cov==7.1.0\n",
        "requirements/towncrier.txt": "towncrier==25.8.0\n",
        "requirements/lint.txt": "-r ci.txt\n",
        "pytest.ini": "[pytest]\naddopts =\n  # a comment\n  -p pytest_cov\n  --cov\n",
    })  # fmt: skip
    assert plain_targets(tmp_path, "3.11") == (
        [],
        [],
        ["pytest==9.1.1", "pytest-cov==7.1.0", "towncrier==25.8.0"],
        "Makefile",
    )  # ruff, in the lint target, is not installed; pytest-cov is there already


def test_a_uv_project_installs_its_default_groups_and_addopts_plugins_only_where_declared(
    tmp_path: Path,
) -> None:
    """pydantic 2.14.3: `make test` is `uv run pytest`, which syncs uv's default groups (`dev`: the
    pytest-benchmark its addopts need); aiohappyeyeballs 2.7.1: poetry installs its non-optional groups."""
    write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'p'\n[dependency-groups]\ndev = ['pytest-benchmark']\n"
        "docs = ['mkdocs']\n[tool.uv]\ndefault-groups = ['dev']\n"
        "[tool.pytest]\naddopts = ['--benchmark-disable', '-p', 'no:cacheprovider']\n",
        "Makefile": "test: .uv\n\tuv run coverage run -m pytest --durations=10\n",
    })  # fmt: skip
    assert plain_targets(tmp_path, "3.11") == ([], ["dev"], [], "Makefile")  # the plugin is in `dev`
    (tmp_path / "Makefile").unlink()
    assert plain_targets(tmp_path, "3.11") == ([], ["dev"], [], "dev tool defaults (uv/poetry/pdm)")

    write(tmp_path, {
        "pyproject.toml": "[project]\nname = 'a'\n[tool.poetry.group.dev.dependencies]\npytest = '^8.1'\n"
        "pytest-asyncio = {version = '~0.23.1'}\n[tool.poetry.group.docs]\noptional = true\n"
        "[tool.poetry.group.docs.dependencies]\nsphinx = '>=8'\n"
        "[tool.pytest.ini_options]\naddopts = '-v --cov=a --cov-report=term-missing -n auto'\n",
        "ci/requirements.txt": "pytest-cov\n",
    })  # fmt: skip
    assert plain_targets(tmp_path, "3.11") == (
        [],
        [],
        ["pytest>=8.1,<9", "pytest-asyncio>=0.23.1,<0.24", "pytest-cov"],
        "dev tool defaults (uv/poetry/pdm), addopts' pytest-cov (named in ci/requirements.txt)",
    )  # `-n auto` wants pytest-xdist, which no file of the project names: not installed
    assert poetry_requirement("x", "^0.2.3") == "x>=0.2.3,<0.3"
    assert poetry_requirement("x", "1.2") == "x==1.2"
    assert poetry_requirement("x", {"version": "*"}) == "x"


WORKFLOW = """\
on: push
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - run: pip install ruff && ruff check .
  tests:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: |
          python -m pip install -U pip
          python -m pip install -r requirements/ci.txt \\
            -e ".[test,${{ matrix.extra }}]" --index-url https://example.org/simple
      - run: uv sync --group testing --all-extras
      - run: pytest -q
"""


def test_the_ci_job_that_runs_pytest_installs_what_its_steps_install(tmp_path: Path) -> None:
    """pydantic-settings 2.16.3: CI's test job runs `uv sync --group testing --all-extras`; a lint job's
    installs are not the tests'; a CI expression (`${{ matrix.extra }}`) is dropped, not installed."""
    write(tmp_path, {
        ".github/workflows/ci.yml": WORKFLOW,
        "requirements/ci.txt": "trustme==1.2.1\n-c constraints.txt\n",
        "requirements/constraints.txt": "idna<4\n",
        "pyproject.toml": "[project]\nname = 's'\n[project.optional-dependencies]\nyaml = ['pyyaml']\n"
        "toml = ['tomli']\n[dependency-groups]\ntesting = ['pytest']\n",
    })  # fmt: skip
    constraints = str(tmp_path / "requirements" / "constraints.txt")
    assert plain_targets(tmp_path, "3.11") == (
        ["test", "yaml", "toml"], ["testing"], ["trustme==1.2.1", "-c", constraints],
        "CI workflow job running pytest",
    )  # fmt: skip
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = py311\n[testenv]\ndeps = pytest-xdist\n")
    assert plain_targets(tmp_path, "3.11")[2:] == (["pytest-xdist"], "tox env py311")  # tox's env first


def test_nox_test_sessions_are_read_unless_an_argument_is_computed(tmp_path: Path) -> None:
    """charset-normalizer 3.5.2: nox's `test` session installs a requirements file; referencing 0.37.0's
    names it through a variable, so the session is not read and its test-requirements.txt is."""
    write(tmp_path, {
        "noxfile.py": "import nox\n@nox.session\ndef lint(session):\n    session.install('ruff')\n"
        "@nox.session(python=['3.11'])\ndef test(session):\n"
        "    session.install('-r', 'requirements/test.txt', 'pytest-xdist')\n    session.install('.[cli]')\n",
        "requirements/test.txt": "pytest==9.0.3\n",
        "test-requirements.txt": "curio\n",
    })  # fmt: skip
    assert plain_targets(tmp_path, "3.11") == (
        ["cli"], [], ["pytest==9.0.3", "pytest-xdist"], "noxfile.py test session",
    )  # fmt: skip
    (tmp_path / "noxfile.py").write_text(
        "REQS = {'tests': 'x.txt'}\ndef tests(session):\n    session.install('-r', REQS['tests'])\n"
    )
    assert plain_targets(tmp_path, "3.11") == ([], [], ["curio"], "test-requirements.txt")


def test_tests_require_and_dev_named_requirement_files_come_last(tmp_path: Path) -> None:
    """requests-oauthlib 2.0.0 declares requests-mock, which its tests import, only in `tests_require`;
    a requirements file named for development is read before it, one named for tests before that."""
    write(tmp_path, {
        "setup.py": "from setuptools import setup\nsetup(name='r', tests_require=['mock;python_version<\"3.3\"',"
        " 'requests-mock'])\n",
        "requirements.txt": "requests==2.31.0\n",
    })  # fmt: skip
    assert plain_targets(tmp_path, "3.11") == (
        [], [], ['mock;python_version<"3.3"', "requests-mock"], "tests_require",
    )  # fmt: skip
    (tmp_path / "requirements-dev.txt").write_text("pytest-mock\n")
    assert plain_targets(tmp_path, "3.11")[2:] == (["pytest-mock"], "requirements-dev.txt")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "test-base.txt").write_text("freezegun\n")
    assert plain_targets(tmp_path, "3.11")[2:] == (["freezegun"], "requirements/test-base.txt")


def test_install_words_read_as_pip_reads_them(tmp_path: Path) -> None:
    (tmp_path / "r.txt").write_text("a\n")
    words = ["-Ur", "r.txt", "-e", ".[x, y]", "--extra-index-url", "https://x", "git+https://g/p.git", "b>=1"]
    targets = install_words(words, tmp_path)
    assert (targets.extras, targets.groups, targets.deps) == (["x", "y"], [], ["a", "b>=1"])
    (tmp_path / "c.txt").write_text("idna<4\n")
    targets = install_words(["-rr.txt", "--constraint=c.txt", "-rmissing.txt"], tmp_path)
    assert targets.deps == ["a", "-c", str(tmp_path / "c.txt")]  # `-rr.txt` is r.txt, not `-rr` + `.txt`


def test_a_sugar_or_pretty_results_block_is_read_as_the_summary() -> None:
    """pytest-sugar and pytest-pretty (which a project's own dev deps may install) print a `Results`
    block where pytest prints its summary line."""
    out = "tests/test_a.py ✓✓✓\nResults (0.52s):\n      62 passed\n       1 failed\n       3 skipped\n"
    counts, _ = plain_counts(out)
    assert (counts["passed"], counts["failed"], counts["skipped"], counts["summary_found"]) == (62, 1, 3, 1)
    assert plain_counts("Results (0.5s):\nsomething else\n")[0]["summary_found"] == 0


def test_tox_4_toml_is_read_like_tox_ini_and_uv_skips_a_group_not_for_this_python(tmp_path: Path) -> None:
    """platformdirs 4.14.5: tox.toml's env `3.11` installs the `test` group; its uv `dev` group is for
    Python >= 3.15 only (sphinx>=9.1 in it: pip found no match on 3.11), so uv would not install it here."""
    write(tmp_path, {
        "tox.toml": 'env_list = ["3.15", "3.11", "docs"]\n[env_run_base]\ndependency_groups = ["test"]\n'
        'deps = ["pytest-mock", { replace = "env", name = "X" }]\n[env.docs]\ndeps = ["sphinx"]\n',
        "pyproject.toml": "[project]\nname = 'p'\n[dependency-groups]\ntest = ['pytest']\ndev = ['sphinx>=9.1']\n"
        "[tool.uv]\ndependency-groups.dev = { requires-python = '>=3.15' }\n",
    })  # fmt: skip
    assert plain_targets(tmp_path, "3.11") == ([], ["test"], ["pytest-mock"], "tox env 3.11")
    (tmp_path / "tox.toml").unlink()
    assert plain_targets(tmp_path, "3.11") == ([], ["test"], [], "")  # the test group alone, not dev
    pyproject = (tmp_path / "pyproject.toml").read_text()
    (tmp_path / "pyproject.toml").write_text(
        pyproject + '[tool.tox]\nlegacy_tox_ini = """\n[tox]\nenvlist = py311\n[testenv]\nextras = cli\n"""\n'
    )
    assert plain_targets(tmp_path, "3.11") == (["cli"], ["test"], [], "tox env py311")
