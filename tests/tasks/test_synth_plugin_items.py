"""Items a conftest makes that hold a fixture request of their own (sybil's SybilItem, which builds
`_request` once in `__init__` and has no `_initrequest`): pytest clears the request after a run, and
the warm engine's forked child runs the item again, so pytest called `item._initrequest()` and the
child died ("'SybilItem' object has no attribute '_initrequest'"). testfixtures 12.4.0 collects its
docs with sybil: every candidate was `infra_error` and no task came out."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.testing import write_files

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

CONFTEST = """import pytest
from _pytest import fixtures
from _pytest.fixtures import FuncFixtureInfo

import caselib


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".cases":
        return CaseFile.from_parent(parent, path=file_path)


class CaseFile(pytest.File):
    def collect(self):
        for i, line in enumerate(self.path.read_text().splitlines(), 1):
            yield CaseItem.from_parent(self, name=f"line{i}", case=line.split())


class CaseItem(pytest.Item):
    def __init__(self, *, case, **kwargs):
        super().__init__(**kwargs)
        self.case = case
        names = ["tmp_path"]
        closure, defs = self.session._fixturemanager.getfixtureclosure(
            initialnames=names, parentnode=self, ignore_args=set()
        )
        self._fixtureinfo = FuncFixtureInfo(
            argnames=names, initialnames=names, names_closure=closure, name2fixturedefs=defs
        )
        self.funcargs = {}
        self._request = fixtures.TopRequest(pyfuncitem=self, _ispytest=True)
        self.fixturenames = closure

    def setup(self):
        self._request._fillfixtures()

    def runtest(self):
        op, a, b, want = self.case
        assert self.funcargs["tmp_path"].is_dir()
        assert getattr(caselib, op)(int(a), int(b)) == int(want)
"""

LIB = '''def add(a, b):
    """The sum."""
    total = a + b
    return total


def scale(a, b):
    """a times b, at least zero."""
    if a * b < 0:
        return 0
    return a * b
'''


def test_a_conftests_items_with_their_own_request_are_run_again_by_the_warm_engine(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "caselib",
        {
            "caselib/__init__.py": LIB,
            "tests/conftest.py": CONFTEST,
            "tests/test_lib.py": "from caselib import add, scale\n\n\ndef test_add():\n    assert add(2, 5) == 7\n"
            "\n\ndef test_scale():\n    assert scale(3, 4) == 12\n    assert scale(-3, 4) == 0\n",
            "tests/arith.cases": "add 1 2 3\nadd 2 2 4\nscale 2 3 6\nscale -2 3 0\n",
            "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
            '[project]\nname = "caselib"\nversion = "0.1"\n[tool.setuptools]\npackages = ["caselib"]\n'
            '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        },
    )
    result = synthesize(SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=2, workers=1))
    decisions = list(read_decisions(result.out))
    infra = [
        d.detail
        for d in decisions
        if isinstance(d, RejectedCandidate) and d.reason == RejectReason.infra_error
    ]
    assert not infra
    assert [d for d in decisions if isinstance(d, TaskRecord)], [getattr(d, "reason", "") for d in decisions]
