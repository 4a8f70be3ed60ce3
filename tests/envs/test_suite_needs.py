"""What a suite needs that its declared test deps leave out, found in the project's own files (the
classes behind rows of bench/envbuild.py that did not reproduce): a warning filter naming a module
(httpx: `trio.MultiError`), a helper module of the tests importing a test library (httpx's
tests/concurrency.py: trio), requirements named for the runner (multidict: requirements/pytest.txt)
holding a plugin the tests import that looks like tooling (pytest-codspeed), and a suite importing its
own `tests` package that the sdist ships without `__init__.py` (jmespath), a setup.py test extra built
by unpacking other lists (google-auth: `[*grpc_extra_require, "flask", ...]`), tests marked for a
plugin nothing declares (google-api-core: `@pytest.mark.asyncio`, under `filterwarnings = error`).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from codekiln.envs import Profile, build_env, make_recipe
from codekiln.envs.plugins import filter_modules
from codekiln.envs.setuppy import setup_py_requires
from codekiln.envs.steps import Builder
from codekiln.grading import TestRun
from codekiln.repos import ensure_snapshot
from codekiln.testing import write_files
from codekiln.testing.index import LocalIndex, wheel_of_installed, write_wheel

CRASHES_ON_FAILURE = (
    "def pytest_runtest_logreport(report):\n    if report.failed:\n"
    "        raise RuntimeError('cannot render this failure')\n"
)
BUILD = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
PYPROJECT = '[project]\nname = "proj"\nversion = "0.1"\n'


def test_filter_modules_are_the_categories_modules_not_pythons_pytests_or_the_projects() -> None:
    settings: dict[str, str | list[str]] = {
        "filterwarnings": [
            "error",
            "ignore: trio.MultiError is deprecated since Trio 0.22.0:trio.TrioDeprecationWarning",
            "ignore::DeprecationWarning",
            "ignore::pytest.PytestUnraisableExceptionWarning",
            "ignore:x:asyncio.exceptions.SomeWarning",
            "ignore::proj.ProjWarning",
            "ignore::yaml.YAMLLoadWarning:yaml.loader",  # the module field is a regex, not imported
            "ignore::trio.OtherWarning",
        ]
    }
    assert filter_modules(settings, {"proj"}) == [
        ("trio", "filterwarnings names trio.TrioDeprecationWarning"),
        ("PyYAML", "filterwarnings names yaml.YAMLLoadWarning"),  # the distribution of a known import
    ]
    ini = {"filterwarnings": "\n  error\n  ignore::hypothesis.errors.NonInteractiveExampleWarning\n"}
    assert filter_modules(ini, set()) == [
        ("hypothesis", "filterwarnings names hypothesis.errors.NonInteractiveExampleWarning")
    ]


def test_the_helpers_the_tests_import_are_read_for_imports_scripts_and_package_modules_are_not(
    tmp_path: Path,
) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "pyproject.toml": PYPROJECT + '[tool.pytest.ini_options]\ntestpaths = ["tests", "proj"]\n',
            "proj/__init__.py": "",
            "proj/optional.py": "import numpy\n",  # the package's own optional import
            "proj/test_inline.py": "def test_x():\n    pass\n",
            "tests/concurrency.py": "from . import loops\n",  # imported by the tests, not collected
            "tests/loops.py": "import trio\n",  # imported by that helper
            "tests/fuzz_validate.py": "import freezegun\n",  # a script no test imports
            "tests/test_a.py": "from tests.concurrency import trio\n\n\ndef test_a():\n    pass\n",
        },
    )
    recipe = make_recipe(ensure_snapshot(str(root)), Profile())
    assert recipe.dep_sources.get("trio") == "imported by the tests (trio)"
    assert not any(d.startswith(("numpy", "freezegun")) for d in recipe.deps)


def test_requirements_named_for_pytest_and_a_tooling_plugin_the_tests_import(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "pyproject.toml": PYPROJECT,
            "proj/__init__.py": "",
            "requirements/pytest.txt": "pytest==9.1.1\npytest-codspeed==5.0.3\npytest-cov==7.1.0\nruff\n",
            "requirements/dev.txt": "-r pytest.txt\npyenchant==3.3.0\n",
            "tests/test_bench.py": "from pytest_codspeed import BenchmarkFixture\n\n\ndef test_b():\n    pass\n",
        },
    )
    recipe = make_recipe(ensure_snapshot(str(root)), Profile())
    assert recipe.dep_sources["pytest-codspeed==5.0.3"] == "requirements/pytest.txt"
    assert "pytest-cov==7.1.0" in recipe.deps and recipe.required == ["pytest==9.1.1"]
    assert recipe.dropped["ruff"] == "tooling (requirements/pytest.txt)"  # not imported: still dropped
    assert not any(d.startswith("pyenchant") for d in recipe.deps)  # the dev file is not read


def test_a_plugins_marker_in_the_tests_installs_the_plugin_unless_the_config_registers_it(
    tmp_path: Path,
) -> None:
    root = write_files(
        tmp_path / "proj",
        {
            "pyproject.toml": PYPROJECT + "[tool.pytest.ini_options]\nfilterwarnings = ['error']\n"
            "markers = ['trio: our own marker, no plugin']\n",
            "tests/test_async.py": "import pytest\n\n\n@pytest.mark.asyncio\nasync def test_a():\n    pass\n",
            "tests/test_more.py": "from pytest import mark\n\n\n@mark.trio\n@mark.timeout(5)\ndef test_b():\n"
            "    pass\n\n\n@mark.parametrize('x', [1])\ndef test_c(x):\n    pass\n",
        },
    )
    recipe = make_recipe(ensure_snapshot(str(root)), Profile())
    assert recipe.dep_sources["pytest-asyncio"] == (
        "pytest needs it (tests use the marker asyncio (test_async.py))"
    )
    assert recipe.dep_sources["pytest-timeout"].endswith("(tests use the marker timeout (test_more.py))")
    assert not any(d.startswith("pytest-trio") for d in recipe.deps)  # registered by the project


def test_a_plugins_fixture_in_the_tests_installs_the_plugin_unless_the_project_defines_it(
    tmp_path: Path,
) -> None:
    """shellingham 1.5.4: its one test takes `mocker`, and pytest-mock is declared nowhere in the sdist:
    the test errored at setup on both sides ("fixture 'mocker' not found"), a baseline of no pass."""
    root = write_files(
        tmp_path / "proj",
        {
            "pyproject.toml": PYPROJECT,
            "tests/test_a.py": "import pytest\n\n\n@pytest.mark.parametrize(['x', 'benchmark'], [(1, 2)])\n"
            "def test_a(mocker, x, benchmark):\n    pass\n\n\n"
            "@pytest.mark.usefixtures('requests_mock')\nclass TestB:\n    def test_b(self):\n        pass\n",
            "tests/conftest.py": "import pytest\n\n\n@pytest.fixture\ndef xprocess():\n    return 1\n",
            "tests/test_c.py": "def test_c(xprocess):\n    pass\n",
        },
    )
    recipe = make_recipe(ensure_snapshot(str(root)), Profile())
    assert recipe.dep_sources["pytest-mock"] == "pytest needs it (tests use the fixture mocker (test_a.py))"
    assert recipe.dep_sources["requests-mock"].endswith("(tests use the fixture requests_mock (test_a.py))")
    assert not any(d.startswith(("pytest-benchmark", "pytest-xprocess")) for d in recipe.deps)


def test_the_hatch_env_that_runs_the_tests_gives_its_dependencies_and_features(tmp_path: Path) -> None:
    """soupsieve 4.1.1: no test extra or group; beautifulsoup4, which the tests and the package itself
    import, is a dependency of the hatch env `dev` whose `tests` script runs pytest. Every module
    failed to collect on both sides."""
    hatch = (
        "[project.optional-dependencies]\nfast = ['ckfast']\n"
        "[tool.hatch.envs.default]\ndependencies = ['ckbase']\n"
        "[tool.hatch.envs.docs]\ndependencies = ['ckdocs']\n[tool.hatch.envs.docs.scripts]\n"
        "test-docs = 'mkdocs build'\n"
        "[tool.hatch.envs.dev]\ndependencies = ['pytest', 'ruff', 'beautifulsoup4']\nfeatures = ['fast']\n"
        "[tool.hatch.envs.dev.scripts]\ntests = 'pytest --cov proj tests'\nlint = 'ruff check .'\n"
    )
    root = write_files(
        tmp_path / "proj",
        {"pyproject.toml": PYPROJECT + hatch, "tests/test_a.py": "def test_a():\n    pass\n"},
    )
    recipe = make_recipe(ensure_snapshot(str(root)), Profile())
    assert recipe.dep_sources["beautifulsoup4"] == "pyproject [tool.hatch.envs.dev]"
    assert recipe.dep_sources["ckbase"] == "pyproject [tool.hatch.envs.dev]"  # default's, inherited
    assert "fast" in recipe.extras
    assert not any(d.startswith(("ruff", "ckdocs")) for d in recipe.deps)


def test_a_module_the_tests_import_comes_from_the_extra_that_declares_its_distribution(
    tmp_path: Path,
) -> None:
    """oauthlib 4.0.1: the tests `import jwt`, which its `signedtoken` extra declares as `pyjwt` (no test
    extra): both sides stopped at collection, and the hint said `extra_deps: [jwt]` (another project).
    PyJWT alone left 22 RSA tests failing: the extra also has the cryptography that oauthlib uses."""
    setup = (
        "from setuptools import setup\n\nsigned = ['cryptography>=3.0.0', 'pyjwt>=2.0.0,<3']\n"
        "setup(name='proj', extras_require={'signedtoken': signed, 'signals': ['blinker']})\n"
    )
    root = write_files(
        tmp_path / "proj",
        {
            "setup.py": setup,
            "tests/test_a.py": "import jwt\n\ntry:\n    import blinker\nexcept ImportError:\n    blinker = None\n"
            "\n\ndef test_a():\n    import cryptography\n",
        },
    )
    recipe = make_recipe(ensure_snapshot(str(root)), Profile())
    assert recipe.extras == ["signedtoken"]  # the whole extra: PyJWT and the cryptography it needs
    assert recipe.dep_sources[".[signedtoken]"] == (
        "setup.py extras_require signedtoken (imported by the tests: cryptography)"
    )  # the first module (sorted) that it provides
    assert not any(d.startswith(("pyjwt", "blinker")) for d in recipe.deps)  # `try: import blinker`


def test_a_module_the_tests_importorskip_comes_from_the_extra_that_declares_it(tmp_path: Path) -> None:
    """testfixtures 12.4.0: its YAML and TOML helpers are tested behind `pytest.importorskip('yaml')` and
    `('tomlkit')`, offered as its `yaml` and `toml` extras, which its own setup installs (`uv sync
    --all-extras`); the build left both out, and 46 tests were skipped that the project's run passes.
    An importorskip of a module no extra declares (a platform's) still installs nothing."""
    pyproject = PYPROJECT + (
        '[project.optional-dependencies]\nyaml = ["pyyaml>=6"]\ntoml = ["tomlkit"]\nfast = ["ckfast"]\n'
    )
    root = write_files(
        tmp_path / "proj",
        {
            "pyproject.toml": pyproject,
            "tests/test_a.py": "import pytest\n\n\ndef test_yaml():\n    yaml = pytest.importorskip('yaml')\n"
            "\n\ndef test_winreg():\n    pytest.importorskip('winreg')\n",
            "tests/test_b.py": "from pytest import importorskip\n\ntomlkit = importorskip('tomlkit')\n",
        },
    )
    recipe = make_recipe(ensure_snapshot(str(root)), Profile())
    assert recipe.extras == ["toml", "yaml"]
    assert recipe.dep_sources[".[yaml]"] == (
        "pyproject [project.optional-dependencies] yaml (the tests importorskip it: yaml)"
    )
    assert not any(d.startswith("ckfast") for d in recipe.deps)


def test_a_setup_py_extra_that_unpacks_named_lists_is_read(tmp_path: Path) -> None:
    """google-auth 2.62.2: its `testing` extra was lost whole (so were pyu2f, pytest-asyncio, ...), and
    the build failed at collection where the plain run of `.[testing]` passed 2039 tests."""
    root = write_files(
        tmp_path / "proj",
        {
            "setup.py": "from setuptools import setup\n"
            "base = ['cryptography >= 38.0.3']\nreauth = ['pyu2f>=0.1.5']\n"
            "testing = [*base, 'flask', *reauth, 'pytest-asyncio']\n"
            "setup(name='proj', extras_require={'testing': testing, 'rsa': [], 'odd': compute()})\n",
        },
    )
    assert setup_py_requires(root) == {
        "testing": ["cryptography >= 38.0.3", "flask", "pyu2f>=0.1.5", "pytest-asyncio"],
        "rsa": [],
    }  # the computed extra is left out, the literal ones beside it kept


@pytest.mark.parametrize(
    ("files", "hint", "line"),
    [
        (  # jmespath's sdist: tests/test_*.py import `tests`, whose __init__.py it leaves out
            {"tests/test_h.py": "from tests import helper\n\n\ndef test_h():\n    pass\n"},
            "the tests import tests: tests is the project's own test directory, which is no package here "
            "(its __init__.py is missing",
            "",
        ),
        (  # httpx: a filter on trio's warning, trio not installed
            {
                "pyproject.toml": PYPROJECT + '[tool.pytest.ini_options]\nfilterwarnings = ["error", '
                '"ignore::cknowarn.CkWarning"]\n',
                "tests/test_a.py": "def test_a():\n    pass\n",
            },
            "a filterwarnings entry of the pytest config names a warning of cknowarn, which is not installed",
            "extra_deps: [cknowarn]",
        ),
        (  # opentelemetry-sdk: `opentelemetry.test` comes from opentelemetry-test-utils, not opentelemetry
            {"tests/test_sub.py": "from json.testutil import x\n\n\ndef test_s():\n    pass\n"},
            "the tests import json.testutil: json is installed but has no module testutil, so another "
            "distribution provides it",
            "",
        ),
        (  # pydantic-settings: pytest cannot render a doc example's failure on CPython 3.11.7
            {"tests/conftest.py": CRASHES_ON_FAILURE, "tests/test_a.py": "def test_a():\n    assert 0\n"},
            "pytest stopped with an internal error (exit code 3): RuntimeError: cannot render this "
            "failure (raised in ",
            "",
        ),
        (  # google-api-core: pytest-asyncio warns at start-up, `filterwarnings = error` makes it fatal
            {
                "pyproject.toml": PYPROJECT + '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n',
                "tests/conftest.py": "import warnings\n\n\ndef pytest_configure(config):\n"
                "    warnings.warn(DeprecationWarning('option x is unset'))\n",
                "tests/test_a.py": "def test_a():\n    pass\n",
            },
            "a warning that the pytest config's `filterwarnings = error` makes an error stopped pytest",
            "",
        ),
        (  # oauthlib: `import jwt` is PyJWT; PyPI's `jwt` is another project
            {"tests/test_j.py": "import jose\n\n\ndef test_j():\n    pass\n"},
            "the tests import jose: jose (distribution python-jose) is not installed",
            "extra_deps: [python-jose]",
        ),
    ],
    ids=[
        "tests-package-missing",
        "filter-module-missing",
        "submodule-missing",
        "pytest-crashes",
        "warning-at-start-up",
        "import-name",
    ],
)
def test_the_hint_of_a_suite_that_stops_before_its_tests_names_the_fix(
    tmp_path: Path, files: dict[str, str], hint: str, line: str
) -> None:
    """Read from real pytest runs (in this venv, the project's directory not on sys.path, as in a
    sandbox): a suite importing its own `tests` package gets no `extra_deps: [tests]` (PyPI's `tests`
    is another project), a filter on a missing module names that module."""
    root = write_files(tmp_path / "proj", {"pyproject.toml": PYPROJECT, "proj/__init__.py": "", **files})
    res = subprocess.run(
        [sys.executable, "-P", "-m", "pytest", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    run = TestRun(exit_code=res.returncode, error="no test ran", log_tail=res.stdout + res.stderr)
    run.log_tail_full = run.log_tail
    (tmp_path / "scratch").mkdir()
    builder = Builder(make_recipe(ensure_snapshot(str(root)), Profile()), tmp_path / "scratch")
    err = builder._baseline_failure(run)
    assert hint in (err.hint or ""), run.log_tail
    assert err.data.get("profile_line", "") == line


WARNS = "import importlib\nimport warnings\n\n\ndef test_warns():\n    warnings.warn(importlib.import_module('ckwarn').CkWarning('x'))\n"


@pytest.mark.root  # builds environments in bwrap sandboxes, installing from an index on loopback
def test_the_module_a_warning_filter_names_is_installed_and_the_filter_applies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pytest stops at configuration when a `filterwarnings` category's module is missing (httpx's
    `trio.TrioDeprecationWarning`, trio not declared): the build installs it as a test dep, and the
    filter then ignores the warning a test raises under `error`."""
    files = tmp_path / "files"
    for dist in ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "setuptools"):
        wheel_of_installed(dist, files)
    write_wheel(files, "ckwarn", "1.0", {"ckwarn.py": "class CkWarning(UserWarning):\n    pass\n"})
    config = '[tool.pytest.ini_options]\nfilterwarnings = ["error", "ignore::ckwarn.CkWarning"]\n'
    write_files(
        tmp_path / "warnproj",
        {
            "pyproject.toml": BUILD + '[project]\nname = "warnproj"\nversion = "0.1"\n'
            '[tool.setuptools]\npy-modules = ["warnproj"]\n' + config,
            "warnproj.py": "",
            "tests/test_w.py": WARNS,
        },
    )
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    profile = tmp_path / "home" / "profiles" / "warnproj.yaml"
    profile.parent.mkdir(parents=True)
    with LocalIndex(files, None) as index:
        profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index.url}}))
        env = build_env(str(tmp_path / "warnproj"))
    assert env.recipe.dep_sources["ckwarn"] == "pytest needs it (filterwarnings names ckwarn.CkWarning)"
    assert env.baseline == {"tests/test_w.py::test_warns": "passed"}
    assert env.skipped_deps == {}
