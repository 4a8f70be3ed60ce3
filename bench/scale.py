"""Benchmark: `synth --repos` over several libraries with the local executor, then on a Ray cluster of one
and of two nodes on this machine (same work, same slots: 2 CPUs in all), Ray's overhead per unit, and a
scaling model for 100 and 1,000 nodes from the measured per-unit costs.

    .venv/bin/python bench/scale.py                                  # toolz + markupsafe, 8 candidates each
    .venv/bin/python bench/scale.py --candidates 16 --json out.json

Each configuration runs `synthesize_repos` from scratch (`redo`; environments and coverage maps are
cached beforehand and not counted), with one candidate per unit (`--batch-size 1`: the most units, so
the per-unit overhead shows), gate `fast`. Each Ray configuration gets a fresh cluster
(`codekiln.testing.ray_cluster`: `ray start` processes on loopback, torn down by pid), so every run
pays for its worker processes and their validators, as the local run pays for its threads' validators.
The records of every run are checked equal to the local run's (timestamps and durations aside).

Rollouts (`--samples N`, 0 to skip): the oracle's episodes over the tasks the local run made, N samples
each, with the local executor (2 threads) and on each cluster: episodes per minute, the per-node split,
and the records checked equal to the local rollouts' (timings aside).

Overhead per unit: 400 no-op units through `LocalExecutor` (threads) and through `RayExecutor` on the
two-node cluster; the difference per unit is Ray's cost of shipping, scheduling and returning a unit,
which the driver pays serially (it bounds the units per second one driver can commit).

The model: a run of U units of u seconds on N nodes of C slots takes about U * (u + o) / (N * C)
seconds while N * C / (u + o) stays under the driver's ceiling 1 / d units per second (d: the measured
driver cost per unit); past it the driver is the bottleneck. Printed for N = 100 and 1,000 with C = 8
(MegaFlow's instance size), beside MegaFlow's published figures (the companion paper of the Qwen3-Coder-Next
report, arXiv 2603.00729: ~100 minutes flat from 1 to 10,000 concurrent tasks, one task per 8-core/16 GB
instance).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("CODEKILN_HOME", str(ROOT / ".codekiln" / "bench-home"))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")

from codekiln.core.executor import ExecutorConfig, LocalExecutor  # noqa: E402
from codekiln.core.ray_executor import RayExecutor  # noqa: E402
from codekiln.core.records import iter_jsonl  # noqa: E402
from codekiln.envs import build_env  # noqa: E402
from codekiln.rollouts import RolloutConfig, run_rollouts  # noqa: E402
from codekiln.tasks.synth import SynthConfig  # noqa: E402
from codekiln.tasks.synth_repos import synthesize_repos  # noqa: E402
from codekiln.tasks.validation.coverage_map import coverage_map  # noqa: E402
from codekiln.tasks.validation.validate import ValidateConfig  # noqa: E402
from codekiln.testing.ray_cluster import LocalRayCluster  # noqa: E402

LIBRARIES = ["pypi:toolz==1.2.0", "pypi:markupsafe==3.0.4"]
MEGAFLOW = "MegaFlow (published): ~100 min flat from 1 to 10,000 concurrent tasks, one 8-core/16 GB instance per task"


def records(out: Path) -> dict[str, dict[str, Any]]:
    found = {}
    for name in ("tasks.jsonl", "rejected.jsonl"):
        for line in (out / name).read_text().splitlines():
            row = json.loads(line)
            row.pop("created_at", None)
            v = row.get("validation") or {}
            v.pop("duration_s", None)
            if "detail" in v:
                v["detail"] = re.sub(r"\d+(\.\d+)? s\b", "N s", v["detail"])
            found[row["candidate_id"]] = row
    return found


def run(
    specs: list[str], out: Path, candidates: int, executor: ExecutorConfig, workers: int
) -> dict[str, Any]:
    config = SynthConfig(
        spec="", out=out, max_tasks=10_000, max_candidates=candidates, batch_size=1, workers=workers,
        validation=ValidateConfig(gate="fast"), executor=executor,
    )  # fmt: skip
    start = time.monotonic()
    result = synthesize_repos(specs, config, redo=True)
    wall = time.monotonic() - start
    tried = result.funnel.tried
    return {
        "wall_s": round(wall, 1), "candidates": tried, "tasks": result.funnel.validated,
        "candidates_per_min": round(tried * 60 / wall, 1), "per_node": dict(result.per_node),
    }  # fmt: skip


def steady(value: Any) -> Any:
    """A rollout record without when it was made and how long things took."""
    if isinstance(value, dict):
        return {
            k: steady(v)
            for k, v in value.items()
            if k not in ("created", "started_at") and not k.endswith("_s")
        }
    if isinstance(value, list):
        return [steady(v) for v in value]
    return value


def rollout_records(out: Path) -> dict[tuple[str, int], Any]:
    return {(row["instance_id"], row["sample"]): steady(row) for row in iter_jsonl(out / "rollouts.jsonl")}


def rollouts(tasks: Path, out: Path, samples: int, executor: ExecutorConfig) -> dict[str, Any]:
    config = RolloutConfig(tasks=tasks, out=out, model="oracle", n=samples, workers=2, executor=executor)
    start = time.monotonic()
    stats = run_rollouts(config, redo=True)
    wall = time.monotonic() - start
    return {
        "wall_s": round(wall, 1), "episodes": stats.done, "resolved": stats.resolved,
        "episodes_per_min": round(stats.done * 60 / wall, 1), "per_node": dict(stats.per_node),
    }  # fmt: skip


def noop(x: int) -> int:
    return x


def overhead(executor: Any, n: int) -> float:
    start = time.monotonic()
    done = sum(1 for _ in executor.map(noop, range(n), desc="noop"))
    assert done == n
    return (time.monotonic() - start) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--candidates", type=int, default=8, help="candidates per library")
    parser.add_argument("--libraries", default=",".join(LIBRARIES))
    parser.add_argument("--noop-units", type=int, default=400)
    parser.add_argument("--samples", type=int, default=2, help="oracle rollouts per task (0: no rollouts)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    specs = args.libraries.split(",")
    for spec in specs:  # cached beforehand: not part of any configuration's time
        coverage_map(build_env(spec))
    tmp = Path(tempfile.mkdtemp(prefix="codekiln-scale-"))
    report: dict[str, Any] = {"libraries": specs, "candidates_per_library": args.candidates}

    print(f"local executor, 2 threads: {len(specs)} libraries x {args.candidates} candidates", flush=True)
    report["local"] = run(specs, tmp / "local", args.candidates, ExecutorConfig(), 2)
    print(f"  {report['local']}", flush=True)
    reference = records(tmp / "local")
    if args.samples:
        report["rollouts_local"] = rollouts(
            tmp / "local", tmp / "rollouts_local", args.samples, ExecutorConfig()
        )
        print(f"  rollouts: {report['rollouts_local']}", flush=True)
        rollout_reference = rollout_records(tmp / "rollouts_local")
    local_noop = overhead(LocalExecutor(2), args.noop_units)

    import ray

    for nodes in (1, 2):
        cpus = 2 // nodes
        with LocalRayCluster(tmp / f"ray{nodes}", cpus=cpus, memory_mb=5000 * cpus) as cluster:
            started = time.monotonic()
            for _ in range(nodes - 1):
                cluster.add_node()
            print(
                f"ray, {nodes} node(s) of {cpus} CPU ({time.monotonic() - started:.0f} s to add nodes)",
                flush=True,
            )
            executor = ExecutorConfig(kind="ray", address=cluster.address)
            key = f"ray_{nodes}_nodes"
            report[key] = run(specs, tmp / key, args.candidates, executor, 0)
            report[key]["records_equal_local"] = records(tmp / key) == reference
            print(f"  {report[key]}", flush=True)
            if args.samples:
                row = rollouts(tmp / "local", tmp / f"rollouts_{key}", args.samples, executor)
                row["records_equal_local"] = rollout_records(tmp / f"rollouts_{key}") == rollout_reference
                report[f"rollouts_{key}"] = row
                print(f"  rollouts: {row}", flush=True)
            if nodes == 2:
                ray_noop = overhead(RayExecutor(address=cluster.address), args.noop_units)
            ray.shutdown()

    units = report["local"]["candidates"]
    u = 2 * report["local"]["wall_s"] / units  # seconds of one slot per unit, measured locally
    o = max(ray_noop - local_noop, 0.0)
    d = ray_noop  # the driver handles one unit at a time: this bounds units per second per driver
    report["overhead"] = {
        "local_noop_ms": round(local_noop * 1e3, 2), "ray_noop_ms": round(ray_noop * 1e3, 2),
        "ray_overhead_per_unit_ms": round(o * 1e3, 2), "unit_s": round(u, 2),
        "overhead_share": round(o / u, 4),
    }  # fmt: skip
    model = {}
    for n_nodes in (100, 1000):
        slots = n_nodes * 8
        rate = min(slots / (u + o), 1 / d)
        model[n_nodes] = {
            "slots": slots, "units_per_s": round(rate, 1), "driver_bound": slots / (u + o) > 1 / d,
            "hours_for_1.6M_candidates": round(1.6e6 / rate / 3600, 2),
        }  # fmt: skip
    report["model"] = model
    print(json.dumps(report["overhead"]), flush=True)
    for n_nodes, row in model.items():
        bound = "driver-bound" if row["driver_bound"] else "slot-bound"
        print(f"model, {n_nodes} nodes x 8 slots: {row['units_per_s']} units/s ({bound}); "
              f"1.6M candidates in {row['hours_for_1.6M_candidates']} h")  # fmt: skip
    print(MEGAFLOW)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
