"""The grader gate's shortcuts (`tasks.validation.gate`) on real toolz 1.2.0 code, in real bwrap
sandboxes: each case is one where a shortcut, taken blindly, would accept a task that the grader
agents face resolves with an empty patch, and the gate must still reject it.

- A bug in a test file: the engine ran the tests with it, but the grader puts test files back, so the
  empty patch's graded tree is not the engine's buggy tree; the gate grades that empty patch for real.
- A test that checks the code only outside the grader (it reads how pytest was started): the engine
  sees it fail with the bug, the grader sees it pass. No fact checked in memory shows it; the audit
  (a batch of one is always audited) catches it, and from then on the gate grades every task.
- The audit's count: a share of every task gated so far, one of the first batch always (real
  batches of one task each, and the rule itself as a pure function).
- The in-memory checks themselves, on a snapshot of a few files (no sandbox).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import APART_TEST, planted_env, toolz_env, toolz_parts

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.envs import EnvRecord
from codekiln.grading import GradePolicy
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.validation.gate import (
    audit_order,
    audits_due,
    empty_tree_is_buggy,
    gold_patch_problem,
)
from codekiln.tasks.validation.validate import ValidateConfig, Validator, validate_candidates

AUDITED_BY_SHARED = "grader: gold resolved by the shared run of exactly its tests ("
"""An audited task's detail where the batch's shared run graded exactly its tests (`GraderGate.shared_gold`)."""


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
    # its failing test lives in the file the "bug" changes, which the agent reads: no task by default
    default = validate_candidates(env, cmap, entities, [in_test], ValidateConfig(gate="fast"))
    assert isinstance(default[0], RejectedCandidate), default[0]
    assert default[0].reason == RejectReason.no_hidden_failing_test
    # with every test shown by choice the engine alone takes it: the test fails with the "bug" and
    # passes without it, and the gate must catch it
    visible = ValidateConfig(gate="fast", visible_tests=True)
    fast = validate_candidates(env, cmap, entities, [in_test], visible)
    assert isinstance(fast[0], TaskRecord), fast[0]
    with Validator(env, cmap, entities, ValidateConfig(visible_tests=True)) as v:
        files = v.buggy_files(in_test)
        assert not empty_tree_is_buggy(fast[0], files, Path(env.snapshot_path))
        # a batch where another task is the audited one: the tree check alone must catch it
        variants = [_remove_bug(env, f"return filter(predicate, seq)  # {i}") for i in range(64)]
        other = min(variants, key=lambda c: audit_order(c.id))
        assert audit_order(other.id) < audit_order(in_test.id)
        decisions = v.validate([other, in_test])
    assert isinstance(decisions[0], TaskRecord), decisions[0]
    assert decisions[0].validation is not None
    # the audited one; its tests are the shared run's (one hidden file): that run is its gold grade
    assert decisions[0].validation.detail.startswith(AUDITED_BY_SHARED), decisions[0].validation.detail
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


@pytest.mark.root  # validation and grading in bwrap sandboxes
def test_the_audit_is_counted_over_the_batches_of_a_run() -> None:
    """audit=0.5 over three batches of one task: the first is audited, the second rests on the
    shortcut (one audit of two tasks is half), the third is audited (two of three)."""
    env = toolz_env()
    cmap, entities, _ = toolz_parts(env)
    bugs = [_remove_bug(env, f"return filter(predicate, seq)  # {i}") for i in range(3)]
    details = []
    with Validator(env, cmap, entities, ValidateConfig(audit=0.5)) as v:
        for bug in bugs:
            (decision,) = v.validate([bug])
            assert isinstance(decision, TaskRecord) and decision.validation is not None, decision
            details.append(decision.validation.detail)
        assert (v.gold_cache.gated, v.gold_cache.audited) == (3, 2)
    audited = [d.startswith(("grader: gold resolved in ", AUDITED_BY_SHARED)) for d in details]
    assert audited == [True, False, True], details
    # the first batch's shared run graded exactly its task's tests; the third's had none left to run
    # (the first batch's run judged them), so its gold is graded for real
    assert details[0].startswith(AUDITED_BY_SHARED) and details[2].startswith("grader: gold resolved in ")
    assert details[1].startswith("grader: gold resolved by the shared run"), details[1]


def test_audits_are_due_by_the_share_of_every_task_gated_and_one_in_the_first_batch() -> None:
    assert audits_due(0.02, 27, 0) == 1, "the first batch: one, though 2% of 27 tasks is less"
    assert audits_due(0.02, 50, 1) == 0, "2% of 50 is one, audited already"
    assert audits_due(0.02, 51, 1) == 1
    assert audits_due(0.02, 150, 1) == 2, "a batch may owe more than one"
    assert audits_due(0.5, 10, 1) == 4
    assert audits_due(1.0, 5, 2) == 3, "audit=1: every task"
    assert audits_due(0.02, 0, 0) == 0


def _task(root: Path, rel: str, old: str, new: str) -> tuple[TaskRecord, dict[str, str]]:
    """A task whose bug replaces `old` by `new` in `rel` of the snapshot at `root`, and the bug's files."""
    text = (root / rel).read_text()
    buggy = text.replace(old, new, 1)
    task = TaskRecord(
        instance_id="pkg.hand_made",
        repo="pkg",
        base_commit="0" * 16,
        patch=make_diff(rel, buggy, text),
        bug_patch=make_diff(rel, text, buggy),
        FAIL_TO_PASS=["tests/test_mod.py::test_frame"],
    )
    return task, {rel: buggy}


def test_the_in_memory_checks_see_what_the_grader_would_see(tmp_path: Path) -> None:
    """The facts the shortcuts stand on, on a snapshot of a few files: the gold patch is judged like the
    grader judges it (here it puts a frame walk back, which the static scan flags), and a bug in a test
    file leaves an empty-patch tree that is not the engine's buggy tree."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "tests").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text(
        "import sys\n\n\ndef frame():\n    return sys._getframe(1)\n\n\ndef answer():\n    return 42\n"
    )
    (tmp_path / "tests" / "test_mod.py").write_text(
        "from pkg.mod import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"
    )
    policy = GradePolicy()
    plain, plain_files = _task(tmp_path, "pkg/mod.py", "return 42", "return 41")
    assert gold_patch_problem(plain, tmp_path, policy) is None
    assert empty_tree_is_buggy(plain, plain_files, tmp_path)
    walk, _ = _task(tmp_path, "pkg/mod.py", "return sys._getframe(1)", "return None")
    problem = gold_patch_problem(walk, tmp_path, policy)
    assert problem is not None and "frame-walk" in problem, problem
    in_test, test_files = _task(tmp_path, "tests/test_mod.py", "== 42", "== 41")
    assert not empty_tree_is_buggy(in_test, test_files, tmp_path)
