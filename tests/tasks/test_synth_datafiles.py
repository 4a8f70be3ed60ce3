"""Bugs in the text files a package ships (`frontend.datafiles`, `mutators.text`), through the real
path: a library whose Python holds only metadata and whose tests read a data file it ships (the shape
of tzdata: its tests read the zone names `tzdata/zones` lists) is built, synthesized and graded for
real in bwrap. Each text mutator makes a valid task there, every gold patch restores the file and
resolves under `grade_patch` (the guard does not flag it), the empty patch does not, the statements
name no test and say the fix may be in a data file, and files no test names, docs and the Python
source are never mutated.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from codekiln.envs import build_env
from codekiln.grading import grade_patch
from codekiln.tasks.frontend.datafiles import find_datafile_entities, generate_text_candidates
from codekiln.tasks.frontend.mutators import load_mutators
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, plan_candidates, read_decisions, synthesize
from codekiln.testing.git import write_files

TEXT_MUTATORS = ["misspell_data_name", "change_data_number", "drop_data_line", "swap_data_lines"]
UNITS = "# name,symbol,power\nmetre,m,1\nsecond,s,1\nkilogram,kg,3\nampere,A,1\n"
LIBRARY = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"
[project]
name = "unifiles"
version = "0.1"
[tool.setuptools]
packages = ["unifiles"]
[tool.setuptools.package-data]
unifiles = ["*.txt", "*.md"]
""",
    "unifiles/__init__.py": '"""The units of measure, listed in a data file."""\n\n__version__ = "0.1"\n',
    "unifiles/units.txt": UNITS,
    "unifiles/unread.txt": "alpha\nbeta\ngamma\n",  # shipped, named by nothing: never mutated
    "unifiles/README.md": "# unifiles\n\nmetre second kilogram\n",  # docs: never mutated
    "tests/test_units.py": """from importlib import resources


def rows():
    text = resources.files("unifiles").joinpath("units.txt").read_text()
    return [line.split(",") for line in text.splitlines() if line and not line.startswith("#")]


def test_names():
    assert [r[0] for r in rows()] == ["metre", "second", "kilogram", "ampere"]


def test_powers():
    assert {r[0]: int(r[2]) for r in rows()} == {"metre": 1, "second": 1, "kilogram": 3, "ampere": 1}
""",
}


def test_text_mutators_change_one_line_drawn_from_the_seed() -> None:
    lines = UNITS.split("\n")
    by_name = {m.name: m for m in load_mutators(TEXT_MUTATORS)}
    assert by_name["misspell_data_name"].text_sites(lines) == [1, 2, 3, 4]  # not the comment, not ""
    changed = []
    for name, mutator in by_name.items():
        new = mutator.mutate_lines(lines, 3, random.Random(0))
        assert new is not None and new != lines and new[0] == lines[0], name
        changed.append(new)
    assert changed[1][3] in ("kilogram,kg,2", "kilogram,kg,4")
    assert changed[2] == [lines[0], lines[1], lines[2], lines[4], ""]
    assert changed[3][3:5] == [lines[4], lines[3]]
    assert changed[0][3].endswith(",kg,3") and changed[0][3] != lines[3]


def test_only_text_files_a_test_or_the_source_names_are_entities(tmp_path: Path) -> None:
    root = write_files(tmp_path / "src", {**LIBRARY, "unifiles/zoneinfo.bin": "TZif\0\0"})
    (root / "unifiles/zoneinfo.bin").write_bytes(b"TZif\0\0\1")
    found = find_datafile_entities(root, ["tests/test_units.py"])
    assert [(e.id, e.kind, e.end_line) for e in found] == [("unifiles/units.txt::units.txt", "datafile", 5)]
    assert find_datafile_entities(root) == []  # nothing else names it
    gen = generate_text_candidates(root, found, load_mutators(), seed=0)
    again = generate_text_candidates(root, found, load_mutators(), seed=0)
    assert [c.patch for c in gen.candidates] == [c.patch for c in again.candidates]
    assert sorted(m for c in gen.candidates for m in c.mutators) == sorted(TEXT_MUTATORS)
    assert all(c.files == ["unifiles/units.txt"] for c in gen.candidates)


@pytest.mark.root  # environment, coverage, validation and grading in bwrap sandboxes
def test_a_library_whose_tests_read_a_data_file_makes_valid_tasks_from_it(tmp_path: Path) -> None:
    root = write_files(tmp_path / "unifiles-src", LIBRARY)
    config = SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=10, workers=1, batch_size=8)
    env = build_env(str(root))
    entities, candidates, _ = plan_candidates(env, config)
    assert [e.id for e in entities] == ["unifiles/units.txt::units.txt"]
    assert {f for c in candidates for f in c.files} == {"unifiles/units.txt"}

    result = synthesize(config)
    tasks = [d for d in read_decisions(result.out) if isinstance(d, TaskRecord)]
    by_mutator = {t.mutators[0]: t for t in tasks}
    assert set(by_mutator) == set(TEXT_MUTATORS), [
        (d.mutators, getattr(d, "reason", "task"), getattr(d, "detail", ""))
        for d in read_decisions(result.out)
    ]
    for name, task in sorted(by_mutator.items()):
        statement = task.problem_statement
        assert "test_units" not in statement and "test_names" not in statement, statement
        assert "the data files it ships" in statement, statement
        assert task.patch.startswith("diff --git a/unifiles/units.txt b/unifiles/units.txt"), task.patch
        gold = grade_patch(task, env, task.patch)
        assert gold.resolved and gold.outcome != "tampered", (name, gold.outcome, gold.detail)
        assert not grade_patch(task, env, "").resolved, name
