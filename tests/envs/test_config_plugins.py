"""Plugins a project's pytest config asks for become test deps; a baseline that runs no test is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.envs import Profile, detect_tests, make_recipe
from codekiln.envs.plugins import args_plugins, config_plugins, module_plugin, option_plugin
from codekiln.repos import ensure_snapshot


@pytest.mark.parametrize(
    ("word", "dist"),
    [
        ("--cov=pkg", "pytest-cov"),
        ("--cov-report=term", "pytest-cov"),
        ("-nauto", "pytest-xdist"),
        ("-n4", "pytest-xdist"),
        ("--benchmark-disable", "pytest-benchmark"),
        ("--timeout=30", "pytest-timeout"),
        ("--hypothesis-show-statistics", "hypothesis"),
        ("--doctest-modules", None),  # pytest's own
        ("--strict-markers", None),
        ("-nonsense", None),
        ("tests", None),
    ],
)
def test_option_plugin(word: str, dist: str | None) -> None:
    assert option_plugin(word) == dist


def test_module_plugin() -> None:
    assert module_plugin("pytest_mock") == "pytest-mock"
    assert module_plugin("pytest_asyncio.plugin") == "pytest-asyncio"
    assert module_plugin("xdist") == "pytest-xdist"
    assert module_plugin("no:cacheprovider") is None
    assert module_plugin("pytester") is None
    assert module_plugin("conftest_helpers") is None  # a local module: nothing to install


def test_config_plugins_from_every_source_first_mention_only() -> None:
    settings: dict[str, str | list[str]] = {
        "required_plugins": "pytest-mock>=3 pytest-timeout",
        "addopts": "-ra --cov=pkg -p pytest_mock -n 2 --timeout=5",
        "asyncio_mode": "auto",
        "testpaths": "tests",
    }
    assert config_plugins(settings) == [
        ("pytest-mock>=3", "required_plugins in the pytest config"),
        ("pytest-timeout", "required_plugins in the pytest config"),
        ("pytest-cov", "addopts --cov=pkg"),
        ("pytest-xdist", "addopts -n"),
        ("pytest-asyncio", "ini key asyncio_mode"),
    ]
    assert config_plugins({"addopts": ["-p", "no:warnings", "--strict-markers"]}) == []
    assert args_plugins(["tests", "-pxdist"], "cmd") == [("pytest-xdist", "cmd -pxdist")]


def test_recipe_adds_the_plugins_the_config_needs_unless_declared(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "proj").mkdir(parents=True)
    (root / "proj" / "__init__.py").write_text("")
    (root / "tests").mkdir()
    (root / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    (root / "pyproject.toml").write_text(
        '[project]\nname = "proj"\nversion = "0.1"\n'
        '[project.optional-dependencies]\ntest = ["pytest-cov>=5"]\n'
        '[tool.pytest.ini_options]\naddopts = "--cov=proj --benchmark-disable"\nasyncio_mode = "auto"\n'
    )
    snap = ensure_snapshot(str(root))
    recipe = make_recipe(snap, Profile())
    assert "pytest-cov>=5" in recipe.deps and "pytest-cov" not in recipe.deps  # declared: kept as is
    assert {"pytest-benchmark", "pytest-asyncio"} <= set(recipe.deps)
    assert "addopts --benchmark-disable" in recipe.dep_sources["pytest-benchmark"]
    assert detect_tests(root).plugins[0] == ("pytest-cov", "addopts --cov=proj")
    skipped = make_recipe(snap, Profile(name="t", skip_deps=["pytest-benchmark"]))
    assert "pytest-benchmark" not in skipped.deps
