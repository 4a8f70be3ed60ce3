"""The grader gate's shortcuts (`tasks.validation.gate`) on real toolz 1.2.0 code, in real bwrap
sandboxes: each case is one where a shortcut, taken blindly, would accept a task that the grader
agents face resolves with an empty patch, and the gate must still reject it.

- A bug in a test file: the engine ran the tests with it, but the grader puts test files back, so the
  empty patch's graded tree is not the engine's buggy tree; the gate grades that empty patch for real.
- A test that checks the code only outside the grader (it reads how pytest was started): the engine
  sees it fail with the bug, the grader sees it pass. No fact checked in memory shows it; the audit
  (a batch of one is always audited) catches it, and from then on the gate grades every task.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import APART_TEST, planted_env, toolz_env, toolz_parts

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.envs import EnvRecord
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.validation.gate import audit_order, empty_tree_is_buggy
from codekiln.tasks.validation.validate import ValidateConfig, Validator, validate_candidates


def _candidate(env: EnvRecord, rel: str, entity: str, old: str, new: str) -> Candidate:
    text = (Path(env.snapshot_path) / rel).read_text()
    assert old in text
    patch = make_diff(rel, text, text.replace(old, new, 1))
    return Candidate(
        id=diff_hash(patch)[:16], patch=patch, mutators=["hand_made"], entities=[entity], files=[rel], seed=0
    )


def _remove_bug(env: EnvRecord, new: str = "return filter(predicate, seq)") -> Candidate:
    return _candidate(
        env, "toolz/itertoolz.py", "toolz/itertoolz.py::remove", "return filterfalse(predicate, seq)", new
    )


@pytest.mark.root  # validation and grading in bwrap sandboxes
def test_a_bug_in_a_test_file_is_graded_for_real_and_rejected() -> None:
    env = toolz_env()
    cmap, entities, _ = toolz_parts(env)
    in_test = _candidate(
        env,
        "toolz/tests/test_itertoolz.py",
        "toolz/tests/test_itertoolz.py::test_remove",
        "assert type(r) is not list",
        "assert type(r) is list",
    )
    # the engine alone takes it: the test fails with the "bug" and passes without it
    fast = validate_candidates(env, cmap, entities, [in_test], ValidateConfig(gate="fast"))
    assert isinstance(fast[0], TaskRecord), fast[0]
    with Validator(env, cmap, entities) as v:
        files = v.buggy_files(in_test)
        assert not empty_tree_is_buggy(fast[0], files, Path(env.snapshot_path))
        # a batch where another task is the audited one: the tree check alone must catch it
        variants = [_remove_bug(env, f"return filter(predicate, seq)  # {i}") for i in range(64)]
        other = min(variants, key=lambda c: audit_order(c.id))
        assert audit_order(other.id) < audit_order(in_test.id)
        decisions = v.validate([other, in_test])
    assert isinstance(decisions[0], TaskRecord), decisions[0]
    assert decisions[0].validation is not None
    assert decisions[0].validation.detail.startswith("grader: gold resolved in "), "the audited one"
    rejected = decisions[1]
    assert isinstance(rejected, RejectedCandidate) and rejected.reason == RejectReason.empty_resolved


@pytest.mark.root  # validation and grading in bwrap sandboxes
def test_the_audit_catches_a_test_the_grader_runs_differently(
    toolz_src: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = planted_env(toolz_src, tmp_path_factory.mktemp("planted"))
    assert env.baseline.get(APART_TEST) == "passed"
    cmap, entities, _ = toolz_parts(env)
    bug = _candidate(
        env,
        "toolz/itertoolz.py",
        "toolz/itertoolz.py::count",
        "return len(seq)\n    return sum(",
        'return 0 if seq == ["zz-planted"] else len(seq)\n    return sum(',
    )
    fast = validate_candidates(env, cmap, entities, [bug], ValidateConfig(gate="fast"))
    assert isinstance(fast[0], TaskRecord) and fast[0].FAIL_TO_PASS == [APART_TEST], repr(fast[0])[:600]
    with Validator(env, cmap, entities) as v:
        # every fact the shortcut checks in memory holds: only a real grade tells them apart
        assert empty_tree_is_buggy(fast[0], v.buggy_files(bug), Path(env.snapshot_path))
        first = v.validate([bug])
        assert v.gate.exact, "a disagreement found by the audit makes every later grade real"
        later = v.validate([_remove_bug(env)])
    assert isinstance(first[0], RejectedCandidate) and first[0].reason == RejectReason.empty_resolved
    assert isinstance(later[0], TaskRecord) and later[0].validation is not None
    assert later[0].validation.detail.startswith("grader: gold resolved in "), later[0].validation.detail
