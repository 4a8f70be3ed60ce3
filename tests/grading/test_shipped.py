"""The files `grading.shipped` lists run where they are shipped, with no codekiln there: each set is
copied as the shipping code copies it into a folder of its own and imported in a fresh interpreter in
which any import of codekiln fails. A file left out of a list, or an import of codekiln added to one of
them, fails here."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.grading import shipped
from codekiln.grading.guard import plugin_files

# codekiln is importable in this venv (editable install, PYTHONPATH): the check blocks it by name first.
IMPORT_ALONE = """
import sys
sys.modules["codekiln"] = None  # any `import codekiln...` now raises ImportError
sys.path.insert(0, sys.argv[1])
import importlib
for name in sys.argv[2:]:
    module = importlib.import_module(name)
    assert module.__file__.startswith(sys.argv[1]), (name, module.__file__)
print("imported", len(sys.argv) - 2)
"""


def _import_alone(folder: Path, modules: list[str]) -> None:
    res = subprocess.run(
        [sys.executable, "-I", "-c", IMPORT_ALONE, str(folder), *modules],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.split() == ["imported", str(len(modules))]


@pytest.mark.parametrize("files", ["VERIFIER", "ROW"])
def test_the_verifier_and_every_file_it_reads_import_without_codekiln(tmp_path: Path, files: str) -> None:
    # as `tasks.export.harbor_payload.verifier_files` and `tasks.export.swebench_guard` ship them
    names = getattr(shipped, files)
    for name in names:
        shutil.copyfile(shipped.FOLDER / name, tmp_path / name)
    _import_alone(tmp_path, [name.removesuffix(".py") for name in names])


@pytest.mark.parametrize("bytecode", [True, False], ids=["compiled", "source"])
def test_the_guard_plugin_imports_without_codekiln_under_a_fresh_name(tmp_path: Path, bytecode: bool) -> None:
    module = "codekiln_guard_0123abcd"
    files = plugin_files(module, bytecode)  # what `GuardSession.start` writes into the run's folder
    for name, content in files:
        (tmp_path / name).write_bytes(content)
    assert sorted(name for name, _ in files) == sorted(
        f"{module}{suffix}.{'pyc' if bytecode else 'py'}"
        for suffix in (
            "",
            "_machinery",
            "_report",
            "_speedups",
            "_support",
            "_held",
            "_spaces",
            "_sources",
            "_trace",
            "_bodies",
            "_standins",
            "_tables",
            "_literals",
            "_reads",
            "_hide",
            "_callers",
            "_equality",
            "_coverage",
        )
    )
    _import_alone(tmp_path, [module])


def test_each_part_of_the_guard_plugin_is_loaded_under_the_plugin_name() -> None:
    names = shipped.guard_plugin_names("codekiln_guard_ff")
    assert names == {
        "guard_plugin.py": "codekiln_guard_ff",
        "guard_plugin_machinery.py": "codekiln_guard_ff_machinery",
        "guard_plugin_report.py": "codekiln_guard_ff_report",
        "guard_plugin_speedups.py": "codekiln_guard_ff_speedups",
        "guard_plugin_support.py": "codekiln_guard_ff_support",
        "guard_plugin_held.py": "codekiln_guard_ff_held",
        "guard_plugin_spaces.py": "codekiln_guard_ff_spaces",
        "guard_plugin_sources.py": "codekiln_guard_ff_sources",
        "guard_plugin_trace.py": "codekiln_guard_ff_trace",
        "guard_plugin_bodies.py": "codekiln_guard_ff_bodies",
        "guard_plugin_standins.py": "codekiln_guard_ff_standins",
        "guard_plugin_tables.py": "codekiln_guard_ff_tables",
        "guard_plugin_literals.py": "codekiln_guard_ff_literals",
        "guard_plugin_reads.py": "codekiln_guard_ff_reads",
        "guard_plugin_hide.py": "codekiln_guard_ff_hide",
        "guard_plugin_callers.py": "codekiln_guard_ff_callers",
        "guard_plugin_equality.py": "codekiln_guard_ff_equality",
        "guard_plugin_coverage.py": "codekiln_guard_ff_coverage",
    }
    assert set(shipped.GUARD_PLUGIN) <= set(shipped.VERIFIER)  # the verifier starts the guard too
