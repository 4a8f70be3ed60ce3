"""What every command shares: `--option key=value` parsing (one parser for `model`, `rollout` and `thirdparty`)
and how a failure is printed (`error:` + `hint:` on stderr, exit 1, no traceback), through real commands."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.cli.common import parse_options
from codekiln.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_options_read_values_as_yaml_nest_dotted_keys_and_take_files(tmp_path: Path) -> None:
    preset = tmp_path / "preset.yaml"
    preset.write_text("timeout: 30\nextra_body:\n  top_k: 5\n")
    options = parse_options([str(preset), "max_tokens=1024", "extra_body.top_k=20", "stop=[a, b]", "x="])
    assert options == {
        "timeout": 30,
        "extra_body": {"top_k": 20},
        "max_tokens": 1024,
        "stop": ["a", "b"],
        "x": "",
    }
    assert parse_options(None) == {} and parse_options(["url=http://h:1/v1?a=b"]) == {
        "url": "http://h:1/v1?a=b"
    }


@pytest.mark.parametrize("bad", ["max_tokens", "=5", "missing.yaml"])
def test_a_bad_option_says_how_to_write_one(bad: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_options([bad])
    assert err.value.message == f"bad option {bad!r}" and "--option key=value" in str(err.value.hint)


@pytest.mark.parametrize(
    "argv",
    [  # the `codekiln` entry point, and a command module run as `python -m`
        [
            "-c",
            "from codekiln.cli import main; main()",
            "rollout",
            "--tasks",
            "nowhere",
            "--out",
            "OUT",
            "--option",
            "oops",
        ],
        ["-m", "codekiln.cli.rollout", "--tasks", "nowhere", "--out", "OUT", "--option", "oops"],
    ],
)
def test_commands_print_errors_one_way(argv: list[str], tmp_path: Path) -> None:
    argv = [a.replace("OUT", str(tmp_path / "out")) for a in argv]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr.splitlines() == [
        "error: bad option 'oops'",
        "  hint: write --option key=value (e.g. --option max_tokens=1024; dotted keys nest), or give a YAML file"
        " of them",
    ]
    assert "Traceback" not in done.stdout + done.stderr
