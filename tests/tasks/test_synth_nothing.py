"""Synthesis on a repository with no Python function to put a bug in (a C extension's package only
imports it, as xxhash 4.1.0's does): an error saying so, not "0 tasks in out/tasks.jsonl" and exit 0
after a full coverage run, followed by "no tasks at out/tasks.jsonl" from every later command."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.core.errors import TaskError
from codekiln.tasks.synth import SynthConfig, synthesize
from codekiln.tasks.synth_records import read_funnel

pytestmark = pytest.mark.root  # synthesis: the environment is built in bwrap sandboxes


def write_constants_only(root: Path) -> Path:
    files = {
        # metadata only: a module-level constant the tests read would be a data entity (`frontend.data`)
        "cext/__init__.py": "VERSION = '1.0'\n",
        "src/_cext.c": "/* the library's code: never compiled by this test */\nint width(void) { return 32; }\n",
        "tests/test_cext.py": "import cext\n\n\ndef test_version():\n    assert cext.VERSION == '1.0'\n",
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "cext"\nversion = "1.0"\n[tool.setuptools]\npackages = ["cext"]\n',
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_a_repository_without_python_entities_is_an_error_naming_why(tmp_path: Path) -> None:
    root = write_constants_only(tmp_path / "cext")
    with pytest.raises(TaskError) as err:
        synthesize(SynthConfig(spec=str(root), out=str(tmp_path / "out"), max_tasks=2))
    assert err.value.message == (
        "no function, method, class or data table to put a bug in: 1 Python source files outside the tests define "
        "none (its code is elsewhere: 1 .c files)"
    )
    assert err.value.hint is not None and "Python code only" in err.value.hint
    assert not (tmp_path / "out" / "tasks.jsonl").exists()
    funnel = read_funnel(tmp_path / "out")  # the reason stays with the run, as a run that mapped says it
    assert funnel.no_tasks == err.value.message and funnel.no_tasks_hint == err.value.hint
