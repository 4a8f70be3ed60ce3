"""Round trips for every registered format: render an assistant turn, parse it back, get the same calls.

Also: the errors a malformed reply gets (FormatError with an actionable message), and the registry.
"""

from __future__ import annotations

from typing import Any

import pytest
from format_cases import CLOSERS, CODE, TOOLS, assistant, call

from codekiln.core.errors import ConfigError, FormatError
from codekiln.formats import FORMATS, ChatFormat, ParsedTurn, ToolCall, get_format, list_formats

NAMES = list_formats()
XML_FORMATS = [
    "qwen3_coder",
    "qwen3_xml_mixed",
    "glm46",
    "minimax_m2",
    "deepseekv32",
    "xml_cline",
    "harmony_xml",
]

CASES: dict[str, tuple[str, list[dict[str, Any]]]] = {
    "code": (
        "I'll write the file.",
        [call("str_replace_editor", command="create", path="/testbed/g.py", file_text=CODE)],
    ),
    "closing_tags_in_values": (
        "",
        [
            call(
                "str_replace_editor",
                command="str_replace",
                path="/t/x.xml",
                old_str=CLOSERS,
                new_str=CLOSERS[::-1],
            ),
            call("bash", command=f"printf '%s' '{CLOSERS}'"),
        ],
    ),
    "nested_json": (
        "Setting up.",
        [
            call(
                "bash",
                command="env",
                env={"PATH": "/bin", "deep": {"list": [1, 2.5, None, True, {"k": "v"}], "e": {}}},
            )
        ],
    ),
    "several_calls": (
        "Three things at once.",
        [
            call("str_replace_editor", command="view", path="/a", view_range=[1, 40]),
            call("bash", command="ls -la", timeout=2.5, background=False),
            call("submit"),
        ],
    ),
    "types_from_schema": (
        "",
        [
            call("str_replace_editor", command="insert", path="42", new_str="true", insert_line=7),
            call("bash", command="[1, 2]", timeout=3, background=True, note=None, env={"n": 1}),
            call("bash", command="null", note="{}"),
        ],
    ),
    "whitespace_values": ("", [call("bash", command="\n  leading and trailing  \n\n", note=" ")]),
    "text_only": ("Plain answer with <b>markup</b>, [brackets] and {braces}.\nSecond line.", []),
}


def _calls(turn: ParsedTurn) -> list[dict[str, Any]]:
    return [{"name": c.name, "arguments": c.arguments} for c in turn.tool_calls]


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", NAMES)
def test_round_trip(name: str, case: str) -> None:
    fmt = get_format(name)
    content, calls = CASES[case]
    text = fmt.render_assistant(assistant(content, *calls))
    turn = fmt.parse(text, TOOLS)
    assert _calls(turn) == calls
    assert turn.content.strip() == ("" if fmt.calls_only and calls else content.strip())
    assert all(c.id for c in turn.tool_calls)
    again = fmt.parse(fmt.render_assistant(turn.to_message()), TOOLS)  # parsed ids and shapes render again
    assert _calls(again) == calls


@pytest.mark.parametrize("name", XML_FORMATS)
def test_xml_types_come_from_the_schema(name: str) -> None:
    """The same raw text decodes to a string or to JSON depending on the declared parameter type."""
    fmt = get_format(name)
    calls = [call("str_replace_editor", command="view", path="123", insert_line=123, view_range=[1, 2])]
    turn = fmt.parse(fmt.render_assistant(assistant("", *calls)), TOOLS)
    args = turn.tool_calls[0].arguments
    assert args == {"command": "view", "path": "123", "insert_line": 123, "view_range": [1, 2]}
    assert isinstance(args["path"], str) and isinstance(args["insert_line"], int)


@pytest.mark.parametrize("name", [n for n in NAMES if get_format(n).supports_reasoning])
def test_reasoning_round_trips(name: str) -> None:
    fmt = get_format(name)
    msg = assistant("Answer.", call("bash", command="ls"), reasoning="First think\nabout it.")
    turn = fmt.parse(fmt.render_assistant(msg), TOOLS)
    assert turn.reasoning == "First think\nabout it."
    assert _calls(turn) == [call("bash", command="ls")]
    assert fmt.parse(fmt.render_assistant(assistant("Plain.")), TOOLS).reasoning is None


@pytest.mark.parametrize("name", [n for n in NAMES if n != "xml_cline"])  # there, unknown tags are text
def test_unknown_tool_is_a_format_error(name: str) -> None:
    fmt = get_format(name)
    text = fmt.render_assistant(assistant("", call("rm_rf", path="/")))
    with pytest.raises(FormatError) as err:
        fmt.parse(text, TOOLS)
    assert "rm_rf" in err.value.message and "str_replace_editor" in str(err.value)
    assert _calls(fmt.parse(text)) == [call("rm_rf", path="/")]  # without tools any name is accepted


@pytest.mark.parametrize("name", NAMES)
def test_truncated_call_is_a_format_error(name: str) -> None:
    """A reply cut off inside a call is an error, never silently left in the content."""
    fmt = get_format(name)
    text = fmt.render_assistant(
        assistant("Writing.", call("str_replace_editor", command="create", path="/p", file_text=CODE * 3))
    )
    cut = text.index("Hello") + 3
    with pytest.raises(FormatError):
        fmt.parse(text[:cut], TOOLS)


def test_qwen3_coder_errors_tell_the_model_what_to_fix() -> None:
    fmt = get_format("qwen3_coder")
    bare = "<function=bash>\n<parameter=command>\nls\n</parameter>\n</function>"
    with pytest.raises(FormatError, match="not inside <tool_call>"):
        fmt.parse(bare, TOOLS)
    with pytest.raises(FormatError, match="Follow </function> with </tool_call>"):
        fmt.parse(f"<tool_call>\n{bare}", TOOLS)
    with pytest.raises(FormatError, match="Nothing may follow the last </tool_call>"):
        fmt.parse(f"<tool_call>\n{bare}\n</tool_call>\nDone!", TOOLS)
    with pytest.raises(FormatError, match="'timeout' of bash must be number") as err:
        fmt.parse(
            "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n<parameter=timeout>\nten\n</parameter>\n</function>\n</tool_call>",
            TOOLS,
        )
    assert err.value.hint and "JSON" in err.value.hint
    turn = fmt.parse(
        "<tool_call>\n<function=bash>\n<parameter=command>\nls\n</parameter>\n<parameter=background>\nTrue\n</parameter>\n</function>\n</tool_call>",
        TOOLS,
    )
    assert turn.tool_calls[0].arguments == {
        "command": "ls",
        "background": True,
    }  # Python-style bools accepted


def test_json_errors_point_at_the_problem() -> None:
    with pytest.raises(FormatError, match="not valid JSON") as err:
        get_format("hermes").parse(
            '<tool_call>\n{"name": "bash", "arguments": {"command": "ls",}}\n</tool_call>', TOOLS
        )
    assert "<tool_call>" in str(err.value.hint)
    with pytest.raises(FormatError, match="Close each tool call"):
        get_format("hermes").parse('<tool_call>\n{"name": "bash", "arguments": {}}', TOOLS)


def test_native_messages_and_protocol() -> None:
    msg = {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "function": {"name": "bash", "arguments": '{"command": "ls"}'}}],
    }
    turn = ParsedTurn.from_message(msg)
    assert turn.content == "" and turn.tool_calls == [ToolCall("bash", {"command": "ls"}, "c1")]
    assert turn.to_message()["tool_calls"][0]["function"]["arguments"] == '{"command": "ls"}'
    with pytest.raises(FormatError, match="not valid JSON"):
        ToolCall.from_openai({"function": {"name": "bash", "arguments": "{oops"}})
    for name in NAMES:
        fmt = get_format(name)
        assert isinstance(fmt, ChatFormat) and fmt.name == name


def test_registry() -> None:
    assert len(NAMES) >= 17 and len(set(NAMES)) == len(NAMES)
    assert get_format("codekiln.formats.hermes:Hermes").name == "hermes"
    with pytest.raises(ConfigError, match="unknown chat format"):
        get_format("nope")
    assert FORMATS.kind == "chat format"
    import codekiln.formats as formats

    assert sorted(formats.__all__) == sorted(
        [
            "FORMATS",
            "ChatFormat",
            "ParsedTurn",
            "Segment",
            "Tokenizer",
            "ToolCall",
            "get_format",
            "list_formats",
        ]
    )


def test_xml_cline_reads_unknown_tags_as_text() -> None:
    fmt = get_format("xml_cline")
    text = "Here is the page:\n<div>\n<p>hi</p>\n</div>"
    assert fmt.parse(text, TOOLS).tool_calls == []
    assert [c.name for c in fmt.parse(text).tool_calls] == [
        "div"
    ]  # without tools any element with parameters counts
    with pytest.raises(FormatError, match="Close your bash tool use"):
        fmt.parse("Running it.\n<bash>\n<command>ls</command>\n", TOOLS)


@pytest.mark.parametrize("name", NAMES)
def test_arguments_nested_too_deep_are_a_format_error(name: str) -> None:
    """Such arguments could not be rendered back out (encoders recurse), so parse refuses them."""
    fmt = get_format(name)
    deep: Any = "leaf"
    for _ in range(150):
        deep = [deep]
    text = fmt.render_assistant(assistant("", call("bash", command="ls", env={"x": deep})))
    with pytest.raises(FormatError):
        fmt.parse(text, TOOLS)


@pytest.mark.parametrize("name", NAMES)
def test_assistant_turns_end_on_a_stop_string(name: str) -> None:
    """Generation stops right where the trained span ends, and parse accepts the reply without it."""
    fmt = get_format(name)
    stops = fmt.stop_strings()
    for msg in (assistant("Hi."), assistant("", call("bash", command="ls"))):
        text = fmt.render_assistant(msg)
        stop = next(s for s in stops if text.endswith(s))
        assert _calls(fmt.parse(text[: -len(stop)], TOOLS)) == _calls(fmt.parse(text, TOOLS))
