"""Items that share a node id: a conftest collecting text cases can name several alike (docopt-ng
0.9.0's `testcases(6)`, five items; 614 items under 520 ids). pytest asked for such an id runs every
item of it and its summary counts each, while codekiln records one status per id, its items' worst,
so a bug failing one item fails the id (what the grader needs) and the build's counts were 520 where
pytest said 614, with nothing saying why. The guard now reports the ids several items share
(`guard_plugin_report.repeated_ids`), the run and the environment keep them (`repeated_ids`), and
the environment's summary says how pytest's count differs. Built through the real path (bwrap, pytest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.envs import build_env, env_sandbox
from codekiln.grading import run_tests
from codekiln.testing import write_files

pytestmark = pytest.mark.root  # builds environments in bwrap sandboxes

CONFTEST = """import pytest

import caselib


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".cases":
        return CaseFile.from_parent(parent, path=file_path)


class CaseFile(pytest.File):
    def collect(self):  # every case is named by its group, as docopt-ng names its cases
        for line in self.path.read_text().splitlines():
            group, a, b, want = line.split()
            yield CaseItem.from_parent(self, name=group, case=(int(a), int(b), int(want)))


class CaseItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case

    def runtest(self):
        a, b, want = self.case
        assert caselib.add(a, b) == want

    def reportinfo(self):
        return self.path, None, self.name
"""
BUGGY = "def add(a, b):\n    return a + b if b < 5 else a - b\n"


def test_ids_several_items_share_are_named_and_each_fails_on_any_of_its_items(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "caselib",
        {
            "caselib/__init__.py": "def add(a, b):\n    return a + b\n",
            "tests/conftest.py": CONFTEST,
            "tests/arith.cases": "small 1 2 3\nsmall 2 2 4\nlarge 3 7 10\nsmall 4 4 8\nzero 0 0 0\n",
            "tests/test_lib.py": "from caselib import add\n\n\ndef test_add():\n    assert add(2, 5) == 7\n",
            "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
            '[project]\nname = "caselib"\nversion = "0.1"\n[tool.setuptools]\npackages = ["caselib"]\n'
            '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        },
    )
    env = build_env(str(root))
    assert env.baseline == dict.fromkeys(
        ["tests/test_lib.py::test_add", "tests/arith.cases::small", "tests/arith.cases::large",
         "tests/arith.cases::zero"], "passed"
    )  # fmt: skip
    assert env.repeated_ids == {"tests/arith.cases::small": 3}
    assert "pytest ran 6 items under these 4 id(s)" in env.summary_line()
    with env_sandbox(env) as sb:
        sb.write_file("caselib/__init__.py", BUGGY)  # fails the one `large` case, and no `small` one
        run = run_tests(sb, env.test, ["tests/arith.cases::small", "tests/arith.cases::large"])
        assert run.statuses == {"tests/arith.cases::small": "passed", "tests/arith.cases::large": "failed"}
        sb.write_file("caselib/__init__.py", BUGGY.replace("b < 5", "a != 4"))  # fails one of three
        run = run_tests(sb, env.test, ["tests/arith.cases::small"])
    assert run.statuses == {"tests/arith.cases::small": "failed"}  # every item of the id ran
    assert (
        run.repeated_ids == {"tests/arith.cases::small": 3}
        and "3 items under these 1 id(s)" in run.items_note()
    )
