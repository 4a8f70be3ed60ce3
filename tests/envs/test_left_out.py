"""Modules that cannot be collected on the clean snapshot are left out of the environment, not fatal.
(This replaced the profile line `test_args: [tests, --ignore=...]` that the build's hint used to give.)

pydantic's tests/test_docs.py reads docs/, which the sdist lacks; referencing's suite/ is a git submodule
the sdist leaves empty; jmespath's tests import a `tests` package shipped without its __init__.py;
opentelemetry-api's import `opentelemetry.test`, a part of the namespace package that another
distribution (declared by no file of the sdist) provides; pydantic's plugins print their own collection
line and summary in place of pytest's. pytest stops the whole session at one collection error, so each
of these failed the whole build. Built through the real path (bwrap, pip from an index on loopback,
pytest), on a project with one module of each kind; each is left out with its cause (`importcause`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from codekiln.cli.env import app
from codekiln.core.errors import EnvBuildError
from codekiln.envs import EnvRecord, Profile, build_env, env_sandbox, make_recipe
from codekiln.envs.steps import Builder, build_spec
from codekiln.grading import grade_patch, run_tests
from codekiln.repos import ensure_snapshot
from codekiln.sandbox import open_sandbox
from codekiln.tasks.records import TaskRecord
from codekiln.testing import write_files
from codekiln.testing.index import LocalIndex, wheel_of_installed

BUILD = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n'
PROJECT = BUILD + '[project]\nname = "{name}"\nversion = "0.1"\n[tool.setuptools]\npy-modules = ["{name}"]\n'
READS_DOCS = (  # what pydantic's test_docs.py does at import: its parametrization lists docs/
    "from pathlib import Path\n\nimport pytest\n\nDOCS = Path(__file__).parent.parent / 'docs'\n\n\n"
    "@pytest.mark.parametrize('page', sorted(p.name for p in DOCS.iterdir()))\n"
    "def test_page(page):\n    pass\n"
)
OK_TESTS = (
    "from leftproj import double\n\n\ndef test_ok():\n    assert double(2) == 4\n\n\n"
    "def test_wrong():\n    assert double(2) == 5\n"
)
# What pydantic's plugins do (pytest-pretty, pytest-run-parallel): the session's output is theirs, not
# pytest's: a "Collected N items to run in parallel" line and a summary in place of pytest's own.
OWN_OUTPUT = """\
import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    reporter = config.pluginmanager.getplugin("terminalreporter")

    def summary_stats():
        reporter.write_line("Results:")
        for key, reports in reporter.stats.items():
            if key:
                reporter.write_line(f"  {len(reports)} {key}")

    reporter.summary_stats = summary_stats


def pytest_collection_finish(session):
    print(f"Collected {len(session.items)} items to run in parallel")
"""
BREAKS_IMPORT = """\
--- a/leftproj.py
+++ b/leftproj.py
@@ -1,2 +1,2 @@
-def double(x):
+def doubled(x):
     return x * 2
"""


def _build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, files: dict[str, str]) -> EnvRecord:
    wheels = tmp_path / "wheels"
    for dist in ("pytest", "pluggy", "iniconfig", "packaging", "pygments", "setuptools"):
        wheel_of_installed(dist, wheels)
    write_files(tmp_path / name, {"pyproject.toml": PROJECT.format(name=name), **files})
    monkeypatch.setenv("CODEKILN_HOME", str(tmp_path / "home"))
    profile = tmp_path / "home" / "profiles" / f"{name}.yaml"
    profile.parent.mkdir(parents=True, exist_ok=True)
    with LocalIndex(wheels, None) as index:
        profile.write_text(yaml.safe_dump({"install_env": {"PIP_INDEX_URL": index.url}}))
        return build_env(str(tmp_path / name))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[EnvRecord, Path]:
    """The environment of a project with one module that reads docs/ (absent), and its home."""
    tmp = tmp_path_factory.mktemp("leftout")
    files = {
        "leftproj.py": "def double(x):\n    return x * 2\n",
        "tests/test_ok.py": OK_TESTS,
        "tests/test_docs.py": READS_DOCS,
        "tests/test_extra.py": "import ck_declared_nowhere\n\n\ndef test_x():\n    pass\n",
        "tests/needs/conftest.py": "import ck_conftest_dep\n",  # a directory fails: its node id is the directory
        "tests/needs/test_n.py": "def test_n():\n    pass\n",
        "tests/sub/test_more.py": "def test_more():\n    pass\n",
        "tests/conftest.py": OWN_OUTPUT,  # not at the root: a root conftest puts the root on sys.path
        "tests/test_skipmod.py": "import pytest\n\npytest.skip('not here', allow_module_level=True)\n",
        # jmespath's sdist: `tests` has no __init__.py, so `from tests import ...` finds no package
        "tests/helper.py": "HELP = 1\n",
        "tests/test_own_pkg.py": "from tests import helper\n\n\ndef test_h():\n    assert helper.HELP\n",
        # opentelemetry-api's sdist: `opentelemetry.test` is another distribution's part, declared nowhere
        "tests/test_ns_part.py": "from json.testutil import x\n\n\ndef test_s():\n    pass\n",
    }
    with pytest.MonkeyPatch.context() as mp:
        return _build(tmp, mp, "leftproj", files), tmp / "home"


@pytest.fixture
def env(built: tuple[EnvRecord, Path], monkeypatch: pytest.MonkeyPatch) -> EnvRecord:
    """The built environment, with CODEKILN_HOME set to its home (the CLI and the grader read it)."""
    monkeypatch.setenv("CODEKILN_HOME", str(built[1]))
    return built[0]


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_the_module_that_cannot_be_collected_is_left_out_with_its_reason(env: EnvRecord) -> None:
    assert env.baseline == {
        "tests/sub/test_more.py::test_more": "passed",
        "tests/test_ok.py::test_ok": "passed",
        "tests/test_ok.py::test_wrong": "failed",
    }
    assert env.left_out == {
        "tests/needs": "ModuleNotFoundError: No module named 'ck_conftest_dep'; ck_conftest_dep is not "
        "installed: no dependency the build found and installed provides it",
        "tests/test_docs.py": env.left_out["tests/test_docs.py"],
        "tests/test_extra.py": "ModuleNotFoundError: No module named 'ck_declared_nowhere'; ck_declared_nowhere "
        "is not installed: no dependency the build found and installed provides it",
        "tests/test_ns_part.py": "ModuleNotFoundError: No module named 'json.testutil'; json is installed but "
        "has no module testutil, so another distribution provides it (another part of a namespace package, "
        "or another version of json), and the build installed none that does",
        "tests/test_own_pkg.py": "ModuleNotFoundError: No module named 'tests'; tests is the project's own "
        "test directory, which is no package here (its __init__.py is missing: an sdist may leave it out)",
    }
    assert env.left_out["tests/test_docs.py"].startswith("FileNotFoundError:"), env.left_out
    assert env.left_out["tests/test_docs.py"].endswith(
        "; the tests read a file or directory this source lacks (an sdist may leave out docs or data)"
    )
    ignores = [f"--ignore={path}" for path in sorted(env.left_out)]
    assert env.test.args == [*env.recipe.test.args, *ignores]
    assert env.collection_errors.keys() == env.left_out.keys()  # counted as pytest counts them
    assert env.collection_skips.keys() == {"tests/test_skipmod.py"}  # skipped, not left out
    log = Path(env.logs["baseline"]).read_text()
    assert "items to run in parallel" in log and "Results:" in log  # the plugin's output, not pytest's
    assert env.summary_line() == "2 passed, 1 failed, 1 skipped, 5 module(s) left out"


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_env_show_names_it_and_every_later_run_leaves_it_out(env: EnvRecord) -> None:
    shown = CliRunner().invoke(app, ["show", env.id], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "left out" in shown.output and "tests/test_docs.py: FileNotFoundError" in shown.output
    result = CliRunner().invoke(app, ["test", env.id], env={"COLUMNS": "200"})
    assert result.output.rstrip().splitlines()[-1] == "2 passed, 1 failed"
    assert "collection error" not in result.output


@pytest.mark.root  # builds environments in bwrap sandboxes
def test_a_patch_that_breaks_a_module_that_collected_still_fails_it(env: EnvRecord) -> None:
    """The list is the build's: a patch that makes a collected module fail at import does not get it
    left out. Its tests are missing (failed), in a full run and in the grader's."""
    task = TaskRecord(
        instance_id="leftproj-1", repo="leftproj", base_commit=env.snapshot_id, patch="",
        FAIL_TO_PASS=["tests/test_ok.py::test_ok"], PASS_TO_PASS=["tests/sub/test_more.py::test_more"],
    )  # fmt: skip
    assert grade_patch(task, env, "").outcome == "resolved"
    graded = grade_patch(task, env, BREAKS_IMPORT)
    assert (graded.outcome, graded.reason) == ("unresolved", "collection_error")
    assert "tests/test_ok.py" in graded.detail
    with env_sandbox(env) as sb:
        sb.write_file(f"{sb.workdir}/leftproj.py", "def doubled(x):\n    return x * 2\n")
        run = run_tests(sb, env.test)
    assert run.statuses == {} and run.collection_errors.keys() == {"tests/test_ok.py"}


@pytest.mark.root  # runs pytest in bwrap sandboxes
def test_a_suite_where_nothing_collects_still_fails_with_the_cause(env: EnvRecord, tmp_path: Path) -> None:
    """The baseline step of another project on this environment's venv (as shared environments run it)."""
    files = {"noneproj.py": "", "tests/test_docs.py": READS_DOCS, "tests/test_b.py": "import nonesuchmod\n"}
    snap = ensure_snapshot(str(write_files(tmp_path / "noneproj", files)))
    recipe = make_recipe(snap, Profile())
    (tmp_path / "scratch").mkdir()
    builder = Builder(recipe, tmp_path / "scratch")
    with (
        open_sandbox(build_spec(snap, Path(env.venv), recipe, writable=False)) as sb,
        pytest.raises(EnvBuildError) as err,
    ):
        builder.baseline(sb)
    assert (
        "no test ran: 2 module(s) failed to collect (tests/test_b.py, tests/test_docs.py)"
        in err.value.message
    )
    assert "the tests import nonesuchmod: nonesuchmod is not installed" in (err.value.hint or "")
