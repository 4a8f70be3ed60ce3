"""Bugs whose touched lines ran at import time but whose change is confined to functions that did
not: run on the tests that can observe them (`validation.import_time`), decided as the whole suite in
fresh processes decides them; on real toolz 1.2.0 code, in real bwrap sandboxes."""

from __future__ import annotations

from pathlib import Path

import pytest
from synth_support import toolz_env, toolz_parts

from codekiln.core.diffs import diff_hash, make_diff
from codekiln.envs import EnvRecord
from codekiln.tasks.frontend.candidates import Candidate
from codekiln.tasks.frontend.entities import Entity
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.validation.coverage_map import CoverageMap, touched_lines
from codekiln.tasks.validation.import_time import ImportTimeCheck
from codekiln.tasks.validation.testexec import Job
from codekiln.tasks.validation.validate import ValidateConfig, Validator, validate_candidates

CHECK_REQUIRED = "def check_required_args(sig):\n    num_pos_only, func, keyword_exclude, sigspec = sig\n"


@pytest.fixture(scope="module")
def env() -> EnvRecord:
    return toolz_env()


@pytest.fixture(scope="module")
def parts(env: EnvRecord) -> tuple[CoverageMap, list[Entity], list[Candidate]]:
    return toolz_parts(env)


def _candidate(env: EnvRecord, entity: str, old: str, new: str) -> Candidate:
    rel = entity.split("::")[0]
    text = (Path(env.snapshot_path) / rel).read_text()
    assert text.count(old) == 1, old
    patch = make_diff(rel, text, text.replace(old, new, 1))
    return Candidate(
        id=diff_hash(patch)[:16], patch=patch, mutators=["hand_made"], entities=[entity], files=[rel], seed=0
    )


def _observable(env: EnvRecord, cmap: CoverageMap, cand: Candidate) -> dict[str, set[int]] | None:
    with Validator(env, cmap, []) as v:
        files, chunks = v.buggy(cand)
    assert cmap.runs_at_import(touched_lines(cand.patch)), "the test needs a bug touching import-time lines"
    return ImportTimeCheck(Path(env.snapshot_path)).observable(files, chunks, cmap.import_lines)


@pytest.mark.root  # the coverage map is built in a bwrap sandbox
def test_only_changes_inside_functions_that_did_not_run_at_import_are_narrowed(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    cmap, _, _ = parts
    entity = "toolz/_signatures.py::check_required_args"
    # a statement inserted right below the `def` line: the def line ran at import, the body never
    swapped = _candidate(
        env, entity, CHECK_REQUIRED, CHECK_REQUIRED.replace("(sig):\n", "(sig):\n    sig = sig\n")
    )
    lines = _observable(env, cmap, swapped)
    assert lines is not None and set(lines) == {"toolz/_signatures.py"}
    source = Path(env.snapshot_path, "toolz/_signatures.py").read_text().split("\n")
    first = source.index("def check_required_args(sig):") + 1
    assert min(lines["toolz/_signatures.py"]) == first and len(lines["toolz/_signatures.py"]) == 3
    # another signature: what `inspect.signature` (and curry's arity) reads at import time
    varargs = _candidate(env, entity, CHECK_REQUIRED, CHECK_REQUIRED.replace("(sig)", "(sig, *extra)"))
    assert _observable(env, cmap, varargs) is None
    # another docstring (doctest collection reads it): a statement put above it
    remove = 'def remove(predicate, seq):\n    """ Return those items'
    doc = _candidate(env, "toolz/itertoolz.py::remove", remove, remove.replace("\n", "\n    seq = seq\n", 1))
    assert _observable(env, cmap, doc) is None
    # a default value: module-level code changes
    default = _candidate(env, entity, CHECK_REQUIRED, CHECK_REQUIRED.replace("(sig)", "(sig=None)"))
    assert _observable(env, cmap, default) is None
    # a function that runs at import time (toolz builds its signature registry then)
    line = "    keyword_exclude = get_exclude_keywords(num_pos_only, sigspec)\n"
    ran = _candidate(env, "toolz/_signatures.py::expand_sig", line, line + "    sigspec = sigspec\n")
    assert _observable(env, cmap, ran) is None


@pytest.mark.root  # validation in bwrap sandboxes
def test_a_narrowed_bug_is_decided_as_the_whole_suite_in_fresh_processes_decides_it(
    env: EnvRecord, parts: tuple[CoverageMap, list[Entity], list[Candidate]]
) -> None:
    """A real candidate (a statement moved above the one it needs, right below the `def` line): the
    warm engine swaps it in and runs only the tests that execute the function; the fresh engine runs
    every selected test in new processes with the bug re-imported. Same task, same split."""
    cmap, entities, candidates = parts
    with Validator(env, cmap, entities) as v:
        picked = []
        for cand in candidates:
            if not cmap.runs_at_import(touched_lines(cand.patch)):
                continue
            files, chunks = v.buggy(cand)
            observers = v.observers(cand, files, chunks)
            if observers is not None:
                picked.append((cand, files, chunks, observers))
        assert picked, "toolz's candidate list has no bug of this kind any more"
        cand, files, chunks, observers = picked[0]
        assert len(observers) < len(v.select(cand)) == len(v.passing)
        result = v.warm.run([Job(cand.id, observers, files, chunks=chunks, timeout=30)])[cand.id]
        assert result.reimported is None, result.reimported
    [warm] = validate_candidates(env, cmap, entities, [cand])
    [fresh] = validate_candidates(env, cmap, entities, [cand], ValidateConfig(engine="fresh"))
    assert isinstance(warm, TaskRecord) and isinstance(fresh, TaskRecord), (warm, fresh)
    assert set(warm.FAIL_TO_PASS) <= set(observers)
    assert (warm.FAIL_TO_PASS, warm.PASS_TO_PASS) == (fresh.FAIL_TO_PASS, fresh.PASS_TO_PASS)
    assert warm.validation is not None and set(warm.validation.after) == set(v.passing)


def test_a_bug_in_a_method_that_calls_super_is_read_and_an_unreadable_one_runs_whole(tmp_path: Path) -> None:
    # `super()` gives the method's code a free variable (`__class__`): reading its docstring needs a cell
    source = "class Base:\n    def f(self):\n        return 1\n\n\nclass Child(Base):\n    def f(self):\n"
    source += "        return super().f()\n"
    (tmp_path / "mod.py").write_text(source)
    buggy = source.replace("return super().f()\n", "return super().f() + 1\n")
    check = ImportTimeCheck(tmp_path)
    ran = [1, 2, 6, 7]  # the class bodies and def lines ran at import, the methods' bodies never
    assert check.observable({"mod.py": buggy}, {}, {"mod.py": ran}) == {"mod.py": {7, 8}}
    assert check.observable({"mod.py": buggy}, {}, {"mod.py": [*ran, 8]}) is None  # its body ran at import
    assert check.observable({"mod.py": buggy}, {}, {"mod.py": None}) is None  # type: ignore[dict-item]
