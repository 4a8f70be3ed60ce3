"""Sandbox lifecycle benchmark: create -> first exec -> write -> reset -> close, per backend.

    .venv/bin/python bench/sandbox.py                      # 200 iterations on jinja2 3.1.6, bwrap + podman
    .venv/bin/python bench/sandbox.py -n 50 --podman-n 20 --repo /path/to/snapshot --json out.json

Each backend runs the same lifecycle on a real snapshot (default: jinja2's sdist through
`codekiln.repos.add_repo`, the size the target is set for). The baseline, in the same run and
interleaved with bwrap so all see the same machine load, is what a harness without sandboxes does, in
its two best plain forms (codekiln's own copy fallback uses `--reflink=auto` too, so the baselines do):
- "cp -a": `cp -a --reflink=auto` of the snapshot, a plain subprocess in it, a file write, a fresh copy
  for reset, `rm -rf`;
- "git reset": the same copy, but reset by git in place (`git checkout -- . && git clean -fdxq`, which
  touches only what changed; the snapshot is a git checkout).
Ratios are printed against each baseline and against the best of them (lowest total p50). Target: bwrap
total p50 <= 20 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from codekiln.core.protocols import Limits
from codekiln.sandbox import SandboxSpec
from codekiln.sandbox.bwrap import BwrapSandbox
from codekiln.sandbox.bwrap import problem as bwrap_problem
from codekiln.sandbox.podman import PodmanSandbox
from codekiln.sandbox.podman import problem as podman_problem

PHASES = ["create", "exec", "write", "reset", "close"]
TARGET_MS = 20.0
Timings = dict[str, list[float]]


def snapshot_for(repo: str) -> Path:
    if Path(repo).is_dir():
        return Path(repo)
    from codekiln.repos import add_repo

    return Path(add_repo(repo).path)


def lifecycle(open_sb: Callable[[], object], out: Timings) -> None:
    """One create -> exec -> write -> reset -> close, each phase timed into `out` (ms)."""
    t0 = time.perf_counter()
    sb = open_sb()
    t1 = time.perf_counter()
    res = sb.exec("true")  # type: ignore[attr-defined]
    t2 = time.perf_counter()
    sb.write_file("bench_written.py", b"VALUE = 1\n")  # type: ignore[attr-defined]
    t3 = time.perf_counter()
    sb.reset()  # type: ignore[attr-defined]
    t4 = time.perf_counter()
    sb.close()  # type: ignore[attr-defined]
    t5 = time.perf_counter()
    if res.exit_code != 0:
        raise SystemExit(f"exec failed in the benchmark: {res}")
    for phase, a, b in zip(
        [*PHASES, "total"], [t0, t1, t2, t3, t4, t0], [t1, t2, t3, t4, t5, t5], strict=True
    ):
        out.setdefault(phase, []).append((b - a) * 1000)


class CopyBaseline:
    """The lifecycle without a sandbox: a `cp -a` copy and plain subprocesses in it."""

    def __init__(self, snapshot: Path) -> None:
        self.snapshot = snapshot
        self.root = Path(tempfile.mkdtemp(prefix="codekiln-bench-"))
        self.tree = self.root / "tree"
        self._copy()

    def _copy(self) -> None:
        subprocess.run(["cp", "-a", "--reflink=auto", str(self.snapshot), str(self.tree)], check=True)

    def exec(self, cmd: str) -> subprocess.CompletedProcess[bytes]:
        done = subprocess.run(
            ["/bin/bash", "-c", cmd], cwd=self.tree, capture_output=True, timeout=60, check=False
        )
        done.exit_code = done.returncode  # type: ignore[attr-defined]
        return done

    def write_file(self, rel: str, data: bytes) -> None:
        (self.tree / rel).write_bytes(data)

    def reset(self) -> None:
        shutil.rmtree(self.tree)
        self._copy()

    def close(self) -> None:
        shutil.rmtree(self.root)


class GitResetBaseline(CopyBaseline):
    """The copy baseline reset in place by git: only what changed is touched."""

    def reset(self) -> None:
        subprocess.run(
            ["/bin/bash", "-c", "git checkout -q -- . && git clean -fdxq"], cwd=self.tree, check=True
        )
        if (self.tree / "bench_written.py").exists():
            raise SystemExit("the git reset baseline left a written file behind")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200, help="iterations for bwrap and the cp -a baseline")
    ap.add_argument("--podman-n", type=int, default=None, help="iterations for podman (default: -n)")
    ap.add_argument(
        "--repo", default="pypi:jinja2==3.1.6", help="repo spec for codekiln.repos, or a snapshot dir"
    )
    ap.add_argument("--backends", default="bwrap,podman", help="comma-separated: bwrap, podman")
    ap.add_argument("--json", type=Path, help="also write the raw timings here")
    args = ap.parse_args()
    snapshot = snapshot_for(args.repo)
    files = [p for p in snapshot.rglob("*") if p.is_file() and ".git" not in p.parts]
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    venv = Path(sys.prefix) if sys.prefix != sys.base_prefix else None
    spec = SandboxSpec(snapshot=snapshot, venv=venv, limits=Limits(timeout_s=60))
    wanted = args.backends.split(",")
    results: dict[str, Timings] = {"cp -a": {}}
    baselines = ["cp -a"]
    if (snapshot / ".git").is_dir():
        results["git reset"] = {}
        baselines.append("git reset")
    skipped: dict[str, str] = {}
    if "bwrap" in wanted and (reason := bwrap_problem()):
        skipped["bwrap"] = reason
    elif "bwrap" in wanted:
        results["bwrap"] = {}
        lifecycle(lambda: BwrapSandbox(spec), {})  # warm-up: first-use setup is not a lifecycle cost
    for _ in range(args.n):
        lifecycle(lambda: CopyBaseline(snapshot), results["cp -a"])
        if "git reset" in results:
            lifecycle(lambda: GitResetBaseline(snapshot), results["git reset"])
        if "bwrap" in results:
            lifecycle(lambda: BwrapSandbox(spec), results["bwrap"])
    if "podman" in wanted:
        if reason := podman_problem():
            skipped["podman"] = reason
        else:
            results["podman"] = {}
            lifecycle(lambda: PodmanSandbox(spec), {})
            for _ in range(args.podman_n or args.n):
                lifecycle(lambda: PodmanSandbox(spec), results["podman"])

    load = os.getloadavg()
    print(
        f"snapshot: {snapshot} ({len(files)} files, {size_mb:.1f} MB); load average {load[0]:.2f}, {os.cpu_count()} cpus"
    )
    names = list(results)
    print(
        f"{'phase':8s}"
        + "".join(f"{name + ' (n=' + str(len(results[name]['total'])) + ')':>26s}" for name in names)
    )
    for phase in [*PHASES, "total"]:
        cells = [
            f"{pct(results[n][phase], 0.5):9.2f} / {pct(results[n][phase], 0.99):8.2f} ms" for n in names
        ]
        print(
            f"{phase:8s}"
            + "".join(f"{c:>26s}" for c in cells)
            + ("   (p50 / p99)" if phase == "create" else "")
        )
    best = min(baselines, key=lambda name: statistics.median(results[name]["total"]))
    print(f"best plain baseline (lowest total p50): {best}")
    for name in [n for n in names if n not in baselines]:
        mine = statistics.median(results[name]["total"])
        for base_name in baselines:
            base = statistics.median(results[base_name]["total"])
            speed = f"  ({base / mine:.1f}x faster)" if mine < base else ""
            tag = " (best)" if base_name == best else ""
            print(f"ratio {name} / {base_name}{tag} (total p50): {mine / base:.3f}{speed}")
    if "bwrap" in results:
        p50 = statistics.median(results["bwrap"]["total"])
        print(
            f"target bwrap total p50 <= {TARGET_MS:.0f} ms: {'met' if p50 <= TARGET_MS else 'NOT met'} ({p50:.2f} ms)"
        )
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    if args.json:
        args.json.write_text(
            json.dumps({"snapshot": str(snapshot), "load": load, "ms": results, "skipped": skipped})
        )


if __name__ == "__main__":
    main()
