"""Benchmark: `codekiln mine` on a real history. The funnel, valid tasks per CPU-minute, and environment
builds per valid task (what dependency-fingerprint grouping saves) against one environment per candidate.

    PYTHONPATH=src .venv/bin/python bench/mine.py --repo PATH_OR_URL --max-commits 120
    PYTHONPATH=src .venv/bin/python bench/mine.py --repo ... --home /tmp/mine-home --json out.json

The run is `mine()` exactly as `codekiln mine` runs it (grader gate), into `--out` (resumable: a rerun
continues, and the rates count only the decisions it made). `--home` sets CODEKILN_HOME (default: a
fresh one under /tmp, so every environment is built and counted; give the same one to resume).

One environment per candidate is not run: its cost is estimated from this run's own measurements,
said so in the output: every candidate that reached the environment step would have had a full build,
at the mean full-build time this run measured, where grouping paid one full build per fingerprint and
a baseline run on every other state.

CPU time is measured with a cgroup-v1 `cpuacct` group (bench/synth.py's `Clock`), which holds this
process and everything it starts, sandboxed processes included; without one, wall time is reported.
Published yields are quoted beside ours for scale only: they come from other repositories, filters and
pipelines.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from synth import Clock  # bench/synth.py, run from bench/

PUBLISHED = [
    (
        "SWE-rebench (2505.20411)",
        "~153,400 PR candidates with code+test changes -> 21,336 valid tasks",
        21336 / 153400,
    ),
    ("SWE-Gym (2412.21139)", "2,438 executable instances from 11 repositories (hand-built envs)", None),
]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repo", required=True, help="checkout, bare repo, bundle or git URL")
    ap.add_argument("--max-commits", type=int, default=120)
    ap.add_argument("--since", default="")
    ap.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "codekiln-bench-mine" / "out")
    ap.add_argument("--home", type=Path, default=None, help="CODEKILN_HOME (default: a fresh one)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="codekiln-bench-mine-home-"))
    os.environ["CODEKILN_HOME"] = str(home)

    from codekiln.envs import load_env
    from codekiln.tasks.history.mine import MineConfig, mine

    config = MineConfig(repo=args.repo, out=args.out, max_commits=args.max_commits, since=args.since)
    clock = Clock()
    try:
        result, cpu, wall = clock.measure(
            mine, config, on_progress=lambda msg, f: print(f"  {msg}", flush=True)
        )
    finally:
        clock.close()
    f = result.funnel
    owners = [json.loads(p.read_text())["env"] for p in (home / "envs" / "groups").glob("*.json")]
    builds = [load_env(e).duration_s for e in owners]
    mean_build = sum(builds) / len(builds) if builds else 0.0
    reached_env = f.tried - f.rejected.get("build_error", 0)  # states whose environment was needed and made
    # every environment in this home: one per state the run reached (a fresh home holds only this run's)
    made = [json.loads(p.read_text()) for p in (home / "envs").glob("*/env.json")]
    grouped_s = sum(float(e.get("duration_s", 0.0)) for e in made)
    valid_new = min(f.validated, result.new_decisions)
    minutes = (cpu if cpu is not None else wall) / 60
    row = {
        "repo": args.repo, "max_commits": args.max_commits, "funnel": f.model_dump(mode="json"),
        "new_decisions": result.new_decisions, "cpu_s": cpu, "wall_s": round(wall, 1),
        "valid_per_cpu_min": round(valid_new / minutes, 3) if minutes and result.new_decisions else None,
        "cpu_measured": cpu is not None, "full_builds": len(builds), "mean_full_build_s": round(mean_build, 1),
        "env_builds_per_valid": round(len(builds) / f.validated, 3) if f.validated else None,
        "one_env_per_candidate_builds": f.tried, "one_env_per_candidate_est_s": round(f.tried * mean_build, 1),
        "grouped_env_s": round(grouped_s, 1), "environments_made": len(made), "states_with_env": reached_env,
        "yield_per_candidate": round(f.validated / f.tried, 4) if f.tried else None,
        "yield_per_commit": round(f.validated / f.commits, 4) if f.commits else None,
    }  # fmt: skip
    print(f"\nfunnel: {f.commits} commits -> {f.candidates} candidates {f.skipped} -> {f.tried} tried -> "
          f"{f.env_ok} env ok -> {f.failing_test_found} failing test found -> {f.validated} valid")  # fmt: skip
    print(f"rejected: {f.rejected}")
    what = "CPU" if cpu is not None else "wall (no cgroup cpuacct: wall time, not CPU)"
    print(
        f"{what} {minutes:.1f} min for {result.new_decisions} new decisions: {row['valid_per_cpu_min']} valid/min"
    )
    print(
        f"environments: {len(builds)} full builds (mean {mean_build:.0f} s) for {f.validated} valid tasks "
        f"({row['env_builds_per_valid']} per valid task); one env per candidate would be {f.tried} builds, "
        f"~{f.tried * mean_build:.0f} s at this run's mean (estimated), against {grouped_s:.0f} s spent "
        f"on {len(made)} environments (builds and baselines) with grouping"
    )
    print(f"yield: {row['yield_per_candidate']} valid per candidate, {row['yield_per_commit']} per commit")
    for name, what_, share in PUBLISHED:
        print(f"  published, {name}: {what_}" + (f" ({share:.1%} of candidates)" if share else ""))
    if args.json:
        args.json.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    sys.exit(main())
