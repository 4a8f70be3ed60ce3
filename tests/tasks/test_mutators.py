"""Every mutator on real code (toolz 1.2.0): candidates exist, their diffs apply and revert with git,
the mutated files parse, and the change stays inside the mutated entity. Then each mutator's exact
behaviour on small snippets."""

from __future__ import annotations

import ast
import random
import textwrap
from pathlib import Path

import pytest

from codekiln.core.diffs import reverse_diff
from codekiln.core.patches import apply_diff
from codekiln.tasks.frontend.candidates import Generation, generate_candidates
from codekiln.tasks.frontend.entities import CODE_KINDS, Entity, find_entities
from codekiln.tasks.frontend.lang.python import iter_entity_nodes
from codekiln.tasks.frontend.mutators import MUTATORS, Edit, Mutator, SourceFile, apply_edits, load_mutators
from codekiln.tasks.frontend.mutators.text import TextMutator
from codekiln.testing import run_git

ALL = MUTATORS.names()
CODE = [name for name in ALL if MUTATORS.load(name).kinds & CODE_KINDS]
"""The mutators of functions, methods and classes; the data mutators are test_data_mutators.py's."""


def test_at_least_fifteen_mutators_with_descriptions() -> None:
    mutators = load_mutators()
    assert len(mutators) >= 15
    assert [m.name for m in mutators] == ALL
    # a text mutator (of a shipped data file: mutators.text) works on lines, not on ast nodes
    assert all(m.description and (m.node_types or isinstance(m, TextMutator)) for m in mutators)


@pytest.mark.parametrize("name", CODE)
def test_mutator_on_toolz_applies_and_reverts_with_git(
    name: str, toolz_generation: Generation, toolz_checkout: Path
) -> None:
    cands = [c for c in toolz_generation.candidates if c.mutators == [name]]
    assert cands, f"{name} made no candidate on toolz"
    for cand in cands[:: max(1, len(cands) // 4)][:4]:
        assert run_git(toolz_checkout, "apply", "--check", "-", input=cand.patch).exit_code == 0, cand.patch
        assert run_git(toolz_checkout, "apply", "-", input=cand.patch).exit_code == 0
        for rel in cand.files:
            ast.parse((toolz_checkout / rel).read_text())
        assert run_git(toolz_checkout, "diff", "--quiet").exit_code == 1
        res = run_git(toolz_checkout, "apply", "-R", "-", input=cand.patch)
        assert res.exit_code == 0, res.stderr
        assert run_git(toolz_checkout, "status", "--porcelain").stdout == ""


def test_every_candidate_parses_reverts_and_stays_in_its_entity(
    toolz_repo: Path, toolz_generation: Generation, toolz_entities: list[Entity]
) -> None:
    spans = {e.id: (e.start_line, e.end_line) for e in toolz_entities}
    assert len(toolz_generation.candidates) > 300
    assert len({c.id for c in toolz_generation.candidates}) == len(toolz_generation.candidates)
    texts: dict[str, str] = {}
    for i, cand in enumerate(toolz_generation.candidates):
        (rel,) = cand.files
        old = texts.setdefault(rel, (toolz_repo / rel).read_text())
        new = apply_diff({rel: old}, cand.patch)[rel]
        assert new is not None and new != old
        assert apply_diff({rel: new}, reverse_diff(cand.patch)) == {rel: old}
        first, last = spans[cand.entities[0]]
        old_lines, new_lines = old.split("\n"), new.split("\n")
        grown = len(new_lines) - len(old_lines)
        assert new_lines[: first - 1] == old_lines[: first - 1], cand.patch
        assert new_lines[last + grown :] == old_lines[last:], cand.patch
        # the mutated entity parses; every 5th whole file is parsed too (a full parse of each is slow)
        ast.parse(textwrap.dedent("\n".join(new_lines[first - 1 : last + grown])))
        if i % 5 == 0:
            ast.parse(new)


def test_generation_is_deterministic_for_a_seed(
    toolz_repo: Path, toolz_entities: list[Entity], toolz_generation: Generation
) -> None:
    some = [e for e in toolz_entities if e.file == "toolz/itertoolz.py"]
    again = generate_candidates(toolz_repo, some, load_mutators(), seed=0)
    expected = [c.id for c in toolz_generation.candidates if c.files == ["toolz/itertoolz.py"]]
    assert [c.id for c in again.candidates] == expected
    other = generate_candidates(toolz_repo, some, load_mutators(), seed=1)
    assert {c.id for c in other.candidates} != set(expected)
    more = generate_candidates(toolz_repo, some, load_mutators(), seed=0, max_per_entity=3)
    assert len(more.candidates) > len(again.candidates)


def test_counts_cover_every_mutator(toolz_generation: Generation) -> None:
    counts = toolz_generation.counts()
    assert set(counts) == set(CODE) and all(n >= 1 for n in counts.values())


class _BreakSyntax(Mutator):
    name = "break_syntax"
    description = "test mutator: writes invalid code"
    node_types = (ast.Return,)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        return [src.replace(node, "return (")]


class _Respace(Mutator):
    name = "respace"
    description = "test mutator: changes only spacing"
    node_types = (ast.BinOp,)

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        return [src.replace(node, src.segment(node).replace(" ", "  "))]


def test_invalid_and_identical_mutations_are_skipped_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("def f(a, b):\n    return a + b\n")
    gen = generate_candidates(tmp_path, find_entities(tmp_path), [_BreakSyntax(), _Respace()])
    assert gen.candidates == []
    assert [(s.mutator, s.reason) for s in gen.skipped] == [
        ("break_syntax", "syntax_error"),
        ("respace", "identical"),
    ]


class _Outside(Mutator):
    name = "outside"
    description = "test mutator: appends to the end of the file, outside the entity"
    node_types = (ast.Return,)

    def __init__(self, text: str) -> None:
        self.text = text

    def mutate(self, node: ast.AST, rng: random.Random, src: SourceFile) -> list[Edit] | None:
        return [Edit(len(src.text), len(src.text), self.text)]


def test_edits_outside_the_entity_are_diffed_and_parsed_whole(tmp_path: Path) -> None:
    code = "def f(a, b):\n    return a + b\n" + "\n" * 10 + "Z = 0\n"
    (tmp_path / "m.py").write_text(code)
    entities = find_entities(tmp_path)
    good = generate_candidates(tmp_path, entities, [_Outside("Y = 1\n")]).candidates
    assert apply_diff({"m.py": code}, good[0].patch) == {"m.py": code + "Y = 1\n"}
    bad = generate_candidates(tmp_path, entities, [_Outside("Y = (\n")])
    assert bad.candidates == [] and [s.reason for s in bad.skipped] == ["syntax_error"]


def variants(code: str, name: str) -> set[str]:
    """Every text the mutator can make from `code` (all sites, a range of seeds), as changed lines."""
    src = SourceFile("m.py", code)
    mutator = MUTATORS.load(name)()
    out = set()
    for _, _, node in iter_entity_nodes(src.tree):
        for site in mutator.sites(node, src):
            for seed in range(12):
                edits = mutator.mutate(site, random.Random(seed), src)
                if edits:
                    new = apply_edits(code, edits)
                    ast.parse(new)
                    out.add(new)
    return out


def body(code: str) -> str:
    return "def f(a, b, c):\n" + "".join(f"    {line}\n" for line in code.split("\n"))


CASES = [
    ("flip_comparison", "return a < b", {"return a <= b", "return a > b"}),
    ("flip_comparison", "return a not in (b)", {"return a in (b)"}),
    ("swap_bool_op", "return a and b and c", {"return a or b or c"}),
    ("change_arith_op", "a += b * c", {"a -= b * c", "a += b / c", "a += b + c"}),
    ("change_arith_op", "return '%s' % a", set()),
    ("negate_condition", "return a if not b else c", {"return a if b else c"}),
    ("negate_condition", "while a < b:\n    a += 1", {"while not (a < b):\n    a += 1"}),
    ("off_by_one", "return a[-1]", {"return a[-2]", "return a[0]"}),
    ("off_by_one", "return range(len(a))", {"return range(len(a) + 1)", "return range(len(a) - 1)"}),
    ("off_by_one", "return a[b:]", {"return a[b + 1:]", "return a[b - 1:]"}),
    (
        "change_constant",
        "return a * 2 if True else 0",
        {
            "return a * 1 if True else 0",
            "return a * 3 if True else 0",
            "return a * 2 if False else 0",
            "return a * 2 if True else 1",
        },
    ),
    ("swap_call_args", "return g(a, b, *c)", {"return g(b, a, *c)"}),
    ("wrong_return", "return a < b", {"return not (a < b)"}),
    ("wrong_return", "return g(a)", {"return None"}),
    ("wrong_return", "return None", set()),
    ("remove_statement", "a = 1\nreturn a", {"return a"}),
    ("remove_statement", "if a:\n    g(b)", {"if a:\n    pass"}),
    ("remove_guard", "if a is None:\n    return b\nreturn a", {"return a"}),
    ("remove_guard", "if a:\n    b = 1\nreturn b", set()),
    ("remove_raise", "if a:\n    raise ValueError(a)\nreturn a", {"if a:\n    pass\nreturn a"}),
    ("remove_raise", "raise NotImplementedError", set()),
    (
        "remove_loop_jump",
        "for x in a:\n    if x:\n        break\n    b = x\nreturn b",
        {"for x in a:\n    if x:\n        pass\n    b = x\nreturn b"},
    ),
    ("reorder_statements", "a = b\nb = c\nreturn a", {"b = c\na = b\nreturn a", "a = b\nreturn a\nb = c"}),
    ("reorder_statements", "x = 1\ny = 2", set()),
    (
        "swap_if_else",
        "if a:\n    return b\nelse:\n    return c",
        {"if a:\n    return c\nelse:\n    return b"},
    ),
    ("swap_if_else", "if a:\n    return b\nelif c:\n    return c", set()),
]


@pytest.mark.parametrize(
    ("name", "code", "expected"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_mutator_semantics(name: str, code: str, expected: set[str]) -> None:
    assert variants(body(code), name) == {body(x) for x in expected}


def test_change_default_arg() -> None:
    code = "def f(a, b=2, *, flag=False, name='x', none=None):\n    return a\n"
    assert variants(code, "change_default_arg") == {
        code.replace("b=2", "b=1"),
        code.replace("b=2", "b=3"),
        code.replace("flag=False", "flag=True"),
        code.replace("name='x'", "name=''"),
    }


def test_class_mutators() -> None:
    code = "class A(Base, Mixin, metaclass=M):\n    def f(self):\n        pass\n\n    @property\n    def g(self):\n        pass\n"
    assert variants(code, "remove_base_class") == {
        code.replace("Base, Mixin", "Mixin"),
        code.replace("Base, Mixin", "Base"),
    }
    assert variants("class A(Base):\n    x = 1\n", "remove_base_class") == {"class A:\n    x = 1\n"}
    assert variants("class A(object):\n    x = 1\n", "remove_base_class") == set()
    assert variants(code, "remove_method") == {
        code.replace("    def f(self):\n        pass\n", ""),
        code.replace("    @property\n    def g(self):\n        pass\n", ""),
    }
