"""Harbor export of real toolz tasks (recorded from the pipeline, see rollout_support): the folder,
harbor 0.25's own `Task` and `harbor lint`, and trials with podman: the image built from the export alone,
the oracle and the empty solution, and attacks, all graded by tests/test.sh in a separate verifier
container as Harbor runs it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "rollouts"))
import harbor_support as hs
from rollout_support import load, toolz_tasks

import codekiln.grading
from codekiln.core.errors import TaskError
from codekiln.envs import load_env
from codekiln.grading.collateral import graded_pass_to_pass
from codekiln.grading.manifests import scrubbed_manifests
from codekiln.tasks.export.harbor import export_harbor, export_harbor_task, to_toml
from codekiln.tasks.export.harbor_payload import SHIPPED
from codekiln.tasks.records import TaskRecord

PODMAN_PROBLEM = hs.podman_problem()
needs_podman = pytest.mark.skipif(PODMAN_PROBLEM is not None, reason=f"podman cannot run: {PODMAN_PROBLEM}")

CONFTEST_FLIP = """import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    outcome.get_result().outcome = "passed"
"""
FAKE_PYTEST = """import sys
print("1 passed")
sys.exit(0)
"""
FORGE_IN_PROCESS = """

import _pytest.reports as _r
_orig = _r.TestReport.from_item_and_call
def _passed(item, call):
    report = _orig(item, call)
    report.outcome = "passed"
    return report
_r.TestReport.from_item_and_call = staticmethod(_passed)
"""


@pytest.fixture(scope="module")
def toolz_task() -> TaskRecord:
    return load(toolz_tasks())[0]


@pytest.fixture(scope="module")
def exported(toolz_task: TaskRecord, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_harbor_task(toolz_task, tmp_path_factory.mktemp("harbor"))


@pytest.mark.root  # a real task bound to its environment (built in bwrap sandboxes)
def test_folder_layout(toolz_task: TaskRecord, exported: Path) -> None:
    files = sorted(str(p.relative_to(exported)) for p in exported.rglob("*") if p.is_file())
    shipped = [f"tests/codekiln/{name}" for name in (*SHIPPED, "task.json", "state.json")]
    assert files == sorted(
        [
            "environment/Dockerfile", "environment/bug.patch", "environment/prepare.sh",
            "environment/requirements.txt", "environment/testbed.tar.gz", "instruction.md",
            "solution/solve.sh", "task.toml", "tests/test.sh", *shipped,
        ]
    )  # fmt: skip
    meta = tomllib.loads((exported / "task.toml").read_text())
    assert meta["verifier"]["environment_mode"] == "separate" and meta["artifacts"] == ["/testbed"]
    assert {"allow_internet", "memory", "storage"}.isdisjoint(meta["environment"])
    assert meta["environment"]["network_mode"] == "no-network"
    assert meta["metadata"]["codekiln"]["hidden_tests"] == toolz_task.hidden_tests
    env = load_env(toolz_task.environment_id or "")
    docker = (exported / "environment/Dockerfile").read_text()
    assert docker.splitlines()[2] == f"FROM python:{env.recipe.python.version}"
    assert "codekiln-env" not in docker and "tests/" not in docker
    assert "pytest==" in (exported / "environment/requirements.txt").read_text()
    grading = Path(str(codekiln.grading.__file__)).parent
    for name in SHIPPED:  # the verifier ships the grader's own modules, unchanged
        assert (exported / "tests/codekiln" / name).read_bytes() == (grading / name).read_bytes()
    assert "codekiln" not in "".join(
        line for name in SHIPPED for line in (grading / name).read_text().splitlines()
        if line.startswith(("import ", "from ")) and "import guard_check" not in line
    )  # fmt: skip


@pytest.mark.root  # a real task bound to its environment (built in bwrap sandboxes)
def test_export_refuses_incomplete_tasks_and_writes_many(toolz_task: TaskRecord, tmp_path: Path) -> None:
    with pytest.raises(TaskError, match="no problem statement"):
        export_harbor_task(toolz_task.model_copy(update={"problem_statement": " "}), tmp_path)
    with pytest.raises(TaskError, match="names no environment"):
        export_harbor_task(toolz_task.model_copy(update={"environment_id": None}), tmp_path)
    ready = [toolz_task.model_copy(update={"instance_id": f"{toolz_task.instance_id}-{i}"}) for i in range(2)]
    folders = export_harbor(ready, tmp_path / "many")
    assert [f.name for f in folders] == [t.instance_id for t in ready]


def test_toml_writer_escapes() -> None:
    tables = {
        "version": "1.0",
        "metadata": {"tags": ['a"b', "c\\d"], "n": 2, "ok": True, "sub": {"x": "line\nbreak"}},
    }
    assert tomllib.loads(to_toml(tables)) == tables


@pytest.mark.root  # a real task bound to its environment (built in bwrap sandboxes)
@pytest.mark.podman
@needs_podman
def test_harbor_loads_and_lints_the_export(exported: Path, tmp_path: Path) -> None:
    hs.ensure_harbor_image(tmp_path)
    name = exported.name
    loaded = hs.harbor(
        exported.parent,
        "/opt/harbor/bin/python -c 'import sys; from pathlib import Path; from harbor.models.task.task "
        f'import Task; t = Task(Path("/tasks/{name}")); c = t.config; '
        "print(c.verifier.environment_mode.value, c.artifacts, c.environment.memory_mb)'",
    )
    assert loaded.exit_code == 0, loaded.stderr[-3000:]
    assert loaded.stdout.split("\n")[0] == "separate ['/testbed'] 4096"
    lint = hs.harbor(exported.parent, f"/opt/harbor/bin/harbor lint /tasks/{name}")
    assert lint.exit_code == 0, lint.stdout + lint.stderr  # harbor's default rules: no finding
    strict = hs.harbor(exported.parent, f"/opt/harbor/bin/harbor lint --select ALL /tasks/{name}")
    rules = {line.split("[", 1)[1].split("]", 1)[0] for line in strict.stdout.splitlines() if "[" in line}
    assert rules <= {"unpinned-image", "root-agent"}, strict.stdout  # opt-in rules only


@pytest.fixture(scope="module")
def task_image(exported: Path) -> Iterator[str]:
    if PODMAN_PROBLEM is not None:
        pytest.skip(f"podman cannot run: {PODMAN_PROBLEM}")
    tag = hs.build_task_image(exported)
    yield tag
    hs.remove_image(tag)


def _write(rel: str, text: str, append: bool = False) -> str:
    """A shell command that writes `text` to `rel` in the agent's /testbed (heredoc, quoted)."""
    return f"cat {'>>' if append else '>'} {rel} <<'CODEKILN_EOF'\n{text}CODEKILN_EOF\n"


@pytest.mark.podman
@pytest.mark.parametrize(
    ("agent", "reward", "outcome", "finding"),
    [
        pytest.param("bash /solution/solve.sh", "1", "resolved", None, id="oracle"),
        pytest.param("true", "0", "unresolved", None, id="empty"),
        # an honest fix beside scratch files the verifier deletes: it was rejected (binary, executable)
        pytest.param("bash /solution/solve.sh && printf 'x\\000\\377' > debug.bin && printf '#!/bin/sh\\n' > repro.sh"
                     " && chmod +x repro.sh", "1", "resolved", ("reverted", "debug.bin"), id="scratch-beside-the-fix"),
        pytest.param(_write("toolz/conftest.py", CONFTEST_FLIP), "0", "unresolved",
                     ("reverted", "toolz/conftest.py"), id="conftest-flips-reports"),
        pytest.param(_write("pytest.py", FAKE_PYTEST), "0", "unresolved",  # put back (deleted)
                     ("shadows_module", "pytest.py"), id="pytest-at-the-root"),
        pytest.param(_write("toolz/__init__.py", FORGE_IN_PROCESS, append=True), "0", "rejected",
                     ("runner-import", "toolz/__init__.py"), id="forge-reports-in-process"),
    ],
)  # fmt: skip
@pytest.mark.root  # a real task bound to its environment (built in bwrap sandboxes)
def test_trial_through_test_sh(
    task_image: str,
    exported: Path,
    tmp_path: Path,
    agent: str,
    reward: str,
    outcome: str,
    finding: tuple[str, str] | None,
) -> None:
    got, grade = hs.run_trial(task_image, exported, agent, tmp_path / "logs")
    assert (got, grade["outcome"]) == (reward, outcome), grade
    if outcome == "resolved":
        assert set(grade["statuses"].values()) == {"passed"}
        assert all(f["kind"] == "reverted" for f in grade["findings"]) and bool(grade["findings"]) == bool(
            finding
        )
    if finding is not None:
        assert finding in {(f["kind"], f.get("path")) for f in grade["findings"]}, grade["findings"]


@pytest.mark.root  # a real task bound to its environment (built in bwrap sandboxes)
def test_prepare_sh_leaves_no_manifest_naming_the_hidden_tests(
    toolz_task: TaskRecord, exported: Path, tmp_path: Path
) -> None:
    """prepare.sh run on a copy of the snapshot (as the image build runs it on /testbed): the hidden
    tests are gone and the sdist's SOURCES.txt no longer lists them; the other test files stay listed.
    (A first version dropped the lines with grep, which added the final newline the file lacks: the
    verifier saw a changed protected file in every trial.)"""
    snapshot = Path(load_env(toolz_task.environment_id or "").snapshot_path)
    work = tmp_path / "testbed"
    shutil.copytree(snapshot, work, symlinks=True)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["bash", str(exported / "environment/prepare.sh"), str(work)], env=env, check=True)
    listed = (work / "toolz.egg-info/SOURCES.txt").read_text()
    for hidden in toolz_task.hidden_tests:
        assert not (work / hidden).exists() and hidden not in listed
    assert "toolz/tests/test_curried.py" in listed
    # byte for byte what the verifier's state expects (grading.manifests), so no change is seen there
    assert listed == scrubbed_manifests(snapshot, toolz_task.hidden_tests)["toolz.egg-info/SOURCES.txt"]


@pytest.mark.root  # a real task bound to its environment (built in bwrap sandboxes)
def test_the_verifier_grades_the_hidden_files_other_tests_of_an_old_record(tmp_path: Path) -> None:
    """A synthesized record made before PASS_TO_PASS held the hidden files' other clean-passing tests
    ships a verifier that grades them, as codekiln's grader does (`grading.collateral`)."""
    old = next(t for t in load(toolz_tasks()) if not t.PASS_TO_PASS and t.hidden_tests)
    env = load_env(old.environment_id or "")
    settings = json.loads((export_harbor_task(old, tmp_path) / "tests/codekiln/task.json").read_text())
    assert settings["fail_to_pass"] == old.FAIL_TO_PASS
    assert settings["pass_to_pass"] == graded_pass_to_pass(old, env) and len(settings["pass_to_pass"]) >= 10
    assert settings["tests"] == [*old.FAIL_TO_PASS, *settings["pass_to_pass"]]
