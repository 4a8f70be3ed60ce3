"""Dependencies as of a date: real builds against a package index on loopback that says when its files
were uploaded (PEP 691/700), and one that does not. `ckdemo` 1.0 is "uploaded" in 2021 and 2.0 in 2024;
a state of May 2022 gets 1.0, a build with no date gets 2.0, and against the index without upload times
the builder passes no cutoff (pip would reject every file of it) and says so. The indexes also serve
pytest and setuptools (this interpreter's own distributions packed again as wheels, "uploaded" in
2020): nothing is fetched beyond 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from codekiln.cli.env import app as env_app
from codekiln.core.errors import EnvBuildError
from codekiln.envs import EnvRecord, build_env
from codekiln.envs.cutoff import (
    HostPip,
    Source,
    bucket,
    decide,
    host_pip,
    pip_sources,
    probe_index,
    with_cutoff,
)
from codekiln.envs.recipe import Interpreter, Recipe
from codekiln.envs.shared import EnvGroups, fingerprint
from codekiln.grading import TestCommand
from codekiln.repos import ensure_snapshot
from codekiln.testing import write_files
from codekiln.testing.index import LocalIndex, wheel_of_installed, write_wheel

PIP = HostPip("26.3", Path("/pip"), (3, 10))
PYPI = Source("https://pypi.org/simple", local=False, upload_times=True)
TOOLS, BEFORE, AFTER = "2020-01-01T00:00:00Z", "2021-01-10T08:00:00Z", "2024-06-10T08:00:00Z"
STATE = "2022-05-20T12:00:00+02:00"  # between them: its month starts 2022-05-01
PROJECT = {
    "pyproject.toml": '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
    '[project]\nname = "cutoffproj"\nversion = "{v}"\ndependencies = ["ckdemo"]\n'
    '[tool.setuptools]\npy-modules = ["cutoffproj"]\n',
    "cutoffproj.py": "import ckdemo\n\nSEEN = ckdemo.VERSION\n",
    "tests/test_proj.py": "from cutoffproj import SEEN\n\n\ndef test_sees_ckdemo():\n    assert SEEN in ('1.0', '2.0')\n",
}


def test_the_cutoff_is_the_first_instant_of_the_changes_month_in_utc() -> None:
    assert bucket(STATE) == "2022-05-01T00:00:00Z"
    assert bucket("2022-06-01T01:00:00+02:00") == "2022-05-01T00:00:00Z"  # still May 31 in UTC
    assert bucket("2023-12-31T23:59:59Z") == "2023-12-01T00:00:00Z"


def test_a_cutoff_is_applied_only_when_every_remote_index_gives_upload_times() -> None:
    links = Source("/opt/wheels", local=True)
    cutoff, note = decide("2022-05-01T00:00:00Z", PIP, "3.11.7", [PYPI, links])
    assert cutoff == "2022-05-01T00:00:00Z"
    assert (
        "pip 26.3 --uploaded-prior-to, https://pypi.org/simple" in note
        and "not filtered: /opt/wheels" in note
    )
    mirror = Source("https://mirror.example/simple", local=False, upload_times=False, detail="HTML only")
    assert decide("2022-05-01T00:00:00Z", PIP, "3.11.7", [PYPI, mirror]) == (
        "",
        "no cutoff: https://mirror.example/simple gives no upload times (PEP 700 `upload-time` in its JSON "
        "simple API; HTML only), and pip would reject all its files under --uploaded-prior-to",
    )
    private = Source("https://ci:s3cret@pkgs.example/simple", local=False, upload_times=True)
    assert "https://***@pkgs.example/simple" in decide("x", PIP, "3.11.7", [private])[1]  # no token in notes
    gone = Source("https://pypi.org/simple", local=False, upload_times=None, detail="timed out")
    assert (
        decide("x", PIP, "3.11.7", [gone])[1]
        == "no cutoff: could not ask https://pypi.org/simple for upload times (timed out)"
    )
    assert decide("x", PIP, "3.11.7", [Source("file:///opt/pypi/simple", local=True)])[0] == ""
    assert decide("x", PIP, "3.9.18", [PYPI]) == (
        "",
        "no cutoff: codekiln's pip 26.3 runs on Python >= 3.10, this environment's is 3.9.18",
    )
    old = HostPip("25.3", Path("/pip"), (3, 9))
    assert decide("x", old, "3.11.7", [PYPI])[1].startswith(
        "no cutoff: codekiln's pip 25.3 has no --uploaded-prior-to"
    )


def test_the_fingerprint_holds_the_cutoff_month_where_one_is_applied(tmp_path: Path) -> None:
    write_files(tmp_path, {k: v.format(v="1.0") for k, v in PROJECT.items()})
    snap = ensure_snapshot(str(tmp_path))
    recipe = Recipe(
        python=Interpreter(executable="python3", version="3.11", prefix="/usr"), test=TestCommand()
    )
    may, june = (
        recipe.model_copy(update={"cutoff": c}) for c in ("2022-05-01T00:00:00Z", "2022-06-01T00:00:00Z")
    )
    assert fingerprint(snap, may) != fingerprint(snap, june)
    assert fingerprint(snap, may) != fingerprint(snap, recipe)
    noted = recipe.model_copy(update={"cutoff_note": "no cutoff: ..."})  # a note alone changes nothing
    assert fingerprint(snap, noted) == fingerprint(snap, recipe)


@dataclass
class Indexes:
    timed: str
    untimed: str
    project: Path
    home: Path


@pytest.fixture(scope="module")
def indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Indexes]:
    """Both indexes running, the find-links folder and the project, in a CODEKILN_HOME of their own."""
    root = tmp_path_factory.mktemp("cutoff")
    files = root / "files"
    tools = [
        wheel_of_installed(d, files)
        for d in ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "setuptools")
    ]
    old = write_wheel(files, "ckdemo", "1.0", {"ckdemo.py": "VERSION = '1.0'\n"})
    new = write_wheel(files, "ckdemo", "2.0", {"ckdemo.py": "VERSION = '2.0'\n"})
    times = {w.name: TOOLS for w in tools} | {old.name: BEFORE, new.name: AFTER}
    write_files(root / "proj", {k: v.format(v="1.0") for k, v in PROJECT.items()})
    with (
        LocalIndex(files, times) as timed,
        LocalIndex(files, None) as untimed,
        pytest.MonkeyPatch.context() as mp,
    ):
        mp.setenv("CODEKILN_HOME", str(root / "home"))
        yield Indexes(timed.url, untimed.url, root / "proj", root / "home")


def _build(idx: Indexes, index_url: str, deps_date: str) -> EnvRecord:
    profile = idx.home / "profiles" / "cutoffproj.yaml"
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index_url}}))
    return build_env(str(idx.project), deps_date=deps_date)


def _ckdemo(env: EnvRecord) -> str:
    return next(p for p in env.packages if p.startswith("ckdemo=="))


def test_the_build_reads_the_indexes_of_its_install_env_and_the_probe_reads_their_upload_times(
    indexes: Indexes,
) -> None:
    env = {"PIP_INDEX_URL": indexes.timed, "PIP_EXTRA_INDEX_URL": f"file:///srv/simple {indexes.untimed}"}
    sources = pip_sources({**env, "PIP_FIND_LINKS": "/srv/wheels"})
    assert [(s.url, s.local) for s in sources] == [
        (indexes.timed, False), ("file:///srv/simple", True), (indexes.untimed, False), ("/srv/wheels", True),
    ]  # fmt: skip
    assert probe_index(indexes.timed, ("pytest", "ckdemo")).upload_times is True
    assert probe_index(indexes.untimed, ("ckdemo",)).upload_times is False
    missing = probe_index(indexes.timed, ("no-such-project",))
    assert missing.upload_times is None and missing.detail.endswith("/no-such-project/: HTTP 404")


@pytest.mark.root
def test_a_state_between_two_uploads_gets_the_older_one(indexes: Indexes) -> None:
    env = _build(indexes, indexes.timed, STATE)
    assert _ckdemo(env) == "ckdemo==1.0" and list(env.baseline.values()) == ["passed"]
    assert env.recipe.cutoff == "2022-05-01T00:00:00Z"
    note = f"uploaded before 2022-05-01T00:00:00Z (pip {host_pip().version} --uploaded-prior-to, {indexes.timed})"
    assert env.recipe.cutoff_note == note
    assert (
        f"__pip-runner__.py install --no-input --uploaded-prior-to {env.recipe.cutoff}"
        in Path(env.logs["install"]).read_text()
    )
    shown = CliRunner().invoke(env_app, ["show", env.id], env={"COLUMNS": "300"})
    assert shown.exit_code == 0 and f"deps cutoff  {note}" in shown.output, shown.output
    undated = with_cutoff(env.recipe.model_copy(update={"cutoff": "", "cutoff_note": ""}), "")
    assert undated.cutoff == "" == undated.cutoff_note  # no date, no cutoff: what the next test builds


@pytest.mark.root
def test_an_index_without_upload_times_gets_no_cutoff_the_newer_one_and_says_why(indexes: Indexes) -> None:
    env = _build(indexes, indexes.untimed, STATE)  # the same files: the cutoff alone picked 1.0 above
    assert _ckdemo(env) == "ckdemo==2.0" and env.recipe.cutoff == ""
    assert env.recipe.cutoff_note.startswith(f"no cutoff: {indexes.untimed} gives no upload times")
    assert "--uploaded-prior-to" not in Path(env.logs["install"]).read_text()


@pytest.mark.root
def test_a_state_that_needs_a_release_after_its_cutoff_fails_its_build_saying_so(indexes: Indexes) -> None:
    newer = indexes.project.parent / "proj-needs-2"
    write_files(newer, {k: v.format(v="1.2").replace('"ckdemo"', '"ckdemo>=2"') for k, v in PROJECT.items()})
    profile = indexes.home / "profiles" / "cutoffproj.yaml"
    profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": indexes.timed}}))
    with pytest.raises(EnvBuildError) as err:
        build_env(str(newer), deps_date=STATE)
    assert err.value.data.get("step") == "install"
    assert "ckdemo not found before the cutoff" in err.value.message
    assert "uploaded before the cutoff 2022-05-01T00:00:00Z" in (err.value.hint or "")


@pytest.mark.root
def test_states_of_one_month_share_a_venv_and_its_cutoff(indexes: Indexes) -> None:
    _build(indexes, indexes.timed, STATE)  # the profile of the timed index (the env is cached)
    other = indexes.project.parent / "proj-1.1"
    write_files(other, {k: v.format(v="1.1") for k, v in PROJECT.items()})
    groups = EnvGroups()
    first = groups.env_for(ensure_snapshot(str(indexes.project)), STATE)
    later = groups.env_for(ensure_snapshot(str(other)), "2022-05-30T10:00:00Z")
    assert (groups.builds, groups.reused, later.venv) == (0, 1, first.venv)
    assert set(groups.cutoffs.values()) == {first.recipe.cutoff_note}
