"""Combining candidates into multi-bug candidates, on toolz; and every candidate through real git (slow)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from tasks_helpers import fetch_sdist, make_checkout

from codekiln.core.diffs import changed_lines
from codekiln.core.errors import TaskError
from codekiln.tasks.frontend.candidates import (
    Candidate,
    Generation,
    combine,
    generate_candidates,
    sample_combinations,
)
from codekiln.tasks.frontend.entities import find_entities
from codekiln.tasks.frontend.mutators import load_mutators
from codekiln.testing import run_git


def _pick(gen: Generation, *names: str) -> list[Candidate]:
    """One candidate per mutator name, each on a different file, so they never overlap."""
    out: list[Candidate] = []
    for name in names:
        out.append(
            next(
                c
                for c in gen.candidates
                if c.mutators == [name] and c.files[0] not in {o.files[0] for o in out}
            )
        )
    return out


def test_combine_merges_bugs_in_different_files(toolz_checkout: Path, toolz_generation: Generation) -> None:
    parts = _pick(toolz_generation, "flip_comparison", "remove_guard", "swap_call_args")
    combo = combine(parts, toolz_checkout)
    assert combo.mutators == ["flip_comparison", "remove_guard", "swap_call_args"]
    assert combo.parts == [p.id for p in parts] and combo.n_bugs == 3
    assert combo.files == sorted({p.files[0] for p in parts})
    removed, added = changed_lines(combo.patch)
    for p in parts:
        r, a = changed_lines(p.patch)
        assert set(r) <= set(removed) and set(a) <= set(added)
    assert run_git(toolz_checkout, "apply", "-", input=combo.patch).exit_code == 0
    for rel in combo.files:
        ast.parse((toolz_checkout / rel).read_text())
    assert run_git(toolz_checkout, "apply", "-R", "-", input=combo.patch).exit_code == 0
    assert run_git(toolz_checkout, "status", "--porcelain").stdout == ""


def test_combine_in_one_file(toolz_checkout: Path, toolz_generation: Generation) -> None:
    same_file = [c for c in toolz_generation.candidates if c.files == ["toolz/itertoolz.py"]]
    a = same_file[0]
    b = next(
        c for c in same_file if c.entities != a.entities and c is not a and abs(_line(c) - _line(a)) > 20
    )
    combo = combine([a, b], toolz_checkout)
    assert combo.files == ["toolz/itertoolz.py"] and combo.patch.count("diff --git") == 1
    assert run_git(toolz_checkout, "apply", "--check", "-", input=combo.patch).exit_code == 0


def _line(c: Candidate) -> int:
    return int(c.patch.split("@@ -")[1].split(",")[0].split(" ")[0])


def test_combine_refuses_bad_groups(toolz_repo: Path, toolz_generation: Generation) -> None:
    cands = toolz_generation.candidates
    with pytest.raises(TaskError, match="2 to 4"):
        combine(cands[:1], toolz_repo)
    with pytest.raises(TaskError, match="2 to 4"):
        combine(cands[:5], toolz_repo)
    entity = next(c.entities for c in cands if sum(d.entities == c.entities for d in cands) >= 2)
    twins = [c for c in cands if c.entities == entity][:2]
    with pytest.raises(TaskError, match="different entities"):
        combine(twins, toolz_repo)


def test_sample_combinations_is_deterministic(toolz_repo: Path, toolz_generation: Generation) -> None:
    pool = toolz_generation.candidates[:120]
    first = sample_combinations(pool, toolz_repo, k=2, n=5, seed=3)
    again = sample_combinations(pool, toolz_repo, k=2, n=5, seed=3)
    assert [c.id for c in first] == [c.id for c in again]
    assert len(first) == 5 and all(c.n_bugs == 2 and len(set(c.entities)) == 2 for c in first)
    assert len({c.id for c in first}) == 5


@pytest.mark.slow
def test_every_toolz_candidate_applies_and_reverts_with_git(
    toolz_checkout: Path, toolz_generation: Generation
) -> None:
    for cand in toolz_generation.candidates:
        assert run_git(toolz_checkout, "apply", "-", input=cand.patch).exit_code == 0, cand.patch
        assert run_git(toolz_checkout, "apply", "-R", "-", input=cand.patch).exit_code == 0, cand.patch
    assert run_git(toolz_checkout, "status", "--porcelain").stdout == ""


@pytest.mark.network  # an sdist from PyPI
@pytest.mark.slow
def test_more_itertools_candidates_apply_with_git(tmp_path: Path) -> None:
    repo = make_checkout(fetch_sdist("more-itertools==11.2.1", "more_itertools-11.2.1"), tmp_path / "mi")
    gen = generate_candidates(repo, find_entities(repo), load_mutators(), seed=0)
    assert set(gen.counts()) == {m.name for m in load_mutators()}
    assert not [s for s in gen.skipped if s.reason == "syntax_error"]
    for cand in gen.candidates[::3]:
        assert run_git(repo, "apply", "-", input=cand.patch).exit_code == 0, cand.patch
        assert run_git(repo, "apply", "-R", "-", input=cand.patch).exit_code == 0, cand.patch
    assert run_git(repo, "status", "--porcelain").stdout == ""
