"""What serving stacks read back: text between calls, the call-list-first rendering, Kimi K2's call ids.

- Text between two XML calls gives two calls, as vLLM's qwen3_coder / glm45 / minimax_m2 parsers split it,
  never one call whose argument swallows the rest.
- llama4_pythonic, toolace and xlam_qwen render a turn with calls as the call list alone by default, in a
  shape vLLM's parsers for them accept (the rule each parser applies is restated here from its source);
  `calls_only=False` keeps the text before the list.
"""

from __future__ import annotations

import ast
import json

import pytest
from format_cases import TOOLS, assistant, call, trajectory

from codekiln.core.errors import ConfigError, FormatError
from codekiln.formats import get_format

BETWEEN = {
    "qwen3_coder": (
        "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>\n</tool_call>",
        "<tool_call>\n<function=bash>\n<parameter=command>\ngit status\n</parameter>\n</function>\n</tool_call>",
    ),
    "glm46": (
        "</think><tool_call>bash\n<arg_key>command</arg_key>\n<arg_value>ls</arg_value>\n</tool_call>",
        "<tool_call>bash\n<arg_key>command</arg_key>\n<arg_value>git status</arg_value>\n</tool_call>",
    ),
    "minimax_m2": (
        '<minimax:tool_call>\n<invoke name="bash">\n<parameter name="command">ls</parameter>\n</invoke>\n</minimax:tool_call>',
        '<minimax:tool_call>\n<invoke name="bash">\n<parameter name="command">git status</parameter>\n</invoke>\n'
        "</minimax:tool_call>",
    ),
}


@pytest.mark.parametrize("name", list(BETWEEN))
def test_text_between_two_calls_gives_two_calls(name: str) -> None:
    first, second = BETWEEN[name]
    fmt = get_format(name)
    turn = fmt.parse(f"{first}\nThen I will check git.\n\n{second}", TOOLS)
    assert [c.arguments for c in turn.tool_calls] == [{"command": "ls"}, {"command": "git status"}]
    assert turn.content == ""  # vLLM keeps only the text before the first call as content
    with pytest.raises(FormatError, match="Nothing may follow"):
        fmt.parse(f"{first}\nThe output shows two files.", TOOLS)


CLOSERS = {"qwen3_coder": "</parameter>", "glm46": "</arg_value>", "minimax_m2": "</parameter>"}


@pytest.mark.parametrize("name", list(BETWEEN))
def test_markup_after_a_closing_tag_stays_inside_the_value(name: str) -> None:
    """A value quoting a call followed by more markup is one value; only plain text then a call splits."""
    fmt = get_format(name)
    first, second = BETWEEN[name][0].removeprefix("</think>"), BETWEEN[name][1]
    quoted = f"{first}\nThen {CLOSERS[name]} and\n{second}"
    text = fmt.render_assistant(assistant("", call("bash", command=quoted), call("bash", command="pwd")))
    assert [c.arguments["command"] for c in fmt.parse(text, TOOLS).tool_calls] == [quoted, "pwd"]
    # The documented limit: "end of call, plain text, start of call" verbatim in a value reads as calls.
    verbatim = f"{first}\nThen\n{second}"
    text = fmt.render_assistant(assistant("", call("bash", command=verbatim)))
    assert len(fmt.parse(text, TOOLS).tool_calls) == 2


def _pythonic_list(text: str) -> list[ast.Call]:
    """vLLM's pythonic parsers: the reply must be exactly one list of calls (`ast.parse`, first statement)."""
    body = ast.parse(text).body
    assert len(body) == 1 and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.List)
    assert all(isinstance(e, ast.Call) for e in body[0].value.elts)
    return body[0].value.elts  # type: ignore[return-value]


def _xlam_array(text: str) -> list[object]:
    """vLLM's xlam parser (no fence or tag): the stripped reply must start with '[' and be one JSON array."""
    assert text.strip().startswith("[")
    value = json.loads(text)
    assert isinstance(value, list)
    return value


SERVED = {"llama4_pythonic": _pythonic_list, "toolace": _pythonic_list, "xlam_qwen": _xlam_array}


@pytest.mark.parametrize("name", list(SERVED))
def test_calls_first_rendering_is_what_vllm_parses(name: str) -> None:
    fmt = get_format(name)
    msg = assistant("Let me look first.", call("bash", command="ls -la"), call("submit"))
    text = fmt.render_assistant(msg).removesuffix(fmt.end_of_turn([]))
    assert len(SERVED[name](text)) == 2
    assert fmt.parse(text, TOOLS).content == ""
    assert fmt.render_assistant(assistant("Just text.")).startswith("Just text.")


@pytest.mark.parametrize("name", list(SERVED))
def test_text_before_the_calls_is_an_option(name: str) -> None:
    fmt = get_format(name, calls_only=False)
    msg = assistant("Let me look first.", call("bash", command="ls -la"))
    text = fmt.render_assistant(msg).removesuffix(fmt.end_of_turn([]))
    assert text.startswith("Let me look first.\n[")
    with pytest.raises((AssertionError, SyntaxError, ValueError)):
        SERVED[name](text)  # what vLLM would read as plain text, losing the call
    turn = fmt.parse(text, TOOLS)
    assert turn.content == "Let me look first." and turn.tool_calls[0].arguments == {"command": "ls -la"}


def test_unknown_format_options_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="does not take the options"):
        get_format("qwen3_coder", calls_only=True)


def test_hermes_drops_the_text_before_calls_only_when_asked() -> None:
    """Hermes's template drops a call turn's text; codekiln keeps it unless calls_only=True."""
    msg = assistant("Let me look first.", call("bash", command="ls -la"))
    kept, dropped = (
        get_format("hermes").render_assistant(msg),
        get_format("hermes", calls_only=True).render_assistant(msg),
    )
    assert kept.startswith("Let me look first.\n<tool_call>\n")
    assert (
        dropped == '<tool_call>\n{"name": "bash", "arguments": {"command": "ls -la"}}\n</tool_call><|im_end|>'
    )


def test_kimi_call_ids_count_across_the_conversation() -> None:
    fmt = get_format("kimik2")
    text = fmt.render_prompt(trajectory(), TOOLS, add_generation_prompt=False)
    ids = [part.split("<|tool_call_argument_begin|>")[0] for part in text.split("<|tool_call_begin|>")[1:]]
    assert ids == ["functions.str_replace_editor:0", "functions.str_replace_editor:1", "functions.bash:2"]
    assert text.count("## Return of functions.bash:2") == 1


@pytest.mark.parametrize(
    ("syntax", "written"),
    [
        ("name_args", '[TOOL_CALLS]bash[CALL_ID]callbash0[ARGS]{"command": "ls -la"}</s>'),
        (
            "json_list",
            '[TOOL_CALLS] [{"name": "bash", "arguments": {"command": "ls -la"}, "id": "callbash0"}]</s>',
        ),
    ],
)
def test_mistral3_call_syntaxes_round_trip(syntax: str, written: str) -> None:
    """Mistral Small 3.2's syntax is the default; the earlier JSON list is an option; each parses back."""
    fmt = get_format("mistral3", syntax=syntax)
    msg = assistant("", call("bash", command="ls -la"))
    msg["tool_calls"][0]["id"] = "call_bash_0"
    assert fmt.render_assistant(msg) == written
    turn = fmt.parse(written, TOOLS)
    assert [(c.name, c.arguments) for c in turn.tool_calls] == [("bash", {"command": "ls -la"})]


def test_mistral3_rejects_an_unknown_syntax() -> None:
    with pytest.raises(ConfigError, match="no call syntax 'v7'"):
        get_format("mistral3", syntax="v7")
