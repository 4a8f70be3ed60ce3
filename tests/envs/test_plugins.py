"""The environment's pytest plugins load as autoload would load them, through the real build path."""

from __future__ import annotations

from pathlib import Path

import pytest

from codekiln.envs import build_env

pytestmark = pytest.mark.root  # builds an environment in bwrap sandboxes


def write_plugin_project(root: Path) -> Path:
    """A project that is itself a pytest plugin whose entry-point name is also a stdlib module's
    (`socket`, as pytest-socket's is), under `filterwarnings = error`; its test needs the plugin's fixture."""
    (root / "sockplug").mkdir(parents=True)
    (root / "sockplug" / "__init__.py").write_text("")
    (root / "sockplug" / "plugin.py").write_text(
        "import pytest\n\n\n@pytest.fixture\ndef plug_value():\n    return 42\n"
    )
    (root / "tests").mkdir()
    (root / "tests" / "test_plug.py").write_text(
        "def test_fixture(plug_value):\n    assert plug_value == 42\n"
    )
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "sockplug"\nversion = "0.1"\ndependencies = ["pytest"]\n'
        '[project.entry-points.pytest11]\nsocket = "sockplug.plugin"\n'
        '[tool.setuptools]\npackages = ["sockplug"]\n'
        '[tool.pytest.ini_options]\nfilterwarnings = ["error"]\n'
    )
    return root


def test_a_plugin_named_like_an_imported_module_loads_under_warnings_as_errors(tmp_path: Path) -> None:
    """Named with `-p socket`, pytest warned it could not rewrite the already imported `socket` module,
    and `filterwarnings = error` ended the session before any test ran; autoload has no such check."""
    env = build_env(str(write_plugin_project(tmp_path / "sockplug")), redo=True)
    assert env.baseline == {"tests/test_plug.py::test_fixture": "passed"}
