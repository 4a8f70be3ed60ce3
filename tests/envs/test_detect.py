"""Dependency and test-command detection: unit cases on small trees, then the real sdists of the ten
libraries the environment builder must handle with zero per-repo configuration."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from codekiln.envs import Profile, detect_deps, detect_tests, env_id, make_recipe
from codekiln.envs.deps import dist_name, requirement_lines
from codekiln.envs.recipe import cached_recipe
from codekiln.repos import SnapshotRecord, add_repo


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_dist_name() -> None:
    assert dist_name("Pytest-Xdist[psutil] >= 3; python_version > '3'") == "pytest-xdist"
    assert dist_name("zope.interface") == "zope-interface"
    assert dist_name("# comment") == ""


def test_dependency_groups_follow_include_group(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": """
        [project]
        name = "demo"
        [dependency-groups]
        base = ["hypothesis"]
        tests = [{include-group = "base"}, "pytest>=8", "ruff"]
        docs = ["sphinx"]
    """})  # fmt: skip
    found = detect_deps(tmp_path, "demo")
    assert found.deps == ["hypothesis", "pytest>=8"]
    assert found.dropped == {"ruff": "tooling (pyproject [dependency-groups] tests)"}
    assert found.sources["hypothesis"] == "pyproject [dependency-groups] tests"


def test_dev_group_only_when_no_test_group(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": """
        [project]
        name = "demo"
        [project.optional-dependencies]
        dev = ["mock", "black"]
        docs = ["furo"]
    """})  # fmt: skip
    assert detect_deps(tmp_path, "demo").deps == ["mock", "pytest"]


def test_self_reference_becomes_an_extra(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": """
        [project]
        name = "Demo_Pkg"
        [project.optional-dependencies]
        test = ["demo-pkg[speedups,yaml]", "pytest"]
    """})  # fmt: skip
    found = detect_deps(tmp_path, "Demo_Pkg")
    assert (found.deps, found.extras) == (["pytest"], ["speedups", "yaml"])


def test_tox_factors_requirements_and_extras(tmp_path: Path) -> None:
    write(tmp_path, {
        "tox.ini": """
            [testenv]
            deps =
                -r{toxinidir}/requirements/tests.txt
                unit: pytest-mock
                docs: sphinx
                typing: mypy
                {[base]deps}
            extras =
                unit: speedups, yaml
                docs: docs
        """,
        "requirements/tests.txt": "-r common.txt\nfreezegun==1.5.0  # pinned\n-e .\n--index-url https://x\n",
        "requirements/common.txt": "pytest>=8 \\\n    --hash=sha256:abc\n",
    })  # fmt: skip
    found = detect_deps(tmp_path, "demo")
    assert found.deps == ["pytest>=8", "freezegun==1.5.0", "pytest-mock"]
    assert found.extras == ["speedups", "yaml"]
    assert found.sources["freezegun==1.5.0"] == "tox.ini -> requirements/tests.txt"


def test_tox_extras_substitutions_are_answered(tmp_path: Path) -> None:
    # natsort 8.4.0: `extras = {env:WITH_EXTRAS:}`, none unless the caller sets it
    write(
        tmp_path,
        {
            "tox.ini": "[testenv]\nsetenv =\n    KIND = yaml\nextras =\n    {env:WITH_EXTRAS:}\n    {env:KIND}\n"
        },
    )
    assert detect_deps(tmp_path, "demo").extras == ["yaml"]


def test_requirement_files_never_leave_the_tree(tmp_path: Path) -> None:
    outside = write(tmp_path, {"outside.txt": "evil-package\n"})
    root = write(tmp_path / "repo", {"test-requirements.txt": "-r ../outside.txt\nmock\n"})
    assert outside.exists()
    assert requirement_lines(root / "test-requirements.txt", root) == ["mock"]


def test_setup_cfg_extras_and_imported_test_libraries(tmp_path: Path) -> None:
    write(tmp_path, {
        "setup.cfg": "[options.extras_require]\ntesting =\n    pytest-cov>=2,<5\n    six\n",
        "tests/test_a.py": "import hypothesis\nfrom freezegun import freeze_time\nimport os, helpers\nfrom . import x\n",
        "tests/helpers.py": "import numpy\n",
    })  # fmt: skip
    tests = detect_tests(tmp_path)
    assert tests.args == ["tests"] and tests.source == "top-level test directories"
    found = detect_deps(tmp_path, "demo", tests.test_files)
    # helpers.py is no test module, but test_a imports it: its numpy is the suite's too
    assert found.deps == ["pytest-cov>=2,<5", "six", "freezegun", "hypothesis", "numpy", "pytest"]
    assert found.sources["hypothesis"] == "imported by the tests (hypothesis)"


# The ten libraries of the environment-building goal, from their real PyPI sdists.
LIBRARIES = {
    "toolz==1.2.0": ([], {"pytest"}, []),
    "six==1.17.0": ([], {"pytest"}, []),
    "idna==3.20": (["tests"], {"hypothesis", "pytest"}, []),
    "click==8.5.1": ([], {"pytest"}, []),
    "markupsafe==3.0.4": ([], {"pytest"}, []),
    "more-itertools==11.2.1": (["tests"], {"pytest"}, []),
    "jinja2==3.1.6": ([], {"pytest", "trio"}, []),
    "attrs==26.1.0": ([], {"hypothesis", "pympler", "cloudpickle", "pytest-xdist"}, []),
    "python-dateutil==4.0.0": (["tests", "docs"], {"freezegun", "hypothesis", "pytest-cov", "attrs"}, []),
    "pyparsing==3.3.3": (["tests", "examples/tiny/tests"], {"pytest", "matplotlib"}, ["diagrams"]),
}


@pytest.fixture(scope="module")
def snapshots() -> dict[str, SnapshotRecord]:
    return {spec: add_repo(f"pypi:{spec}") for spec in LIBRARIES}


@pytest.mark.network  # sdists from PyPI
@pytest.mark.parametrize("spec", list(LIBRARIES))
def test_real_sdists(spec: str, snapshots: dict[str, SnapshotRecord]) -> None:
    args, deps, extras = LIBRARIES[spec]
    snap = snapshots[spec]
    tests = detect_tests(Path(snap.path))
    found = detect_deps(Path(snap.path), snap.name, tests.test_files)
    assert tests.args == args
    assert deps <= {dist_name(d) for d in found.deps}
    assert found.extras == extras
    assert not {dist_name(d) for d in found.deps} & {"tox", "ruff", "mypy", "sphinx", "pre-commit", "build"}
    assert tests.test_files, "no test modules found"


def test_recipe_applies_the_profile_and_is_cached(snapshots: dict[str, SnapshotRecord]) -> None:
    snap = snapshots["toolz==1.2.0"]
    plain = cached_recipe(snap, Profile())
    assert plain == make_recipe(snap, Profile()) == cached_recipe(snap, Profile())
    assert (plain.required, plain.deps, plain.test.args) == (["pytest"], ["coverage"], [])
    assert plain.install_env == {"SETUPTOOLS_SCM_PRETEND_VERSION": "1.2.0"}  # one-commit git has no tags
    custom = Profile(name="t", extra_deps=["pytest-mock"], skip_deps=["coverage"], test_args=["toolz/tests"])
    recipe = cached_recipe(snap, custom)
    assert (recipe.required, recipe.deps, recipe.test.args) == (
        ["pytest", "pytest-mock"],
        [],
        ["toolz/tests"],
    )
    assert recipe.dropped["coverage"] == "skip_deps in profile"
    assert env_id(snap, recipe) != env_id(snap, plain)


def test_markers_are_evaluated_for_the_environments_python(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": """
        [project]
        name = "demo"
        [project.optional-dependencies]
        test = [
            "pytest>=7,<8; python_version < '3.8'",
            "pytest>=8; python_version >= '3.8'",
            "pytest-timeout>=2",
            "tomli; python_version < '3.11'",
            "demo[speedups]; python_version >= '3.9'",
        ]
    """})  # fmt: skip
    new = detect_deps(tmp_path, "demo", python_version="3.11.4")
    assert new.deps == ["pytest>=8; python_version >= '3.8'", "pytest-timeout>=2"]
    assert new.extras == ["speedups"]
    assert new.dropped["pytest>=7,<8; python_version < '3.8'"].startswith("marker false for Python 3.11.4")
    assert "tomli; python_version < '3.11'" in new.dropped
    old = detect_deps(tmp_path, "demo", python_version="3.7.9")
    assert old.mentions("pytest") == ["pytest>=7,<8; python_version < '3.8'"]
    assert "tomli; python_version < '3.11'" in old.deps and old.extras == []


def test_every_mention_is_kept_and_bare_names_add_nothing(tmp_path: Path) -> None:
    write(tmp_path, {
        "pyproject.toml": '[dependency-groups]\ntests = ["pytest", "hypothesis>=6"]\n',
        "tox.ini": "[testenv]\ndeps =\n    pytest>=8.1\n    hypothesis<7\n    hypothesis>=6\n    bad req ===\n",
    })  # fmt: skip
    found = detect_deps(tmp_path, "demo")
    assert found.deps == ["hypothesis>=6", "pytest>=8.1", "hypothesis<7"]
    assert found.sources["pytest>=8.1"] == "tox.ini [testenv] deps"
    assert found.dropped["bad req ==="].startswith("not a requirement pip reads (tox.ini [testenv] deps)")


def test_tox_python_factors_follow_the_environments_python(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": """
        [testenv]
        deps =
            py37: pytest<8
            py311,py312: pytest>=8.2
            py{38,39}: mock
            unit: freezegun
    """})  # fmt: skip
    assert detect_deps(tmp_path, "demo", python_version="3.11.2").deps == ["pytest>=8.2", "freezegun"]
    assert detect_deps(tmp_path, "demo", python_version="3.7.1").deps == ["pytest<8", "freezegun"]


def test_tox_factor_conditions_hold_when_one_alternative_does(tmp_path: Path) -> None:
    """`py{310,311,pypy3}: ipython` holds on 3.11 although one alternative names pypy (a library's
    ipython tests were skipped at collection when the whole condition was refused for it); `-` joins
    factors that must all hold, `!` negates one."""
    write(tmp_path, {"tox.ini": """
        [testenv]
        deps =
            py{310,311,312,314t,pypy3}: ipython
            pypy3: cffi
            py311-cov: pytest-cov
            py311-unit: freezegun
            !pypy3: mock
            !py311: attrs
            py{310,312}-!cov: six
    """})  # fmt: skip
    assert detect_deps(tmp_path, "demo", python_version="3.11.4").deps == [
        "ipython",
        "freezegun",
        "mock",
        "pytest",
    ]
    assert detect_deps(tmp_path, "demo", python_version="3.12.1").deps == [
        "ipython",
        "mock",
        "attrs",
        "six",
        "pytest",
    ]


def test_static_setup_py_extras(tmp_path: Path) -> None:
    write(tmp_path, {"setup.py": """
        from setuptools import setup
        TESTS = ["pytest>=8", "mock"]
        setup(
            name="demo",
            extras_require={
                "tests": TESTS + ["freezegun"],
                "tests:python_version < '3.8'": ["importlib-metadata"],
                "docs": ["sphinx"],
            },
            tests_require=["nose"],
        )
    """})  # fmt: skip
    found = detect_deps(tmp_path, "demo", python_version="3.11.0")
    assert found.deps == ["pytest>=8", "mock", "freezegun", "nose"]
    assert found.sources["freezegun"] == "setup.py extras_require tests"
    assert "importlib-metadata; python_version < '3.8'" in found.dropped
    computed = write(
        tmp_path / "computed", {"setup.py": "from setuptools import setup\nsetup(extras_require=make())\n"}
    )
    assert detect_deps(computed, "demo").deps == ["pytest"]


def test_a_test_import_declared_only_in_another_group_is_added_from_it(tmp_path: Path) -> None:
    """The test group lacks what the conftest imports; the dev group (which includes it) declares it.
    Only modules the tests import are taken, from test- or dev-named groups and extras, with the group
    named (a docs or platform group is not the test environment); another extra of the project's own
    (`widgets`) only for a module imported unconditionally, which no run collects without (oauthlib)."""
    write(tmp_path, {
        "pyproject.toml": """
            [project]
            name = "demo"
            version = "1"
            [project.optional-dependencies]
            widgets = ["extra-widgets"]
            [dependency-groups]
            test = ["pytest>=8"]
            dev = [{include-group = "test"}, "fake-certlib>=1", "unimported-tool"]
            """,
        "tests/conftest.py": "import fake_certlib\nimport extra_widgets\nimport not_declared_anywhere\n",
        "tests/test_a.py": "def test_a():\n    pass\n",
    })  # fmt: skip
    found = detect_deps(tmp_path, "demo", detect_tests(tmp_path).test_files)
    assert found.deps == ["pytest>=8", "fake-certlib>=1"]
    assert found.extras == ["widgets"]
    assert found.sources["fake-certlib>=1"] == (
        "pyproject [dependency-groups] dev (imported by the tests: fake_certlib)"
    )
