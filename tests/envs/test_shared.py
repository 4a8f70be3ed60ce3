"""Which snapshots share an environment: the dependency fingerprint of `envs.shared` on real files."""

from __future__ import annotations

from pathlib import Path

from codekiln.envs.recipe import Interpreter, Recipe
from codekiln.envs.shared import fingerprint, runtime_requirements
from codekiln.grading import TestCommand
from codekiln.repos import SnapshotRecord
from codekiln.testing import write_files

PYPROJECT = """[build-system]
requires = ["setuptools>=61"]

[project]
name = "demo"
version = "{version}"
dependencies = [{deps}]
"""
RECIPE = Recipe(python=Interpreter(executable="python3", version="3.11", prefix="/usr"), test=TestCommand())


def _snap(root: Path, version: str = "1.0", deps: str = '"attrs>=22"', extra: str = "") -> SnapshotRecord:
    files = {"pyproject.toml": PYPROJECT.format(version=version, deps=deps), "demo/__init__.py": ""}
    if extra:
        files[extra] = ""
    write_files(root, files)
    return SnapshotRecord(
        id=root.name, name="demo", source=str(root), kind="local", path=str(root), commit="0" * 40,
        files=2, size_bytes=0, has_tests=False, created="",
    )  # fmt: skip


def test_releases_that_only_change_their_version_share_a_fingerprint(tmp_path: Path) -> None:
    one, two = _snap(tmp_path / "a", "1.0"), _snap(tmp_path / "b", "1.1")
    assert fingerprint(one, RECIPE) == fingerprint(two, RECIPE)
    assert runtime_requirements(Path(one.path))["dependencies"] == ["attrs>=22"]


def test_new_requirements_a_new_package_or_another_recipe_do_not(tmp_path: Path) -> None:
    base = fingerprint(_snap(tmp_path / "a"), RECIPE)
    assert fingerprint(_snap(tmp_path / "b", deps='"attrs>=23"'), RECIPE) != base
    assert fingerprint(_snap(tmp_path / "c", extra="other/__init__.py"), RECIPE) != base
    other = RECIPE.model_copy(update={"deps": ["pytest-xdist"]})
    assert fingerprint(_snap(tmp_path / "d"), other) != base


def test_setup_py_requirements_count_too(tmp_path: Path) -> None:
    root = tmp_path / "s"
    write_files(root, {"setup.py": "setup(name='demo', install_requires=['six', 'attrs'],)\n"})
    assert runtime_requirements(root)["setup.py"] == "['six', 'attrs']"
