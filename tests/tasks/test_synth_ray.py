"""`synth` on a real Ray cluster of two nodes on this machine (`ray start --head` on a loopback port, and
a second `ray start --address`): the same records as a local run, through the CLI, and the same
records again when a worker process or the whole second node dies mid-run (Ray retries the lost
units; the driver alone writes, so nothing is lost or written twice).

Kept small (three candidates per library, one per unit): the cluster (tests/conftest.py, shared with
the rollout and mine tests on Ray) starts in the background while the local runs go on, and is always
torn down by pid, also when a test fails.
The sandbox-memory test builds one more environment and is opt-in (`--run-slow`).
"""

from __future__ import annotations

import json
import re
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from codekiln.cli.synth import app as synth_app
from codekiln.core.errors import ConfigError
from codekiln.core.executor import ExecutorConfig
from codekiln.core.protocols import Resources
from codekiln.core.ray_executor import RayExecutor
from codekiln.envs import build_env
from codekiln.reports.eval import evaluate_predictions, read_results
from codekiln.tasks.records import TaskRecord
from codekiln.tasks.synth import SynthConfig, read_decisions, read_funnel, synthesize
from codekiln.tasks.synth_unit import ValidateBatch
from codekiln.tasks.validation.coverage_map import coverage_map
from codekiln.tasks.validation.validate import ValidateConfig
from codekiln.testing import make_repo
from codekiln.testing.ray_cluster import LocalRayCluster, RayNode, kill_during

ray = pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'codekiln[ray]')")

pytestmark = pytest.mark.root  # synthesis: environments and validation in bwrap sandboxes

LIBRARIES = {"toolz": "pypi:toolz==1.2.0", "markupsafe": "pypi:markupsafe==3.0.4"}
UNIT = "codekiln:validating"  # the title of a Ray worker running a synth batch


def config(spec: str, out: Path, executor: ExecutorConfig | None = None) -> SynthConfig:
    return SynthConfig(
        spec=spec, out=out, max_tasks=100, max_candidates=3, batch_size=1, workers=2,
        validation=ValidateConfig(gate="fast"), executor=executor or ExecutorConfig(),
    )  # fmt: skip


def records(out: Path) -> dict[str, dict[str, Any]]:
    """The decisions of an output directory by candidate id, without what differs between any two runs
    (when a record was made, and how long its runs took)."""
    found: dict[str, dict[str, Any]] = {}
    for name in ("tasks.jsonl", "rejected.jsonl"):
        for line in (out / name).read_text().splitlines():
            row = json.loads(line)
            row.pop("created_at", None)
            validation = row.get("validation") or {}
            validation.pop("duration_s", None)
            if "detail" in validation:
                validation["detail"] = re.sub(r"\d+(\.\d+)? s\b", "N s", validation["detail"])
            key = row["candidate_id"]
            assert key not in found, f"candidate {key} was decided twice"
            found[key] = row
    return found


@pytest.fixture(scope="module")
def local_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each library synthesized with the local executor."""
    root = tmp_path_factory.mktemp("local")
    for name, spec in LIBRARIES.items():
        assert synthesize(config(spec, root / name)).funnel.tried == 3
    return {name: root / name for name in LIBRARIES}


@pytest.fixture(scope="module")
def local_runs(local_dirs: dict[str, Path]) -> dict[str, dict[str, dict[str, Any]]]:
    """The records of the local runs: what every Ray run must write."""
    return {name: records(out) for name, out in local_dirs.items()}


@pytest.fixture(scope="module")
def cluster(ray_cluster_starting: LocalRayCluster, local_dirs: dict[str, Path]) -> LocalRayCluster:
    """The shared head and second node (tests/conftest.py), each one CPU: up once the local runs are done."""
    return ray_cluster_starting.ready()


def second_node(cluster: LocalRayCluster) -> RayNode:
    return cluster.nodes[1]


def test_synth_over_a_list_of_repositories_on_two_nodes_writes_the_records_of_local_runs(
    cluster: LocalRayCluster, local_runs: dict[str, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    repos = tmp_path / "repos.txt"
    repos.write_text("# two real libraries\n" + "\n".join(LIBRARIES.values()) + "\n")
    out = tmp_path / "many"
    argv = ["--repos", str(repos), "--out", str(out), "--max-candidates", "3", "--batch-size", "1",
            "--workers", "2", "--gate", "fast", "--executor", "ray", "--ray-address", cluster.address]  # fmt: skip
    result = CliRunner().invoke(synth_app, argv)
    assert result.exit_code == 0, result.output
    assert "batches per node" in result.output and "funnel per repository" in result.output
    assert records(out / "repos" / "toolz-1.2.0") == local_runs["toolz"]
    assert records(out / "repos" / "MarkupSafe-3.0.4") == local_runs["markupsafe"]
    assert records(out) == {**local_runs["toolz"], **local_runs["markupsafe"]}  # the one dataset
    funnel = json.loads((out / "funnel.json").read_text())
    assert {name: f["tried"] for name, f in funnel["repos"].items()} == {
        "toolz-1.2.0": 3,
        "MarkupSafe-3.0.4": 3,
    }
    assert funnel["tried"] == 6 and funnel["failed"] == {}
    assert read_funnel(out).candidates == 6  # what `codekiln tasks stats` reads: the whole dataset


def test_a_unit_bigger_than_every_node_is_refused_not_left_waiting(cluster: LocalRayCluster) -> None:
    executor = RayExecutor(address=cluster.address)
    with pytest.raises(ConfigError, match="no node of the Ray cluster can hold one unit"):
        list(executor.map(str, [1], resources=Resources(cpus=1, memory_mb=cluster.memory_mb * 2)))


def test_eval_grades_predictions_on_the_cluster(
    cluster: LocalRayCluster, local_dirs: dict[str, Path], tmp_path: Path
) -> None:
    graded = 0
    for name, out in local_dirs.items():
        tasks = [t for t in read_decisions(out) if isinstance(t, TaskRecord)]
        rows = [{"instance_id": t.instance_id, "model_name_or_path": model, "model_patch": patch}
                for t in tasks for model, patch in (("gold", t.patch), ("empty", ""))]  # fmt: skip
        if not rows:
            continue
        preds = tmp_path / f"{name}.jsonl"
        preds.write_text("".join(json.dumps(row) + "\n" for row in rows))
        where = ExecutorConfig(kind="ray", address=cluster.address)
        summary = evaluate_predictions(out, preds, tmp_path / name, workers=2, executor=where)
        resolved = {(r.instance_id, r.model): r.resolved for r in read_results(tmp_path / name)}
        assert resolved == {
            (t.instance_id, model): model == "gold" for t in tasks for model in ("gold", "empty")
        }
        assert summary.overall.graded == len(rows)
        graded += len(rows)
    assert graded, "the local runs made no task to grade"


def test_a_node_that_cannot_see_the_environment_says_how_to_fix_it(
    cluster: LocalRayCluster, tmp_path: Path
) -> None:
    env = build_env(LIBRARIES["toolz"])  # cached by the local runs
    moved = env.model_copy(update={"snapshot_path": str(tmp_path / "elsewhere")})
    unit = ValidateBatch(moved, coverage_map(env), {}, ValidateConfig(gate="fast"))
    (outcome,) = RayExecutor(address=cluster.address).map(unit, [[]], resources=unit.resources())
    assert outcome.error is not None and outcome.error["type"] == "ConfigError"
    assert f"is not at {tmp_path / 'elsewhere'}" in outcome.error["message"]
    assert "CODEKILN_HOME" in outcome.error["hint"]


MEMLIB = {
    "memlib/__init__.py": (
        "def capped(n, cap=8):\n    if n > cap:\n        return cap\n    return n\n\n\n"
        "def buffer(mib):\n    return b'x' * (capped(mib) * 2**20)  # every byte written\n"
    ),
    "tests/test_mem.py": "from memlib import buffer\n\n\ndef test_buffer():\n    assert len(buffer(3000)) == 8 * 2**20\n",
    "pyproject.toml": (
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "memlib"\nversion = "0.1"\n[tool.setuptools]\npackages = ["memlib"]\n'
    ),
}


@pytest.mark.slow  # builds one more environment (~20-70 s here): kept out of `make test`'s budget
def test_a_bug_that_exhausts_its_sandbox_memory_is_its_candidates_failure(
    cluster: LocalRayCluster, tmp_path: Path
) -> None:
    """A bug that lifts the cap makes the test write 3000 MiB: over the unit's 512 MB, the sandboxed test
    dies of MemoryError and the candidate becomes a task failing that way; the Ray worker, the unit
    and the run go on (with the default 4096 MB the same bug runs into the timeout instead)."""
    lib = make_repo(tmp_path / "memlib", MEMLIB)
    config = SynthConfig(
        spec=str(lib), out=tmp_path / "out", mutators=["flip_comparison", "remove_guard"], batch_size=1,
        sandbox_memory_mb=512, validation=ValidateConfig(gate="fast"),
        executor=ExecutorConfig(kind="ray", address=cluster.address),
    )  # fmt: skip
    result = synthesize(config)
    assert "lost" not in result.per_node and sum(result.per_node.values()) == 2
    tasks = [t for t in read_decisions(tmp_path / "out") if isinstance(t, TaskRecord)]
    assert sorted(m for t in tasks for m in t.mutators) == ["flip_comparison", "remove_guard"]
    assert all("MemoryError" in t.problem_statement for t in tasks)


def fault(
    cluster: LocalRayCluster, kill: str, node: RayNode | None = None
) -> AbstractContextManager[list[int]]:
    """While the block runs, kill a synth unit's worker (or `node`'s raylet) once a unit runs."""
    return kill_during(cluster, UNIT, kill, node)


def ray_config(cluster: LocalRayCluster, out: Path) -> SynthConfig:
    return config(LIBRARIES["toolz"], out, ExecutorConfig(kind="ray", address=cluster.address))


def test_a_worker_killed_mid_run_costs_only_its_unit(
    cluster: LocalRayCluster, local_runs: dict[str, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    with fault(cluster, "worker") as killed:
        result = synthesize(ray_config(cluster, tmp_path / "toolz"))
    assert len(killed) == 1, "no unit was seen running"
    assert "lost" not in result.per_node
    assert records(tmp_path / "toolz") == local_runs["toolz"]


def test_the_second_node_dying_mid_run_costs_only_its_work(
    cluster: LocalRayCluster, local_runs: dict[str, dict[str, dict[str, Any]]], tmp_path: Path
) -> None:
    node = second_node(cluster)
    for attempt in range(3):  # Ray may schedule every unit of a run on the head: the premise needs one here
        out = tmp_path / f"toolz-{attempt}"
        with fault(cluster, "raylet", node) as killed:
            result = synthesize(ray_config(cluster, out))
        if killed:
            break
    assert len(killed) == 1, "no unit was seen running on the second node in 3 runs"
    assert "lost" not in result.per_node
    assert records(out) == local_runs["toolz"]
    deadline = time.monotonic() + 30  # the head marks a node dead after its missed health checks
    while len([n for n in ray.nodes() if n["Alive"]]) > 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len([n for n in ray.nodes() if n["Alive"]]) == 1, "the killed node should be gone from the cluster"
