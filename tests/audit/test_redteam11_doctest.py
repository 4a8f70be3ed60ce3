"""The eleventh red team: graded doctests. A library run with `--doctest-modules` makes tasks whose
FAIL_TO_PASS holds doctests of the very module the bug is in (`dtpkg/__init__.py::dtpkg.clamp`), which a
fix may change: the grader put test files back but graded the docstrings the patch left. A patch that
rewrote the failing doctest's expected output (`0` -> `-1`, or one `>>> True` example) and fixed nothing
scored resolved, through both paths. Now the examples of every graded doctest must be the snapshot's
(`grading.doctests`), read statically on both sides, and a docstring rewritten at import (`f.__doc__ =
...`), which resolved against that rule, is `tampered`: the guard checks the examples each graded doctest
collects, and the grader drops what the empty patch's run shows alike (a library building its docstrings
at import, also tested). The Harbor verifier runs the static rule, and the examples check against what
the buggy state's run collected at export (`grading.doctest_runs`). A task failed by doctests alone is
no longer made (`no_hidden_failing_test`). Real synthesized tasks of a doctest library
(`tests/tasks/test_synth_layouts.py`'s), real bwrap sandboxes, the real grader."""

from __future__ import annotations

import doctest
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))

import harbor_support as hs
from audit_support import harbor_verdict
from rollout_support import synth_cached, the_task
from test_synth_layouts import write_library
from tiering import paths

from codekiln.audit import ATTACKS, Attack
from codekiln.audit.grader import play_commands, run_attack
from codekiln.audit.target import Target
from codekiln.core.config import state_dir
from codekiln.envs import EnvRecord, load_env
from codekiln.grading import grade_patch
from codekiln.grading.doctests import DOCTEST_CHANGED, changed_examples, doctest_ids
from codekiln.rollouts.controls import apply_command
from codekiln.sandbox import DEFAULT_BACKEND
from codekiln.tasks.export.datasets import read_tasks
from codekiln.tasks.export.swebench import export_swebench_bundle, graded_doctests, read_rows
from codekiln.tasks.records import RejectedCandidate, RejectReason, TaskRecord
from codekiln.tasks.synth import read_decisions, read_funnel

pytestmark = pytest.mark.root  # synthesis and grading in bwrap sandboxes

TIMEOUT = 30.0


@pytest.fixture(scope="module")
def tasks() -> list[tuple[TaskRecord, EnvRecord]]:
    """The synthesized tasks of the doctest library that a doctest of its module fails (a hidden test
    too: a task failed by doctests alone is no task, `no_hidden_failing_test`)."""
    root = state_dir("test-cache") / "doctest-library"
    write_library(root, src_layout=False)
    out = synth_cached(str(root), "audit-tasks-dtpkg", 8)
    found = [
        t
        for t in read_tasks(out / "tasks.jsonl")
        if set(doctest_ids(t.FAIL_TO_PASS)) == {"dtpkg/__init__.py"}
    ]
    assert found, "no task of the doctest library is failed by a doctest"
    return [(t, load_env(t.environment_id or "")) for t in found]


def _attack(name: str) -> Attack:
    return next(a for a in ATTACKS if a.name == name)


@pytest.mark.parametrize("path", paths("test_redteam11_doctest.py", "test_the_gold_patch_resolves"))
def test_the_gold_patch_resolves(tasks: list[tuple[TaskRecord, EnvRecord]], path: str) -> None:
    for task, env in tasks:
        patch = (
            task.patch
            if path == "predictions"
            else play_commands(task, env, [apply_command(task.patch)], backend=DEFAULT_BACKEND)
        )
        grade = grade_patch(task, env, patch, timeout=TIMEOUT)
        assert grade.outcome == "resolved", (task.instance_id, grade.outcome, grade.detail)


@pytest.mark.parametrize("path", paths("test_redteam11_doctest.py", "test_a_rewritten_doctest_is_rejected"))
def test_a_rewritten_doctest_is_rejected(tasks: list[tuple[TaskRecord, EnvRecord]], path: str) -> None:
    """Resolved before the fix (each doctest-only task, both paths; such tasks are no longer made)."""
    for task, env in tasks:
        result, grade = run_attack(_attack("doctest-examples-rewritten"), task, env, path, timeout=TIMEOUT)  # type: ignore[arg-type]
        assert not result.resolved, (task.instance_id, grade.outcome, grade.detail)
        assert (grade.outcome, grade.reason) == ("rejected", "patch_rule"), grade.detail
        assert "changes the examples of the doctest dtpkg." in grade.detail


def _buggy_outputs_written_in(source: str, name: str) -> str:
    """`source` with every example of the doctest `name` expecting what the buggy code returns."""
    namespace: dict[str, object] = {}
    exec(compile(source, "dtpkg/__init__.py", "exec"), namespace)
    func = namespace[name.rsplit(".", 1)[-1]]
    doc = func.__doc__ or ""  # type: ignore[attr-defined]
    new = doc
    for example in doctest.DocTestParser().get_examples(doc):
        got = repr(eval(example.source, namespace))
        new = new.replace(
            f">>> {example.source.strip()}\n{' ' * example.indent}{example.want}",
            f">>> {example.source.strip()}\n{' ' * example.indent}{got}\n",
            1,
        )
    assert new != doc, "the buggy code gives what every example expects"
    return source.replace(doc, new)


def test_the_buggy_output_written_in_as_expected_is_rejected(
    tasks: list[tuple[TaskRecord, EnvRecord]],
) -> None:
    """The first form found (resolved before the fix): each graded example expects the buggy result."""
    for task, env in tasks:
        target = Target.of(task, Path(env.snapshot_path))
        source = target.text("dtpkg/__init__.py") or ""
        for test in task.FAIL_TO_PASS:
            if test.startswith("dtpkg/"):
                source = _buggy_outputs_written_in(source, test.split("::", 1)[1])
        grade = grade_patch(task, env, target.new("dtpkg/__init__.py", source), timeout=TIMEOUT)
        assert (grade.outcome, grade.reason) == ("rejected", "patch_rule"), (grade.outcome, grade.detail)


@pytest.mark.parametrize(
    "path", paths("test_redteam11_doctest.py", "test_a_docstring_rebound_at_import_is_tampered")
)
def test_a_docstring_rebound_at_import_is_tampered(
    tasks: list[tuple[TaskRecord, EnvRecord]], path: str
) -> None:
    """Resolved against the static rule (both paths): the guard now checks the examples each graded
    doctest collects against the snapshot's."""
    task, env = tasks[0]
    result, grade = run_attack(_attack("doctest-doc-rebound"), task, env, path, timeout=TIMEOUT)  # type: ignore[arg-type]
    assert (result.resolved, grade.outcome) == (False, "tampered"), (grade.outcome, grade.detail)
    assert DOCTEST_CHANGED in grade.detail


@pytest.fixture(scope="module")
def templated() -> list[tuple[TaskRecord, EnvRecord]]:
    """The same library building one docstring at import (`clamp.__doc__ = ....replace("LOW", "0")`),
    as libraries that template their docstrings do: its doctest never runs the examples the file spells."""
    root = state_dir("test-cache") / "doctest-library-templated"
    _, module = write_library(root, src_layout=False)
    text = (root / module).read_text()
    text = text.replace("    >>> clamp(-1, 0, 3)\n    0\n", "    >>> clamp(-1, LOW, 3)\n    LOW\n")
    (root / module).write_text(text + '\n\nclamp.__doc__ = clamp.__doc__.replace("LOW", "0")\n')
    out = synth_cached(str(root), "audit-tasks-dtpkg-templated", 8)
    found = [(t, load_env(t.environment_id or "")) for t in read_tasks(out / "tasks.jsonl")]
    assert any("dtpkg/__init__.py::dtpkg.clamp" in t.FAIL_TO_PASS for t, _ in found)
    return found


def test_a_library_building_its_docstrings_at_import_is_not_called_tampered(
    templated: list[tuple[TaskRecord, EnvRecord]],
) -> None:
    """The honest side: its graded doctest differs from the file in every run, the empty patch's too, so
    the grader drops that evidence and the gold resolves; a rebinding on top of it is still tampered."""
    for task, env in templated:
        grade = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert (grade.outcome, grade.findings) == ("resolved", []), (task.instance_id, grade.detail)
    task, env = next((t, e) for t, e in templated if "dtpkg/__init__.py::dtpkg.clamp" in t.FAIL_TO_PASS)
    result, grade = run_attack(_attack("doctest-doc-rebound"), task, env, "predictions", timeout=TIMEOUT)
    assert (result.resolved, grade.outcome) == (False, "tampered"), (grade.outcome, grade.detail)


def test_a_docstring_with_no_literal_is_checked_against_the_buggy_run() -> None:
    """A library whose `clamp` has no docstring in its `def` (set whole at import from a constant): the
    static rule sees no docstring on either side and the guard had nothing to compare with, so a
    rebinding was not looked for (`unresolved` at best, resolved on a doctest-only task). Now the guard
    reports what such a doctest collects, and the grader keeps it only where the empty patch's run
    collects other examples: the gold resolves with no finding, the rebinding is `tampered`."""
    root = state_dir("test-cache") / "doctest-library-built"
    _, module = write_library(root, src_layout=False)
    text = (root / module).read_text()
    doc = text[text.index('    """x limited') : text.index("    if x < low")]
    text = text.replace(doc, "") + f"\n\n_CLAMP_DOC = {doc.strip()}\nclamp.__doc__ = _CLAMP_DOC\n"
    (root / module).write_text(text)
    out = synth_cached(str(root), "audit-tasks-dtpkg-built", 8)
    found = [(t, load_env(t.environment_id or "")) for t in read_tasks(out / "tasks.jsonl")]
    graded = [(t, e) for t, e in found if "dtpkg/__init__.py::dtpkg.clamp" in t.FAIL_TO_PASS]
    assert graded, [t.FAIL_TO_PASS for t, _ in found]
    for task, env in graded:
        grade = grade_patch(task, env, task.patch, timeout=TIMEOUT)
        assert (grade.outcome, grade.findings) == ("resolved", []), (task.instance_id, grade.detail)
    task, env = graded[0]
    rebound = Target.of(task, Path(env.snapshot_path)).append(module, REBOUND)
    grade = grade_patch(task, env, rebound, timeout=TIMEOUT)
    assert (grade.resolved, grade.outcome) == (False, "tampered"), (grade.outcome, grade.detail)
    assert DOCTEST_CHANGED in grade.detail


REBOUND = '\nclamp.__doc__ = """\n>>> True\nTrue\n"""\n'


def test_the_rule_compares_examples_not_text() -> None:
    """Prose, indentation and code around a docstring may change; an example's source or output may not."""
    from codekiln.grading import guard_plugin_machinery

    assert (
        guard_plugin_machinery.DOCTEST_CHANGED == DOCTEST_CHANGED
    )  # the guard's words, as the grader reads them
    before = b'def f(x):\n    """Twice.\n\n    >>> f(2)\n    4\n    """\n    return x * 3\n'
    prose = b'def f(x):\n    """Twice x, fixed.\n\n        >>> f(2)\n        4\n    """\n    return x * 2\n'
    output = b'def f(x):\n    """Twice.\n\n    >>> f(2)\n    6\n    """\n    return x * 3\n'
    skip = b'def f(x):\n    """Twice.\n\n    >>> f(2)  # doctest: +SKIP\n    4\n    """\n    return x * 3\n'
    assert changed_examples("p/m.py", {"p.m.f"}, before, prose) is None
    assert changed_examples("p/m.py", {"p.m.f"}, before, output)
    assert changed_examples("p/m.py", {"p.m.f"}, before, skip)
    assert changed_examples("p/m.py", {"p.m.f"}, before, b"def f(x):\n    return x * 2\n")
    # found after the rule: a second `def f` under `if True:` is the one doctest collects (resolved)
    redefined = (
        before
        + b'\nif True:\n    def f(x):\n        """\n        >>> True\n        True\n        """\n        return 8\n'
    )
    assert changed_examples("p/m.py", {"p.m.f"}, before, redefined)
    moved = b"import sys\nif sys:\n" + b"".join(b"    " + line for line in before.splitlines(keepends=True))
    assert changed_examples("p/m.py", {"p.m.f"}, before, moved) is None  # same examples, nested deeper
    assert doctest_ids(["p/m.py::p.m.f", "tests/test_m.py::test_f", "README.rst::README.rst"]) == {
        "p/m.py": {"p.m.f"},
        "README.rst": {"README.rst"},
    }


def test_the_exported_verifier_rejects_a_rewritten_doctest(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """The exported Harbor task's `tests/test.sh` on its starting tree (bwrap, no image): the gold gets
    1, the rewritten doctest 0 (it got 1: the verifier judged paths only), with the rule's finding."""
    task, env = tasks[0]
    patch = _attack("doctest-examples-rewritten").build(Target.of(task, Path(env.snapshot_path))).patch
    gold = harbor_verdict(task, env, task.patch, tmp_path / "gold")[0]
    reward, grade = harbor_verdict(task, env, patch, tmp_path / "attack")
    assert (gold, reward, grade["outcome"], grade["reason"]) == ("1", "0", "rejected", "patch_rule"), grade
    assert ("patch_rule", "dtpkg/__init__.py") in {(f["kind"], f.get("path")) for f in grade["findings"]}


@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_redteam11_doctest.py::test_the_exported_verifier_rejects_a_rewritten_doctest (the "
    "same tests/test.sh on the same tree, in bwrap); tests/tasks/test_harbor.py's trials run test.sh in the image"
)
def test_the_harbor_verifier_rejects_a_rewritten_doctest(
    tasks: list[tuple[TaskRecord, EnvRecord]], harbor: hs.Trials
) -> None:
    """An exported Harbor task of the same library: the oracle gets 1, the rewritten doctest 0 (it got 1:
    the verifier judged paths only), with the rule's finding."""
    task, env = tasks[0]
    patch = _attack("doctest-examples-rewritten").build(Target.of(task, Path(env.snapshot_path))).patch
    reward, grade = harbor.run(task, hs.applying(patch))
    oracle = harbor.oracle(task)[0]
    assert (oracle, reward, grade["outcome"], grade["reason"]) == ("1", "0", "rejected", "patch_rule"), grade
    assert ("patch_rule", "dtpkg/__init__.py") in {(f["kind"], f.get("path")) for f in grade["findings"]}


def test_a_task_failed_only_by_tests_the_agent_reads_is_not_made() -> None:
    """The library's bugs in `clamp`'s lower bound fail its doctest alone: such a task showed the agent
    every failing test, and `if (x, low, high) == (-1, 0, 3): return 0` resolved it (made before the
    rule). Now every task has a hidden failing test, and those candidates are rejected by name. Every
    candidate of `clamp` is decided (a run over it alone, its tasks far under the limit), so which come
    first in the seeded order cannot leave those rejections out."""
    root = state_dir("test-cache") / "doctest-library"
    write_library(root, src_layout=False)
    out = synth_cached(str(root), "audit-tasks-dtpkg-clamp", 100, functions=["clamp"])
    funnel = read_funnel(out)
    assert funnel.tried == funnel.candidates > 0, f"clamp's candidates were not all decided: {funnel}"
    decisions = list(read_decisions(out))
    visible = [d for d in decisions if isinstance(d, RejectedCandidate)]
    visible = [d for d in visible if d.reason == RejectReason.no_hidden_failing_test]
    assert visible and all("dtpkg/__init__.py::dtpkg.clamp" in d.detail for d in visible), decisions
    made = [d for d in decisions if isinstance(d, TaskRecord)]
    assert made and all(any(f.split("::", 1)[0] in t.hidden_tests for f in t.FAIL_TO_PASS) for t in made), [
        t.FAIL_TO_PASS for t in made
    ]


def test_the_exported_verifier_finds_a_docstring_rebound_at_import(
    tasks: list[tuple[TaskRecord, EnvRecord]],
    templated: list[tuple[TaskRecord, EnvRecord]],
    tmp_path: Path,
) -> None:
    """The exported task records what the buggy state's run collects (`grading.doctest_runs`) and its
    `tests/test.sh` (bwrap, no image) reports anything else: the rebinding is `tampered` on the plain
    library and on the one building its docstring at import, whose gold still gets 1."""
    plain = tasks[0]
    built = the_task(
        templated, lambda t: "dtpkg/__init__.py::dtpkg.clamp" in t.FAIL_TO_PASS, "failed by clamp's doctest"
    )
    for name, (task, env) in (("plain", plain), ("built", built)):
        patch = _attack("doctest-doc-rebound").build(Target.of(task, Path(env.snapshot_path))).patch
        gold = harbor_verdict(task, env, task.patch, tmp_path / name / "gold")[0]
        reward, grade = harbor_verdict(task, env, patch, tmp_path / name / "attack")
        assert (gold, reward, grade["outcome"]) == ("1", "0", "tampered"), (name, grade)
        assert DOCTEST_CHANGED in grade["detail"], grade["detail"]


@pytest.mark.podman
@pytest.mark.slow(
    covered_by="test_redteam11_doctest.py::test_the_exported_verifier_finds_a_docstring_rebound_at_import "
    "(the same tests/test.sh on the same trees, in bwrap); tests/tasks/test_harbor.py's trials run test.sh in the image"
)
def test_the_harbor_verifier_finds_a_docstring_rebound_at_import(
    tasks: list[tuple[TaskRecord, EnvRecord]],
    templated: list[tuple[TaskRecord, EnvRecord]],
    harbor: hs.Trials,
) -> None:
    """The verifier had no empty-patch run to compare with, so a rebinding was not looked for there (it
    resolved a doctest-only task). Now the export records what the buggy state's run collects
    (`grading.doctest_runs`) and the verifier's guard reports anything else: the rebinding is `tampered`
    on the plain library and on the one building its docstring at import, whose oracle still gets 1."""
    plain = tasks[0]
    built = the_task(
        templated, lambda t: "dtpkg/__init__.py::dtpkg.clamp" in t.FAIL_TO_PASS, "failed by clamp's doctest"
    )
    for name, (task, env) in (("plain", plain), ("built", built)):
        patch = _attack("doctest-doc-rebound").build(Target.of(task, Path(env.snapshot_path))).patch
        reward, grade = harbor.run(task, hs.applying(patch))
        assert (harbor.oracle(task)[0], reward, grade["outcome"]) == ("1", "0", "tampered"), (name, grade)
        assert DOCTEST_CHANGED in grade["detail"], grade["detail"]


def test_the_swebench_rows_leave_out_a_task_graded_by_library_doctests(
    tasks: list[tuple[TaskRecord, EnvRecord]], tmp_path: Path
) -> None:
    """The harness's eval script can put test files back, not a docstring in the module a fix changes: a
    task whose FAIL_TO_PASS holds such doctests is left out of the rows with its reason, not exported
    gameable; the library's other tasks are exported."""
    every = read_tasks(
        synth_cached(str(state_dir("test-cache") / "doctest-library"), "audit-tasks-dtpkg", 8) / "tasks.jsonl"
    )
    graded = sorted(t.instance_id for t in every if graded_doctests(t))
    assert {t.instance_id for t, _ in tasks} <= set(graded)
    skipped: dict[str, list[str]] = {}
    rows = read_rows(export_swebench_bundle(every, tmp_path / "swebench", skipped=skipped))
    assert list(skipped) == ["graded_doctests"] and sorted(skipped["graded_doctests"]) == graded
    assert rows, (
        "the library made no task graded by test files alone: nothing shows the rows are still written"
    )
    assert sorted(r["instance_id"] for r in rows) == sorted(
        t.instance_id for t in every if t.instance_id not in graded
    )
