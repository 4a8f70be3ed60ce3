"""The model spec parser, the registry, and the scripted backend (no model needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import codekiln.models as models
from codekiln.core.errors import ConfigError, ModelError
from codekiln.core.protocols import Model
from codekiln.formats import get_format, list_formats
from codekiln.models import make_model, parse_spec
from codekiln.models.scripted import ScriptedModel

BASH = {
    "type": "function",
    "function": {
        "name": "bash",
        "description": "Run a shell command.",
        "parameters": {
            "type": "object",
            "properties": {"command": {"type": "string"}},
            "required": ["command"],
        },
    },
}
MESSAGES = [
    {"role": "system", "content": "You are an agent."},
    {"role": "user", "content": "List the files."},
]
LS = {"content": "", "tool_calls": [{"name": "bash", "arguments": {"command": "ls -la | head -3"}}]}


def test_exported_members() -> None:
    assert models.__all__ == [
        "BACKENDS",
        "DEFAULT_FORMAT",
        "MODELS",
        "Backend",
        "FormatModel",
        "GenerateResult",
        "Model",
        "ModelResponse",
        "TokenModel",
        "Usage",
        "make_model",
        "parse_spec",
    ]
    assert models.MODELS.names() == ["embedded", "openai", "transformers", "scripted"]


@pytest.mark.parametrize(
    ("spec", "parts"),
    [
        ("embedded", ("embedded", None, None)),
        ("embedded:/m/x.gguf", ("embedded", "/m/x.gguf", None)),
        (
            "openai:Qwen/Qwen3-8B@http://10.0.0.2:8000/v1",
            ("openai", "Qwen/Qwen3-8B", "http://10.0.0.2:8000/v1"),
        ),
        ("openai@http://localhost:8000/v1", ("openai", None, "http://localhost:8000/v1")),
        # the URL without a name: it was the model's name, and the default URL was asked instead
        ("openai:http://127.0.0.1:9/v1", ("openai", None, "http://127.0.0.1:9/v1")),
        ("scripted:out.json", ("scripted", "out.json", None)),
    ],
)
def test_parse_spec(spec: str, parts: tuple[str, str | None, str | None]) -> None:
    assert parse_spec(spec) == parts


@pytest.mark.parametrize(
    ("spec", "options", "words"),
    [
        ("", {}, "bad model spec"),
        ("openai:x@", {}, "empty base URL"),
        ("nosuch", {}, "unknown model backend"),
        ("scripted:out.json@http://h/v1", {}, "takes no server URL"),
        ("scripted", {"outputs": [], "colour": "red"}, "bad options for the scripted model"),
    ],
)
def test_bad_specs_say_how_to_fix(spec: str, options: dict, words: str) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        make_model(spec, **options)
    assert info.value.hint


def test_dotted_factory_path(tmp_path: Path) -> None:
    model = make_model("codekiln.models.scripted:ScriptedModel", outputs=["hi"], format="hermes")
    assert isinstance(model, ScriptedModel)
    assert model.chat(MESSAGES).message["content"] == "hi"


def test_scripted_is_a_model() -> None:
    assert isinstance(ScriptedModel(["x"]), Model)


def test_scripted_parses_strings_with_its_format() -> None:
    hermes_call = '<tool_call>\n{"name": "bash", "arguments": {"command": "ls"}}\n</tool_call>'
    model = ScriptedModel([hermes_call, hermes_call, "<tool_call>\n{not json\n</tool_call>"], format="hermes")
    first = model.chat(MESSAGES, [BASH])
    assert first.parse_error is None
    assert first.tool_calls == [
        {"id": first.tool_calls[0]["id"], "name": "bash", "arguments": {"command": "ls"}}
    ]
    assert first.message["tool_calls"][0]["type"] == "function"
    assert json.loads(first.message["tool_calls"][0]["function"]["arguments"]) == {"command": "ls"}
    assert first.text == hermes_call and first.format == "hermes" and first.finish_reason == "stop"
    assert first.usage.prompt_tokens > 0 and first.usage.completion_tokens > 0
    # The prompt it saw is exactly the format's rendering.
    assert model.prompts[0] == get_format("hermes").render_prompt(MESSAGES, [BASH])
    # A call of a tool that is not offered, and broken JSON, are parse errors, not exceptions.
    assert model.chat(MESSAGES, [{**BASH, "function": {**BASH["function"], "name": "shell"}}]).parse_error
    broken = model.chat(MESSAGES, [BASH])
    assert broken.parse_error and broken.tool_calls == [] and broken.message["content"] == broken.text


@pytest.mark.parametrize("fmt", list_formats())
def test_structured_outputs_round_trip_in_every_format(fmt: str) -> None:
    """A message output is written as the format writes it (end of turn cut, like a real stop), then parsed."""
    model = ScriptedModel([LS, "Nothing to do."], format=fmt)
    response = model.chat(MESSAGES, [BASH])
    assert response.parse_error is None, response.text
    assert [(c["name"], c["arguments"]) for c in response.tool_calls] == [
        ("bash", {"command": "ls -la | head -3"})
    ]
    plain = model.chat(MESSAGES, [BASH])
    assert (
        plain.parse_error is None and plain.tool_calls == [] and "Nothing to do." in plain.message["content"]
    )


def test_exhausted_script_raises_and_cycle_wraps() -> None:
    model = ScriptedModel(["a"], format="hermes")
    model.chat(MESSAGES)
    with pytest.raises(ModelError, match="ran out of outputs after 1 turns") as info:
        model.chat(MESSAGES)
    assert info.value.hint and info.value.infra
    cycling = ScriptedModel(["a", "b"], format="hermes", cycle=True)
    assert [cycling.chat(MESSAGES).text for _ in range(5)] == ["a", "b", "a", "b", "a"]


def test_script_files(tmp_path: Path) -> None:
    listed = tmp_path / "out.json"
    listed.write_text(json.dumps(["one", LS]))
    model = make_model(f"scripted:{listed}", format="qwen3_coder")
    assert model.chat(MESSAGES).text == "one"
    assert model.chat(MESSAGES, [BASH]).tool_calls[0]["name"] == "bash"
    lines = tmp_path / "out.jsonl"
    lines.write_text('"first"\n\n{"content": "second"}\n')
    assert [make_model(f"scripted:{lines}").outputs][0] == ["first", {"content": "second"}]
    for bad, words in [
        ("missing.json", "does not exist"),
        ("bad.json", "not valid JSON"),
        ("obj.json", "list of outputs"),
    ]:
        path = tmp_path / bad
        if bad != "missing.json":
            path.write_text("{oops" if bad == "bad.json" else '{"a": 1}')
        with pytest.raises(ConfigError, match=words):
            make_model(f"scripted:{path}")


def test_unknown_format_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown chat format"):
        ScriptedModel(["x"], format="nope")
