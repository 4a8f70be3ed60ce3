"""Items a plugin collects from a file whose state they share: sybil runs a document's examples in
turn in one namespace (`sybil_setup` fills it when the file is set up), so an example runs faithfully
only after every earlier example of its document. Validation selected the examples that run the
mutated code alone, and its clean reruns asked for them reversed and shuffled: they failed with
NameError (`gold_failed`), and sybil's own failure report then crashed pytest (IndexError in its
`_traceback_filter`), every candidate of the batch `infra_error` (testfixtures 12.4.0: 0 tasks of 99
candidates). A selection now holds every passing item of such a file, in the suite's order, and runs
and reruns keep them together in that order (`core.testnames.file_units`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, synthesize
from codekiln.testing import write_files

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

CONFTEST = '''import pytest


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".steps":
        return StepFile.from_parent(parent, path=file_path)


class StepFile(pytest.File):
    """Each line a statement run in the file's one namespace, in turn (as sybil runs a document)."""

    def collect(self):
        self.namespace = {}
        for i, line in enumerate(self.path.read_text().splitlines(), 1):
            yield StepItem.from_parent(self, name=f"line{i}", source=line)

    def setup(self):
        self.namespace["ready"] = True

    def teardown(self):
        self.namespace.clear()


class StepItem(pytest.Item):
    def __init__(self, *, source, **kwargs):
        super().__init__(**kwargs)
        self.source = source

    def runtest(self):
        assert self.parent.namespace.get("ready"), "the file was not set up"
        exec(self.source, self.parent.namespace)

    def reportinfo(self):
        return self.path, None, self.name
'''

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

STEPS = """from caselib import add, scale
total = add(2, 5)
assert total == 7
big = scale(total, 3)
assert big == 21
assert scale(-1, 4) == 0
assert add(big, -total) == 14
"""


def test_items_sharing_their_files_state_are_validated_with_their_whole_file(tmp_path: Path) -> None:
    root = write_files(
        tmp_path / "caselib",
        {
            "caselib/__init__.py": LIB,
            "tests/conftest.py": CONFTEST,
            "tests/arith.steps": STEPS,
            "tests/test_lib.py": "from caselib import add, scale\n\n\ndef test_add():\n    assert add(2, 5) == 7\n"
            "\n\ndef test_scale():\n    assert scale(3, 4) == 12\n    assert scale(-3, 4) == 0\n",
            "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
            '[project]\nname = "caselib"\nversion = "0.1"\n[tool.setuptools]\npackages = ["caselib"]\n'
            '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n',
        },
    )
    result = synthesize(SynthConfig(spec=str(root), out=tmp_path / "out", max_tasks=2, workers=1))
    decisions = list(read_decisions(result.out))
    broken = [
        (d.reason, d.detail)
        for d in decisions
        if isinstance(d, RejectedCandidate)
        and d.reason in (RejectReason.infra_error, RejectReason.gold_failed, RejectReason.flaky)
    ]
    assert not broken
    tasks = [d for d in decisions if isinstance(d, TaskRecord)]
    assert tasks, [(getattr(d, "reason", ""), getattr(d, "detail", "")) for d in decisions]
    whole = {f"tests/arith.steps::line{i}" for i in range(1, 8)}
    assert any(whole & set(task.FAIL_TO_PASS) for task in tasks)  # the bug fails items of the file
    for task in tasks:  # every item of the file: the whole file was run, and is graded
        assert whole <= set(task.PASS_TO_PASS + task.FAIL_TO_PASS)


def test_reruns_and_reorders_keep_a_plugin_files_items_together_in_order() -> None:
    from codekiln.core.testnames import to_rerun
    from codekiln.tasks.in_sandbox import codekiln_reports
    from codekiln.tasks.validation.testexec import fresh_run_plan

    steps = [f"docs/a.rst::line:{n},column:1" for n in (3, 10, 22)]
    tests = ["t.py::test_a", steps[0], "t.py::test_b", steps[1], "t.py::test_c", steps[2]]
    for n in range(4):
        order = fresh_run_plan(tests, n)[1]
        assert sorted(order) == sorted(tests)
        start = order.index(steps[0])
        assert order[start : start + 3] == steps  # one unit, in the given order
    plain = ["t.py::test_a", "t.py::test_b", "t.py::test_c", "t.py::test_d"]
    assert fresh_run_plan(plain, 0)[1] == list(reversed(plain))  # other tests reorder as before
    statuses = {t: "passed" for t in tests} | {steps[1]: "failed", "t.py::test_b": "failed"}
    for rule in (to_rerun, codekiln_reports.to_rerun):  # the sandbox's copy of the rule is the same
        assert rule(tests, statuses) == [steps[0], "t.py::test_b", steps[1], steps[2]]
        assert rule(plain, {t: "passed" for t in plain} | {"t.py::test_c": "error"}) == ["t.py::test_c"]
