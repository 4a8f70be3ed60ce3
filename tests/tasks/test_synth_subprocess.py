"""A package whose tests run it only in child Python processes (trove-classifiers' shape: its CLI
tests call `python -m pkg` and its console script): the coverage map credits the lines those processes
run to the test that started them (`in_sandbox/cover_child.py`), validation reaches the child
processes with the bug on disk, and synthesis makes tasks from those tests. A real build, map and
synthesis of a small src-layout project made here."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.envs import build_env
from codekiln.grading import grade_patch
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.testing.git import write_files

pytestmark = pytest.mark.root  # environments, coverage and validation in bwrap sandboxes

PROJECT = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "shoutcli"
version = "0.1"
[project.scripts]
shoutcli = "shoutcli.__main__:main"
[tool.setuptools.packages.find]
where = ["src"]
""",
    "src/shoutcli/__init__.py": """
def shout(word):
    if not word:
        return "?"
    return word.upper() + "!"
""",
    "src/shoutcli/__main__.py": """
import sys

from shoutcli import shout


def main():
    print(" ".join(shout(w) for w in sys.argv[1:]))


if __name__ == "__main__":
    main()
""",
    # the package runs only in the processes these tests start; the in-process test imports it and
    # calls nothing
    "tests/test_cli.py": """
import subprocess
import sys
from pathlib import Path


def run(argv):
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    assert done.stderr == ""  # measuring the child wrote nothing to its stderr
    return done.stdout


def test_module_shouts():
    assert run([sys.executable, "-m", "shoutcli", "hi", "there"]) == "HI! THERE!\\n"


def test_script_shouts():
    assert run([str(Path(sys.executable).parent / "shoutcli"), "", "yo"]) == "? YO!\\n"


def test_importable():
    import shoutcli

    assert callable(shoutcli.shout)
""",
}


def test_lines_run_by_a_test_s_child_processes_are_mapped_to_it_and_make_tasks(tmp_path: Path) -> None:
    root = write_files(tmp_path / "shoutcli-src", PROJECT)
    env = build_env(str(root))
    assert sorted(t for t, s in env.baseline.items() if s == "passed") == [
        "tests/test_cli.py::test_importable",
        "tests/test_cli.py::test_module_shouts",
        "tests/test_cli.py::test_script_shouts",
    ]
    cmap = coverage_map(env)
    module, script = "tests/test_cli.py::test_module_shouts", "tests/test_cli.py::test_script_shouts"
    # `return word.upper() + "!"` (line 5) runs in both children; `return "?"` only in the script's
    assert cmap.tests_for({"src/shoutcli/__init__.py": {5}}) == {module, script}
    assert cmap.tests_for({"src/shoutcli/__init__.py": {4}}) == {script}
    assert cmap.tests_for({"src/shoutcli/__main__.py": {8}}) == {module, script}
    assert "tests/test_cli.py::test_importable" not in cmap.tests_for({"src/shoutcli/__init__.py": {3, 5}})

    result = synthesize(
        SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=2, workers=1, batch_size=8)
    )
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    assert len(tasks) == 2 and not result.funnel.no_tasks, result.funnel
    for task in tasks:
        assert set(task.FAIL_TO_PASS) <= {module, script}, task.FAIL_TO_PASS
        gold = grade_patch(task, env, task.patch)
        assert gold.resolved, gold.detail
        assert not grade_patch(task, env, "").resolved
