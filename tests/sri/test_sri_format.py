"""The SRI format without a model or a sandbox: markers, windows, the parser, the applier's outcomes,
answers as diffs, FIM framings, span kinds, corruption and the text scores."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from codekiln.cli.sri import app
from codekiln.core.errors import ConfigError, FormatError
from codekiln.core.patches import apply_diff
from codekiln.sri import (
    Block,
    Problem,
    answer_diff,
    apply_answer,
    apply_block,
    corrupt,
    edit_similarity,
    find_spans,
    parse_blocks,
    render_block,
    score_file,
)
from codekiln.sri.fim import FIM_FAMILIES, family_for_format, get_family
from codekiln.sri.metrics import levenshtein
from codekiln.sri.prompt import ContextView, sri_messages
from codekiln.tasks.frontend.mutators import SourceFile, load_mutators

MARK = "# MIDDLE CODE TO COMPLETE"
CODE = '''def total(items, start=0):
    """Sum with a start."""
    result = start
    for item in items:
        if item is None:
            continue
        result = result + item
    return result


def label(x):
    name = str(x).strip()
    return f"<{name}>"
'''


def numbered(n: int) -> str:
    return "".join(f"x{i} = {i}\n" for i in range(n))


# -- the format ------------------------------------------------------------------------------------------


def test_whole_line_middle_becomes_one_indented_marker_line() -> None:
    start = CODE.index("        result = result")
    end = CODE.index("    return result")
    p = Problem.from_span(CODE, start, end)
    assert p.whole_lines
    assert "\n        " + MARK + "\n    return result\n" in p.prompt_file()
    assert p.prompt_file().count(MARK) == 1


def test_inline_middle_keeps_the_rest_of_its_line() -> None:
    start = CODE.index("item is None")
    p = Problem.from_span(CODE, start, start + len("item is None"))
    assert not p.whole_lines
    assert f"        if {MARK}:\n" in p.prompt_file()


def test_c_like_languages_get_a_block_comment_and_unknown_ones_an_error() -> None:
    text = "int f(int x) {\n    return x + 1;\n}\n"
    start = text.index("x + 1")
    c = Problem.from_span(text, start, start + 5, language="c")
    assert "return /* MIDDLE CODE TO COMPLETE */;" in c.prompt_file()
    with pytest.raises(FormatError, match="no cursor marker for language 'cobol'"):
        Problem.from_span(text, start, start + 5, language="cobol").prompt_file()


@pytest.mark.parametrize(("line", "lo"), [(0, 0), (1, 0), (15, 11), (27, 20), (29, 20)])
def test_window_has_its_size_holds_the_marker_and_stays_inside_the_file(line: int, lo: int) -> None:
    text = numbered(30)
    start = text.index(f"x{line} =")
    p = Problem.from_span(text, start, start + len(f"x{line} = {line}\n"))
    shown = p.prompt_file().splitlines(keepends=True)
    assert shown[line] == MARK + "\n"
    assert p.window_text() == "".join(shown[lo : lo + 10])


def test_window_of_a_short_file_is_the_whole_file() -> None:
    text = "a = 1\nb = 2\n"
    p = Problem.from_span(text, 0, 6)
    assert p.window_text() == p.prompt_file() == f"{MARK}\nb = 2\n"


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(min_value=1, max_value=40),
    data=st.data(),
    window=st.integers(min_value=1, max_value=15),
    indent=st.sampled_from(["", "    ", "\t"]),
)
def test_the_gold_answer_applies_exactly_and_gives_the_gold_file(
    n: int, data: st.DataObject, window: int, indent: str
) -> None:
    text = "".join(f"{indent}v{i} = f({i}, {i * 7 % 5})\n" for i in range(n))
    first = data.draw(st.integers(0, n - 1))
    last = data.draw(st.integers(first, min(n - 1, first + 4)))
    lines = text.splitlines(keepends=True)
    start = sum(map(len, lines[:first]))
    if data.draw(st.booleans()):  # whole lines
        end = sum(map(len, lines[: last + 1]))
    else:  # inside one line: the call's arguments
        start += lines[first].index("(") + 1
        end = start + lines[first][lines[first].index("(") + 1 :].index(")")
    p = Problem.from_span(text, start, end, window=window)
    p.check()
    result = apply_answer(p.prompt_file(), p.gold_answer())
    assert (result.outcome, result.text) == ("exact", text)
    diff = answer_diff("m.py", p.prompt_file(), p.gold_answer())
    assert apply_diff({"m.py": p.prompt_file()}, diff)["m.py"] == text


def test_corruption_outside_the_window_is_refused() -> None:
    text = numbered(40)
    start = text.index("x20 =")
    p = Problem.from_span(text, start, text.index("x21 ="))
    far = p.prefix.replace("x1 = 1\n", "x1 = 2\n")
    bad = Problem(far, p.middle, p.suffix, p.clean_prefix, p.clean_suffix)
    with pytest.raises(FormatError, match="outside the editable window"):
        bad.check()
    near = p.prefix.replace("x18 = 18\n", "x18 = 81\n")
    good = Problem(near, p.middle, p.suffix, p.clean_prefix, p.clean_suffix)
    good.check()
    assert "x18 = 18" in good.gold_window() and "x18 = 81" in good.window_text()
    assert apply_answer(good.prompt_file(), good.gold_answer()).text == text


# -- the parser and the applier --------------------------------------------------------------------------


def test_parser_ignores_prose_and_fences_and_reads_blocks_in_order() -> None:
    answer = "Sure:\n```python\n" + render_block("a\nb", "c") + "```\nand\n" + render_block("d", "") + "done"
    assert parse_blocks(answer) == [Block("a\nb", "c"), Block("d", "")]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ("just code\nx = 1", "holds no SEARCH/REPLACE block"),
        ("<<<<<<< SEARCH\nx = 1\n", "'=======' is missing"),
        ("<<<<<<< SEARCH\nx = 1\n=======\ny = 2\n", "'>>>>>>> REPLACE' is missing"),
    ],
)
def test_parser_errors_say_what_is_missing(answer: str, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parse_blocks(answer)
    assert apply_answer("x = 1\n", answer).outcome == "no_blocks"


TEXT = "def f(x):\n    if x:\n        return 1\n    return 2\n\n\ndef g(x):\n    return 2\n"


@pytest.mark.parametrize(
    ("search", "replace", "outcome", "expected"),
    [
        ("        return 1", "        return 3", "exact", TEXT.replace("return 1", "return 3")),
        ("    if x:\n        return 1\n", "    if x:\n        return 4\n", "exact", TEXT.replace("return 1", "return 4")),
        ("    return 2", "    return 5", "ambiguous", None),
        ("    return 7", "    return 5", "not_found", None),
        ("  \n", "x", "empty_search", None),
        # the model dropped the indentation: matched line by line, replaced lines indented back
        ("if x:\n    return 1", "if not x:\n    return 1", "whitespace",
         TEXT.replace("    if x:\n", "    if not x:\n")),
        # extra indentation and trailing spaces
        ("          return 1   ", "          return 9", "whitespace", TEXT.replace("return 1", "return 9")),
        # blank lines the model added at the end of SEARCH do not count; the shift is the first line's,
        # so the REPLACE lines keep the model's own relative indentation
        ("def g(x):\n  return 2\n\n", "def g(x):\n  return 6", "whitespace", TEXT.replace("g(x):\n    return 2", "g(x):\n  return 6")),
    ],
)  # fmt: skip
def test_applier_outcomes(search: str, replace: str, outcome: str, expected: str | None) -> None:
    text, got = apply_block(TEXT, Block(search, replace))
    assert got == outcome
    assert text == expected


def test_whitespace_match_in_two_places_is_ambiguous() -> None:
    assert apply_block(TEXT, Block("return 2", "return 0")) == (None, "ambiguous")


def test_blocks_apply_in_sequence_and_the_worst_outcome_is_reported() -> None:
    answer = render_block("        return 1", "        return 3") + render_block(
        "  def g(x):\n      return 2", "  def g(x):\n      return 8"
    )
    result = apply_answer(TEXT, answer)
    assert result.blocks == ["exact", "whitespace"] and result.outcome == "whitespace"
    assert result.text == TEXT.replace("return 1", "return 3").replace(
        "g(x):\n    return 2", "g(x):\n    return 8"
    )  # shifted back by 2
    failed = apply_answer(TEXT, answer + render_block("nothing like it", "x"))
    assert (failed.text, failed.outcome, failed.blocks[-1]) == (None, "not_found", "not_found")
    assert "block 3" in failed.message and answer_diff("m.py", TEXT, answer + render_block("zz", "y")) == ""


# -- FIM ---------------------------------------------------------------------------------------------------


def test_fim_prompts_follow_each_family() -> None:
    assert get_family("starcoder").prompt("P", "S") == "<fim_prefix>P<fim_suffix>S<fim_middle>"
    assert get_family("qwen").prompt("P", "S") == "<|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>"
    assert get_family("deepseek").prompt("P", "S") == "<｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>"
    assert get_family("codestral").prompt("P", "S") == "[SUFFIX]S[PREFIX]P"
    assert get_family("prefix").prompt("P", "S") == "P"
    assert get_family("qwen").training_text("P", "M", "S").endswith("<|fim_middle|>M<|endoftext|>")
    with pytest.raises(ConfigError, match="unknown FIM family 'gpt'"):
        get_family("gpt")


def test_fim_middle_is_cut_at_the_end_token_or_where_the_hole_ends() -> None:
    assert get_family("qwen").middle("x + 1<|endoftext|>junk", "") == "x + 1"
    plain = get_family("prefix")
    assert plain.middle("x + 1\nmore lines\n", "", inline=True) == "x + 1"
    output = "        y = 1\n        z = 2\n    return y\n"
    assert plain.middle(output, "    return y\n") == "        y = 1\n        z = 2\n"
    assert plain.middle("        y = 1\n    return y\n", "    return z\n") == "        y = 1\n"


def test_each_chat_format_maps_to_its_fim_family() -> None:
    assert family_for_format("qwen3_coder").name == "qwen"
    assert family_for_format("deepseekv31").name == "deepseek"
    assert family_for_format("hermes").name == "prefix"
    assert family_for_format("qwen3_coder", "embedded").name == "prefix"  # SmolLM2 has no FIM tokens
    assert set(FIM_FAMILIES) == {"starcoder", "qwen", "deepseek", "codestral", "prefix"}


def test_sri_and_fim_see_the_same_context() -> None:
    text = numbered(200)
    start = text.index("x100 =")
    view = ContextView(Problem.from_span(text, start, text.index("x101 =")), "m.py", context_lines=5)
    prefix, suffix = view.fim_parts()
    user = sri_messages(view)[1]["content"]
    assert "lines above omitted" in user and "lines below omitted" in user
    # the window is x96..x105 (the marker in x100's place), then 5 lines each side
    assert prefix.splitlines()[0] == "x91 = 91" and suffix.splitlines()[-1] == "x110 = 110"
    assert prefix in user and suffix.rstrip("\n") in user


# -- spans and corruption ----------------------------------------------------------------------------------


def test_spans_of_every_kind() -> None:
    spans = find_spans("m.py", CODE)
    got = {(s.kind, CODE[s.start : s.end]) for s in spans}
    assert ("line", "    result = start\n") in got
    assert ("block", "        result = result + item\n    return result\n") not in got  # not a branch
    assert ("control_flow", "item is None") in got and ("control_flow", "items") in got
    assert ("api_call", "str(x).strip()") in got and ("api_call", "str(x)") in got
    body = "    result = start\n    for item in items:\n        if item is None:\n            continue\n"
    assert ("function_body", body + "        result = result + item\n    return result\n") in got
    assert not any('"""' in text for _, text in got)  # docstrings are never a middle
    assert ("line", '    return f"<{name}>"\n') in got  # a line holding an f-string is a middle,
    assert not any(text in ("name", "<") for _, text in got)  # a part of one never is
    assert find_spans("bad.py", "def (:\n") == []


def test_corruption_changes_the_window_only_and_the_gold_answer_repairs_it() -> None:
    src = SourceFile("m.py", CODE)
    start = CODE.index("        result = result")
    clean = Problem.from_span(CODE, start, CODE.index("    return result\n"))
    done = corrupt(clean, src, load_mutators(), random.Random(3))
    assert done is not None and done.problem.corrupted and done.mutator
    shown = done.problem
    assert shown.window_text() != clean.window_text()
    assert apply_answer(shown.prompt_file(), shown.gold_answer()).text == CODE
    # the shown middle never contains the corruption: the middle is the gold one
    assert shown.middle == clean.middle


# -- scores --------------------------------------------------------------------------------------------------


def test_edit_similarity() -> None:
    assert levenshtein("kitten", "sitting") == 3
    assert edit_similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert edit_similarity("", "") == 1.0 and edit_similarity("abc", "") == 0.0


def test_scores_of_a_corrupted_problem() -> None:
    text = numbered(30)
    start = text.index("x15 =")
    p = Problem.from_span(text, start, text.index("x16 ="))
    shown = Problem(
        p.prefix.replace("x13 = 13", "x13 = 31"), p.middle, p.suffix, p.clean_prefix, p.clean_suffix
    )
    gold = score_file(shown, text)
    assert (gold.exact, gold.edit_similarity, gold.repaired) == (True, 1.0, True)
    fim_like = score_file(shown, shown.prefix + shown.middle + shown.suffix)  # the middle right, not repaired
    assert (fim_like.exact, fim_like.repaired, fim_like.edit_similarity) == (False, False, 1.0)
    half = score_file(shown, shown.prefix + "x15 = 1\n" + shown.suffix)  # the middle half right
    assert half.edit_similarity == pytest.approx(1 - 1 / len(shown.middle))
    # an SRI answer that rewrote other lines too is compared over the window
    other = text.replace("x12 = 12", "x12 = 0")
    assert score_file(shown, other).edit_similarity == pytest.approx(
        edit_similarity(other[other.index("x11") : other.index("x21")], shown.gold_window())
    )
    assert score_file(shown, None) == type(gold)(False, 0.0, False)
    assert score_file(p, None).repaired is None


def test_cli_refuses_unknown_kinds_targets_and_modes(tmp_path: Path) -> None:
    runner = CliRunner()
    made = runner.invoke(app, ["make", "pypi:toolz==1.2.0", "--out", str(tmp_path), "--kinds", "line,loop"])
    assert made.exit_code != 0 and "unknown span kinds: loop" in str(made.exception)
    tasks = runner.invoke(app, ["tasks", str(tmp_path), "--out", str(tmp_path / "o"), "--targets", "patch"])
    assert "bad --targets 'patch'" in str(tasks.exception)
    evaluated = runner.invoke(app, ["eval", str(tmp_path), "--out", str(tmp_path / "e"), "--modes", "chat"])
    assert "bad --modes 'chat'" in str(evaluated.exception)


@settings(max_examples=100, deadline=None)
@given(
    data=st.data(), shift=st.integers(min_value=-4, max_value=4), trailing=st.sampled_from(["", " ", "\t "])
)
def test_whitespace_fallback_finds_a_uniformly_reindented_search(
    data: st.DataObject, shift: int, trailing: str
) -> None:
    depth = data.draw(st.lists(st.integers(1, 3), min_size=3, max_size=20))
    lines = [f"{'    ' * d}s{i} = {i}" for i, d in enumerate(depth)]
    text = "\n".join(lines) + "\n"
    first = data.draw(st.integers(0, len(lines) - 1))
    last = data.draw(st.integers(first, len(lines) - 1))
    run = lines[first : last + 1]
    shift = max(shift, -min(len(x) - len(x.lstrip()) for x in run))  # never below column 0

    def moved(line: str) -> str:
        return (" " * shift + line if shift >= 0 else line[-shift:]) + trailing

    search = "\n".join(moved(x) for x in run)
    replace = "\n".join(moved(x.replace(" = ", " += ")) for x in run)
    result, outcome = apply_block(text, Block(search, replace))
    expected = (
        "\n".join([*lines[:first], *(x.replace(" = ", " += ") for x in run), *lines[last + 1 :]]) + "\n"
    )
    if shift == 0 and not trailing:
        assert outcome == "exact"
    else:
        assert outcome == "whitespace"
        assert result is not None
        assert [x.rstrip() for x in result.split("\n")] == expected.split("\n")
