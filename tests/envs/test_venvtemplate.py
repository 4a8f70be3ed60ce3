"""The `venv` step copies a venv made once per interpreter (`envs.venvtemplate`) instead of running
ensurepip in every build: the copy is the venv `python -m venv /opt/venv` makes, and a template that
failed or was interrupted is never used."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from codekiln.envs import EnvRecord, build_env, env_sandbox
from codekiln.envs.recipe import host_interpreter
from codekiln.envs.venvtemplate import seed_venv, template_key, templates_dir
from codekiln.testing import write_files
from codekiln.testing.index import LocalIndex, wheel_of_installed

BUILD = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
PROJECT = BUILD + '[project]\nname = "{name}"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["{name}"]\n'
PYTHON = host_interpreter().executable


def _build(home: Path, wheels: Path, name: str) -> EnvRecord:
    write_files(
        home.parent / name,
        {
            "pyproject.toml": PROJECT.format(name=name),
            f"{name}.py": "def one():\n    return 1\n",
            f"tests/test_{name}.py": f"from {name} import one\n\n\ndef test_one():\n    assert one() == 1\n",
        },
    )
    profile = home / "profiles" / f"{name}.yaml"
    profile.parent.mkdir(parents=True, exist_ok=True)
    with LocalIndex(wheels, None) as index:
        profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index.url}}))
        return build_env(str(home.parent / name))


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_the_second_build_copies_the_venv_the_first_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a fresh home the first build runs `python -m venv` and keeps the result; the second copies it
    (its venv log says so) and gets the same pyvenv.cfg and pip, with scripts that run at /opt/venv."""
    wheels = tmp_path / "wheels"
    for dist in ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "setuptools"):
        wheel_of_installed(dist, wheels)
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    first = _build(tmp_path / "home", wheels, "firstproj")
    second = _build(tmp_path / "home", wheels, "secondproj")
    made, copied = Path(first.logs["venv"]).read_text(), Path(second.logs["venv"]).read_text()
    assert "-m venv /opt/venv" in made and "kept this venv as the template" in made
    assert "copied the venv template" in copied and "-m venv" not in copied
    assert second.baseline == {"tests/test_secondproj.py::test_one": "passed"}

    a, b = Path(first.venv), Path(second.venv)
    cfg = (b / "pyvenv.cfg").read_text()
    assert cfg == (a / "pyvenv.cfg").read_text()
    assert f"command = {PYTHON} -m venv /opt/venv" in cfg
    assert f"home = {Path(PYTHON).parent}" in cfg
    assert (b / "bin" / "pip").read_text().startswith("#!/opt/venv/bin/python")
    pips = {p.name for p in (a / "lib").glob("python*/site-packages/pip-*.dist-info")}
    assert pips and pips == {p.name for p in (b / "lib").glob("python*/site-packages/pip-*.dist-info")}
    with env_sandbox(second) as sb:
        res = sb.exec(["/opt/venv/bin/pip", "--version"], timeout=120)  # the script, through its shebang
    assert res.ok, res.stderr
    version = next(iter(pips)).removeprefix("pip-").removesuffix(".dist-info")
    assert res.stdout.startswith(f"pip {version} from /opt/venv/lib/")


def _fake_venv(dest: Path, marker: str) -> tuple[bool, str]:
    """What `make` leaves: a venv-shaped folder naming who made it."""
    (dest / "bin").mkdir(parents=True, exist_ok=True)
    (dest / "bin" / "tool").write_text(marker)
    (dest / "pyvenv.cfg").write_text(f"made by = {marker}\n")
    return True, f"made by {marker}\n"


def test_a_failed_or_interrupted_template_is_never_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    key = template_key(PYTHON)
    assert key, "the interpreter running the tests has ensurepip"
    root = templates_dir()

    # a failing make: its result is the step's, and nothing is kept
    failed = tmp_path / "failed"
    failed.mkdir()
    assert seed_venv(PYTHON, failed, lambda: (False, "no venv module")) == (False, "no venv module", "")
    assert not (root / key).exists() and not list(root.glob(f".tmp-{key}-*"))

    # a maker killed mid-copy left a temp folder: never copied, removed by the next maker
    stale = root / f".tmp-{key}-killed" / "venv"
    _fake_venv(stale, "killed")
    first = tmp_path / "first"
    first.mkdir()
    ok, log, note = seed_venv(PYTHON, first, lambda: _fake_venv(first, "first"))
    assert (ok, log) == (True, "made by first\n") and "kept" in note
    assert not stale.parent.exists()
    assert (root / key / "pyvenv.cfg").read_text() == "made by = first\n"

    # later builds copy it, mtimes kept (byte-compiled files are checked against them), make not run
    os.utime(first / "bin" / "tool", (1_000_000, 1_000_000))
    os.utime(root / key / "bin" / "tool", (1_000_000, 1_000_000))
    second = tmp_path / "second"
    second.mkdir()
    ok, log, note = seed_venv(PYTHON, second, lambda: (False, "make must not run"))
    assert (ok, log) == (True, "") and str(root / key) in note
    assert (second / "bin" / "tool").read_text() == "first"
    assert (second / "bin" / "tool").stat().st_mtime == 1_000_000
