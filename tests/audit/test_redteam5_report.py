"""The fifth red team (2026-12-05): the guard's results file read as if its shape were the guard's.

The file lies in the sandbox, so code under test can rewrite it after the session (a thread waiting
for the interpreter's shutdown). The marker's hash reports the rewrite, but the reader parsed the
contents first: a JSON list, counts and statuses of other types, or arrays nested past the JSON
decoder's depth, raised (AttributeError, RecursionError) out of the grader, and the episode was never scored (the corpus's `report-not-an-object` and `report-bad-types`,
graded end to end in tests/audit/test_redteam.py). Any shape the plugin does not write is evidence."""

from __future__ import annotations

import hashlib
import json

import pytest

from codekiln.grading.guard_check import check_run, malformed

GOOD = {
    "nonce": "n", "exitstatus": 0, "statuses": {"t.py::a": "passed"}, "messages": {},
    "collection_errors": {}, "collection_skips": {}, "deselected": [], "pytest_counts": {"passed": 1},
    "pytest_tests": 1, "plugin_files": [], "forged": [],
}  # fmt: skip
BAD = {
    "a list": [],
    "a string": "x",
    "statuses a list": {**GOOD, "statuses": [1]},
    "a status not a string": {**GOOD, "statuses": {"t.py::a": 1}},
    "counts a number": {**GOOD, "pytest_counts": 3},
    "tests a word": {**GOOD, "pytest_tests": "many"},
    "forged a number": {**GOOD, "forged": 5},
    "nonce a list": {**GOOD, "nonce": []},
}


def _run(data: object) -> tuple[object, list[str]]:
    raw = json.dumps(data).encode()
    marker = f"codekiln-guard n exit=0 results={hashlib.sha256(raw).hexdigest()} junit=-\n"
    return check_run(marker, 0, "n", raw, None)


def test_the_guards_own_results_pass_the_shape_check() -> None:
    assert malformed(GOOD) is None
    assert _run(GOOD) == (GOOD, [])


@pytest.mark.parametrize("name", sorted(BAD))
def test_a_results_file_of_another_shape_is_evidence_not_a_raise(name: str) -> None:
    data, evidence = _run(BAD[name])
    assert data is None and len(evidence) == 1
    assert evidence[0].startswith("the guard's results file is not what the guard writes")


def test_a_results_file_nested_past_the_decoders_depth_is_evidence_not_a_raise() -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    assert check_run("", 0, "n", raw, None) == (None, ["the guard's results file is not valid JSON"])
