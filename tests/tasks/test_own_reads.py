"""Which tests a guarded run of the clean snapshot names as reading the tests' source
(`tasks.validation.own_reads`): only a run whose every finding is such a read, each in a test it ran.
The real path (synthesis, the gate, the grader) is `tests/audit/test_redteam18a_own_file.py`."""

from __future__ import annotations

from codekiln.grading import GradeResult
from codekiln.tasks.validation.own_reads import EVIDENCE, attributed, reading_tests

OWN = "tests/test_files.py::test_own"
READ = f"{EVIDENCE}/testbed/tests/test_files.py opened from /testbed/lib/__init__.py:4 during {OWN}"


def test_a_read_in_a_test_that_ran_names_that_test() -> None:
    assert attributed([READ, READ], [OWN, "tests/test_files.py::test_tmp"]) == {OWN: READ[len(EVIDENCE) :]}
    grade = GradeResult(instance_id="x", outcome="tampered", findings=[{"kind": "tampered", "detail": READ}])
    assert reading_tests(grade, [OWN]) == {OWN: READ[len(EVIDENCE) :]}


def test_any_other_finding_or_an_unattributed_read_names_nothing() -> None:
    at_import = f"{EVIDENCE}/testbed/tests/test_files.py opened from /testbed/lib/__init__.py:4"
    assert attributed([READ, "a test was replaced: a trace function was installed"], [OWN]) == {}
    assert attributed([READ, at_import], [OWN]) == {}  # a table built at import time: no test
    assert attributed([READ], ["tests/test_files.py::test_tmp"]) == {}  # not a test the run ran
    assert attributed([], [OWN]) == {}
    resolved = GradeResult(
        instance_id="x", outcome="resolved", findings=[{"kind": "tampered", "detail": READ}]
    )
    assert reading_tests(resolved, [OWN]) == {}
    scan = GradeResult(instance_id="x", outcome="tampered", findings=[{"kind": "scan", "detail": READ}])
    assert reading_tests(scan, [OWN]) == {}
