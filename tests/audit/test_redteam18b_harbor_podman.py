"""The eighteenth red team (part B), in Harbor's own layout: each exported task's image built with podman
from the export alone, an agent container and a separate verifier container that receives the agent's
/testbed and Harbor's `tests/` upload at /tests, `bash /tests/test.sh` run as root there (the tests as
`nobody`), as `tests/tasks/test_harbor.py` runs Harbor trials; and each task's SWE-bench row run by
swebench 5.0.2's own `run_instance` in its image (podman's Docker API), as
`tests/tasks/test_swebench_export.py` runs it. What the bwrap runs of
`test_redteam18b_verifier_imports.py` and `test_redteam18b_shipped_copies.py` cannot show: the
verifier container's `python3` is the venv's, whose `.pth` holds `/testbed/src`, and `nobody` reads
/tests/codekiln/state.json there; the row's eval script lies at /eval.sh (0644) under the real
harness, and its checks run as root with the tests as `nobody`."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tasks"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import harbor_support as hs
import test_redteam18b_shipped_copies as copies
import test_redteam18b_verifier_imports as imports

from codekiln.envs import EnvRecord
from codekiln.tasks.records import TaskRecord

PODMAN_PROBLEM = hs.podman_problem()
pytestmark = [
    pytest.mark.root,
    pytest.mark.podman,
    pytest.mark.slow,  # ~6 min of image builds; the bwrap files hold each finding in `make test`
    pytest.mark.skipif(PODMAN_PROBLEM is not None, reason=f"podman cannot run: {PODMAN_PROBLEM}"),
]

task = imports.task
copy_task = copies.task


@pytest.fixture(scope="module")
def trials(tmp_path_factory: pytest.TempPathFactory) -> Iterator[hs.Trials]:
    with hs.trials(tmp_path_factory.mktemp("trials")) as made:
        yield made


def test_controls(
    task: tuple[TaskRecord, EnvRecord], copy_task: tuple[TaskRecord, EnvRecord], trials: hs.Trials
) -> None:
    for t, _ in (task, copy_task):
        reward, grade = trials.oracle(t)
        assert (reward, grade["outcome"]) == ("1", "resolved"), grade
        reward, grade = trials.run(t, "true")
        assert reward == "0", grade


def test_harbor_trial_msvcrt(task: tuple[TaskRecord, EnvRecord], trials: hs.Trials) -> None:
    t, _ = task
    reward, grade = trials.run(t, hs.applying(imports.attack_patch("msvcrt")))
    assert grade["outcome"] != "resolved", grade  # the verifier's own verdict: not resolved
    assert reward == "0", grade  # was 1


def test_harbor_trial_state_copy(copy_task: tuple[TaskRecord, EnvRecord], trials: hs.Trials) -> None:
    t, _ = copy_task
    reward, grade = trials.run(t, hs.applying(copies.attack_patch()))
    assert (reward, grade["outcome"]) == ("0", "unresolved"), grade  # was 1, resolved


@pytest.fixture(scope="module")
def row_runs(
    task: tuple[TaskRecord, EnvRecord],
    copy_task: tuple[TaskRecord, EnvRecord],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, dict[str, Any]]]:
    """swebench 5.0.2's own `run_instance` (docker SDK through podman's API) in each task's image built
    from its export alone: gold, empty and the attack on each of the two tasks."""
    pytest.importorskip(
        "swebench", reason="swebench 5.0.2 is not installed: pip install 'codekiln[thirdparty]'"
    )
    import swebench_support as ss

    from codekiln.tasks.export.swebench import export_swebench_bundle, read_rows

    work = tmp_path_factory.mktemp("rows")
    client, service = ss.docker_api(work)
    images, out = [], {}
    here = os.getcwd()
    os.chdir(work)  # run_instance writes its logs under ./logs
    try:
        for name, (t, _), attack in (
            ("msvcrt", task, imports.attack_patch("msvcrt")),
            ("copies", copy_task, copies.attack_patch()),
        ):
            bundle = export_swebench_bundle([t], work / name / "swebench").parent
            (row,) = read_rows(bundle / "swebench.jsonl")
            images.append(ss.build_image(row, bundle))
            for kind, patch in (("gold", t.patch), ("empty", ""), ("attack", attack)):
                out[f"{name}-{kind}"] = ss.harness_run(row, patch, client, f"{name}-{kind}")
        yield out
    finally:
        os.chdir(here)
        service.terminate()
        service.wait(timeout=30)
        for image in images:
            hs.remove_image(image)


def test_row_controls(row_runs: dict[str, dict[str, Any]]) -> None:
    for name in ("msvcrt", "copies"):
        assert row_runs[f"{name}-gold"]["resolved"], name
        assert not row_runs[f"{name}-empty"]["resolved"], name


def test_row_run_instance_msvcrt(row_runs: dict[str, dict[str, Any]]) -> None:
    assert not row_runs["msvcrt-attack"]["resolved"]  # was resolved


def test_row_run_instance_eval_script_copy(row_runs: dict[str, dict[str, Any]]) -> None:
    assert not row_runs["copies-attack"]["resolved"]  # was resolved
