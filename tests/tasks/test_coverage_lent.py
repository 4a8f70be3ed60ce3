"""The coverage map in an environment without coverage.py (tasks.validation.coverage_map.lend_coverage):
codekiln lends its own copy to the coverage run, which then records the same test -> lines map as the
pure-Python tracer it replaces, and the environment's packages are left as they were. A real venv
holding pytest only, a real repository, real bwrap sandboxes."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codekiln.sandbox.base import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.tasks.validation.coverage_map import DATA, LENT, lend_coverage, read_coverage_db
from codekiln.tasks.validation.testexec import COVER_RUNNER, install_runners
from codekiln.testing import make_repo

PYTEST_ONLY = ("_pytest", "pytest", "pluggy", "iniconfig", "packaging", "pygments", "py.py")
PROJECT = {
    "demo/__init__.py": b"def grade(n):\n    if n > 5:\n        return 'high'\n    return 'low'\n",
    "tests/test_demo.py": b"from demo import grade\n\n\ndef test_high():\n    assert grade(9) == 'high'\n\n\n"
    b"def test_low():\n    assert grade(1) == 'low'\n",
}


@pytest.fixture(scope="module")
def bare_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv of this interpreter with pytest and its dependencies, and no coverage.py."""
    venv = tmp_path_factory.mktemp("bare") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    ours = (
        Path(sys.prefix)
        / "lib"
        / f"python{sys.version_info.major}.{sys.version_info.minor}"
        / "site-packages"
    )
    theirs = venv / "lib" / ours.parent.name / "site-packages"
    for name in PYTEST_ONLY:
        (shutil.copytree if (ours / name).is_dir() else shutil.copy2)(ours / name, theirs / name)
    return venv


def _cover(sb: BwrapSandbox, lent: bool) -> dict:
    argv = [
        "python",
        COVER_RUNNER,
        DATA,
        *(["--lent", LENT] if lent else []),
        "--",
        "-q",
        "-p",
        "no:cacheprovider",
        "tests",
    ]
    res = sb.exec(argv, timeout=300, cwd=sb.workdir)
    assert res.exit_code == 0, res.output
    return json.loads(sb.read_file(DATA))


@pytest.mark.root  # bwrap sandboxes
def test_a_lent_coverage_records_the_tracers_map_and_installs_nothing(
    bare_venv: Path, tmp_path: Path
) -> None:
    snapshot = make_repo(tmp_path / "repo", dict(PROJECT))
    with BwrapSandbox(SandboxSpec(snapshot=snapshot, venv=bare_venv)) as sb:
        install_runners(sb)
        assert sb.exec(["python", "-c", "import coverage"], timeout=60).exit_code != 0  # the env has none
        traced = _cover(sb, lent=False)
        assert lend_coverage(sb, bare_venv)
        covered = _cover(sb, lent=True)
        assert sb.exec(["python", "-c", "import coverage"], timeout=60).exit_code != 0  # still none
        db = tmp_path / "coverage.sqlite"
        db.write_bytes(sb.read_file(DATA + ".sqlite"))
        workdir = sb.workdir
    assert (traced["engine"], covered["engine"]) == ("settrace", "coverage")
    assert (
        traced["statuses"]
        == covered["statuses"]
        == {
            "tests/test_demo.py::test_high": "passed",
            "tests/test_demo.py::test_low": "passed",
        }
    )
    # the same test -> lines map of the code under test from both engines
    by_tracer = {int(n): set(c) - {""} for n, c in traced["lines"][f"{workdir}/demo/__init__.py"].items()}
    by_coverage = {n: set(c) - {""} for n, c in read_coverage_db(db, workdir)["demo/__init__.py"].items()}
    assert by_tracer[3] == {"tests/test_demo.py::test_high"} and by_tracer[4] == {
        "tests/test_demo.py::test_low"
    }
    assert {n: c for n, c in by_coverage.items() if c} == {n: c for n, c in by_tracer.items() if c}
