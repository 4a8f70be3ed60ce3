"""The model backends table (`codekiln.models.BACKENDS`) is the one description of each backend: the
registry, the spec's ARG keyword and `codekiln model list` all come from it."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from codekiln import models
from codekiln.cli.models import SPEC_HELP, app
from codekiln.models.scripted import ScriptedModel


def test_the_registry_is_the_table() -> None:
    assert {name: b.factory for name, b in models.BACKENDS.items()} == models.MODELS.entries


def test_a_spec_arg_goes_to_the_keyword_the_table_names(tmp_path: Path) -> None:
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(["hello"]))
    model = models.make_model(f"scripted:{outputs}")
    assert isinstance(model, ScriptedModel)
    assert model.chat([{"role": "user", "content": "hi"}]).text == "hello"


def test_model_list_shows_every_backend_from_the_table() -> None:
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    for name, backend in models.BACKENDS.items():
        assert name in result.output and backend.spec in result.output
    assert all(backend.spec in SPEC_HELP for backend in models.BACKENDS.values())
