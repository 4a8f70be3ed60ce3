"""The grader gate's shortcuts (`tasks.validation.gate`) on real toolz 1.2.0 code, in real bwrap
sandboxes: each case is one where a shortcut, taken blindly, would accept a task that the grader
agents face resolves with an empty patch, and the gate must still reject it.

- A bug in a test file: the engine ran the tests with it, but the grader puts test files back, so the
  empty patch's graded tree is not the engine's buggy tree; the gate grades that empty patch for real.
- A test that checks the code only outside the grader (it reads the guard's environment): the engine
  sees it fail with the bug, the grader sees it pass. No fact checked in memory shows it; the audit
  (a batch of one is always audited) catches it, and from then on the gate grades every task.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from synth_support import toolz_env, toolz_parts

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.envs import EnvRecord, build_env
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.validation.gate import _audit_order, empty_tree_is_buggy
from codekiln.tasks.validation.validate import ValidateConfig, Validator, validate_candidates

APART = "toolz/tests/test_zz_graded_apart.py"
APART_TEST = f"{APART}::test_frequencies_outside_the_grader"
# Planted by these tests: it checks toolz.frequencies only when it is not run by the grader (whose
# guard sets CODEKILN_GUARD), as a test that depends on how it is started would.
APART_SOURCE = '''"""Planted by codekiln's tests: checks toolz.frequencies only outside the grader."""
import os

from toolz import frequencies


def test_frequencies_outside_the_grader():
    if os.environ.get("CODEKILN_GUARD"):
        return
    assert frequencies(["zz-planted"]) == {"zz-planted": 1}
'''


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
        other = min(variants, key=lambda c: _audit_order(c.id))
        assert _audit_order(other.id) < _audit_order(in_test.id)
        decisions = v.validate([other, in_test])
    assert isinstance(decisions[0], TaskRecord), decisions[0]
    assert decisions[0].validation is not None
    assert decisions[0].validation.detail.startswith("grader: gold resolved in "), "the audited one"
    rejected = decisions[1]
    assert isinstance(rejected, RejectedCandidate) and rejected.reason == RejectReason.empty_resolved


def _apart_env(toolz_src: Path, tmp_root: Path) -> EnvRecord:
    src = tmp_root / "toolz-graded-apart"
    shutil.copytree(toolz_src, src, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    (src / APART).write_text(APART_SOURCE)
    env = build_env(str(src))
    assert env.baseline.get(APART_TEST) == "passed", env.baseline.get(APART_TEST)
    return env


@pytest.mark.root  # validation and grading in bwrap sandboxes
def test_the_audit_catches_a_test_the_grader_runs_differently(
    toolz_src: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    env = _apart_env(toolz_src, tmp_path_factory.mktemp("apart"))
    cmap, entities, _ = toolz_parts(env)
    bug = _candidate(
        env,
        "toolz/itertoolz.py",
        "toolz/itertoolz.py::frequencies",
        "return dict(d)",
        'return {} if "zz-planted" in d else dict(d)',
    )
    fast = validate_candidates(env, cmap, entities, [bug], ValidateConfig(gate="fast"))
    assert isinstance(fast[0], TaskRecord) and fast[0].FAIL_TO_PASS == [APART_TEST], fast[0]
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
def test_tasks_outside_the_audit_stand_on_the_shared_run() -> None:
    env = toolz_env()
    cmap, entities, candidates = toolz_parts(env)
    with Validator(env, cmap, entities) as v:
        decisions = v.validate(candidates[:6])
        shared = dict(v.gold_cache.graded)
    tasks = [d for d in decisions if isinstance(d, TaskRecord)]
    assert len(tasks) >= 2
    details = [t.validation.detail for t in tasks if t.validation]
    assert sum(d.startswith("grader: gold resolved in ") for d in details) == 1, details  # the audit
    assert sum("shared run" in d and "engine runs on the same tree" in d for d in details) == len(tasks) - 1
    assert all(shared.get(t) == "passed" for task in tasks for t in task.tests)
