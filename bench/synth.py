"""Benchmark: validating candidate bugs on toolz 1.2.0, on the same candidate list, the way users run it.

    .venv/bin/python bench/synth.py                       # 150 candidates, naive on all of them
    .venv/bin/python bench/synth.py --candidates 300 --naive-sample 0 --json out.json   # naive on all
    .venv/bin/python bench/synth.py --skip-mutmut
    .venv/bin/python bench/synth.py --skip-naive --repeat 5           # codekiln alone, median of 5

(d) THE DEFAULT PATH, the headline: `synthesize()` exactly as `codekiln synth` runs it (default
    `ValidateConfig`: the grader gate, every task's gold and empty patch confirmed by the grader agents
    face: a shared grader run per batch and the engine's runs, audited by real grades of a sample,
    see `tasks.validation.gate`), end to end: candidate planning, the coverage map (its cache removed
    first, so it is built and counted), validation, the gate and problem statements; one worker.
    Also (d-fast): the same with `--gate fast`, and with `--with-exact` (d-exact): the grader gate
    grading every task's two patches for real (`audit=1`, the gate before the shared run), said so.
    All per candidate, against mutmut's mutants on the same files.
(a) codekiln's validation engine alone: `validate.Validator` (warm engine, covering tests only, 3 runs per side, the fast gold gate,
    problem statements): full task instances. One sandbox, one worker: CPU time is what matters. Run
    `--repeat` times (default 3), taking turns with (a1), the same with one run per side, half of the
    repeats before (b) and (c) and half after them (CPU speed here drifts over minutes, by up to 30%);
    the median CPU and wall times are quoted.
(b) naive: per candidate a fresh `cp -a` copy of the snapshot, the bug applied, the full suite in a new
    pytest process (no sandbox); kept if a test that passed on the clean snapshot does not pass (the
    SWE-smith rule, one run, no gold or flakiness gate). `--naive-sample K` runs it on the first K
    candidates and extrapolates its cost per candidate (said so in the output).
(c) mutmut 3.8.1 (PyPI, installed in its own venv under /tmp) given the same files the candidates
    mutate (every other module listed in `do_not_mutate`), its own mutants: mutants checked per
    CPU-minute.

CPU time is measured with a cgroup-v1 `cpuacct` group holding this process and everything it starts
(sandboxed processes included); without one, CPU = wall time x processes busy (said so). The one-time
cost of the environment's coverage map is reported apart, and amortized over the candidate list.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections import Counter
from pathlib import Path

from synth_baselines import WORK, mutated_files, run_mutmut, run_naive

SPEC = "pypi:toolz==1.2.0"


class Clock:
    """CPU seconds of this process tree (cgroup cpuacct), and wall seconds."""

    def __init__(self) -> None:
        self.group: Path | None = None
        root = Path("/sys/fs/cgroup/cpuacct")
        if root.is_dir() and os.access(root, os.W_OK):
            group = root / f"codekiln-bench-{os.getpid()}"
            try:
                group.mkdir(exist_ok=True)
                (group / "cgroup.procs").write_text(str(os.getpid()))
                self.group = group
            except OSError:
                self.group = None

    def cpu(self) -> float | None:
        return int((self.group / "cpuacct.usage").read_text()) / 1e9 if self.group else None

    def measure(self, fn, *args, **kw):  # type: ignore[no-untyped-def]
        cpu0, wall0 = self.cpu(), time.monotonic()
        value = fn(*args, **kw)
        cpu1, wall = self.cpu(), time.monotonic() - wall0
        return value, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None), wall

    def close(self) -> None:
        if self.group is not None:
            (self.group.parent / "cgroup.procs").write_text(str(os.getpid()))
            try:
                self.group.rmdir()
            except OSError:
                pass


def run_codekiln(env, cmap, entities, candidates, batch: int, reruns: int = 3):  # type: ignore[no-untyped-def]
    from codekiln.tasks.validation.validate import ValidateConfig, Validator

    out = []
    with Validator(env, cmap, entities, ValidateConfig(reruns=reruns, gate="fast")) as v:
        for i in range(0, len(candidates), batch):
            out += v.validate(candidates[i : i + batch])
    return out


def run_default(spec: str, n: int, gate: str) -> tuple[int, int]:
    """`synthesize()` as the CLI runs it, from a cold coverage map, on the first `n` candidates."""
    from codekiln.envs import build_env
    from codekiln.tasks.synth import SynthConfig, synthesize
    from codekiln.tasks.validation.coverage_map import _cache_path
    from codekiln.tasks.validation.validate import ValidateConfig

    _cache_path(build_env(spec)).unlink(missing_ok=True)
    out = WORK / f"default-{gate}"
    validation = {
        "default": ValidateConfig(),
        "fast": ValidateConfig(gate="fast"),
        "exact": ValidateConfig(audit=1.0),
    }[gate]
    config = SynthConfig(spec=spec, out=out, max_tasks=n, max_candidates=n, workers=1, validation=validation)
    result = synthesize(config, redo=True)
    return result.funnel.tried, result.funnel.validated


Runs = dict[str, tuple[list, list, list]]
MODES = {
    "d": " (the default, grader gate: shared run + audit)",
    "d-fast": " with --gate fast",
    "d-exact": " (grader gate with audit=1: every task graded for real)",
}


def take_turns(repeat: int, clock: Clock, settings: dict[str, tuple], seen: Runs) -> None:  # type: ignore[type-arg]
    """Run each setting's (fn, *args) `repeat` times, the settings taking turns (so that all see the
    same spells of a noisy machine); values, CPU and wall seconds go to `seen`."""
    for _ in range(repeat):
        for name, (fn, *args) in settings.items():
            value, cpu, wall = clock.measure(fn, *args)
            for bucket, x in zip(seen.setdefault(name, ([], [], [])), (value, cpu, wall), strict=True):
                bucket.append(x)


def summarize(seen: Runs) -> dict[str, tuple]:  # type: ignore[type-arg]
    """Per setting: its last value, the median CPU and wall seconds (all repeats must decide alike)."""
    out = {}
    for name, (values, cpus, walls) in seen.items():
        keys = [[(d.candidate_id, type(d).__name__) for d in v] for v in values]
        if any(k != keys[0] for k in keys):
            print(f"warning: the repeats of {name} decided differently (flaky tests in the candidate list?)")
        cpu = statistics.median(cpus) if all(c is not None for c in cpus) else None
        out[name] = (values[-1], cpu, statistics.median(walls))
    return out


def per_min(n: float, seconds: float | None) -> float | None:
    return 60.0 * n / seconds if seconds else None


def fmt(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def report_codekiln(summary: dict[str, tuple], n: int) -> tuple[tuple, tuple]:  # type: ignore[type-arg]
    """Print (a) and (a1); their (decisions, CPU s, wall s)."""
    from codekiln.tasks.records import TaskRecord

    decisions, a_cpu, a_wall = summary["a"]
    one, a1_cpu, a1_wall = summary["a1"]
    a_ok = {d.candidate_id for d in decisions if isinstance(d, TaskRecord)}
    reasons = Counter(str(getattr(d, "reason", "task")) for d in decisions)
    print(
        f"(a) codekiln: {len(a_ok)} tasks of {n}; {dict(reasons)}; {fmt(a_cpu)} CPU s, {fmt(a_wall)} s (medians)",
        flush=True,
    )
    a1_ok = {d.candidate_id for d in one if isinstance(d, TaskRecord)}
    print(
        f"(a1) codekiln, 1 run per side (naive's rule): {len(a1_ok)} tasks; {fmt(a1_cpu)} CPU s, {fmt(a1_wall)} s",
        flush=True,
    )
    print(f"(a) vs (a1): {fmt(a_cpu / a1_cpu if a_cpu and a1_cpu else None, 2)}x the CPU time")
    return summary["a"], summary["a1"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=150)
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=0,
        help="run the naive approach on the first K only, its cost extrapolated (0: all)",
    )
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3, help="codekiln runs per setting; medians are quoted")
    parser.add_argument("--skip-naive", action="store_true", help="measure codekiln only (and stop there)")
    parser.add_argument("--skip-mutmut", action="store_true")
    parser.add_argument("--skip-default", action="store_true", help="leave out (d), the default path")
    parser.add_argument("--default-repeat", type=int, default=1, help="runs of (d) and (d-fast); medians")
    parser.add_argument(
        "--with-exact", action="store_true", help="also (d-exact): every task graded for real (audit=1)"
    )
    parser.add_argument("--mutmut-workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)

    from codekiln.envs import build_env
    from codekiln.tasks.records import TaskRecord
    from codekiln.tasks.synth import SynthConfig, plan_candidates
    from codekiln.tasks.validation.coverage_map import coverage_map

    clock = Clock()
    try:
        env = build_env(SPEC)
        cmap, map_cpu, map_wall = clock.measure(coverage_map, env, redo=True)
        entities, candidates, _ = plan_candidates(env, SynthConfig(spec=SPEC, out=WORK / "unused"))
        candidates = candidates[: args.candidates]
        n = len(candidates)
        print(
            f"toolz 1.2.0: {len(entities)} entities, {n} candidates (seed 0); coverage map: {fmt(map_cpu)} CPU s, {fmt(map_wall)} s"
        )

        default: Runs = {}
        if not args.skip_default:
            paths = {"d": (run_default, SPEC, n, "default"), "d-fast": (run_default, SPEC, n, "fast")}
            if args.with_exact:
                paths["d-exact"] = (run_default, SPEC, n, "exact")
            take_turns(args.default_repeat, clock, paths, default)  # type: ignore[arg-type]
            for name, (values, cpus, walls) in default.items():
                tried, ok = values[-1]
                cpu = statistics.median(cpus) if all(c is not None for c in cpus) else None
                print(
                    f"({name}) default path{MODES[name]}: "
                    f"{tried} candidates tried, {ok} tasks; {fmt(cpu)} CPU s, {fmt(statistics.median(walls))} s; "
                    f"{fmt(per_min(tried, cpu or statistics.median(walls)), 0)} candidates/CPU-min",
                    flush=True,
                )

        settings = {
            "a": (run_codekiln, env, cmap, entities, candidates, args.batch),
            "a1": (run_codekiln, env, cmap, entities, candidates, args.batch, 1),
        }
        seen: Runs = {}
        alone = args.skip_naive and args.skip_mutmut
        before = args.repeat if alone else (args.repeat + 1) // 2  # the rest after (b) and (c)
        take_turns(before, clock, settings, seen)
        decisions = seen["a"][0][-1]
        a_ok = {d.candidate_id for d in decisions if isinstance(d, TaskRecord)}
        if args.skip_naive:
            report_codekiln(summarize(seen), n)
            return

        sample = candidates if args.naive_sample <= 0 else candidates[: args.naive_sample]
        suite_s = max(cmap.duration(cmap.tests) / 2, 1.0)
        # generous: a limit for hangs only (one toolz bug makes every attribute miss read package
        # metadata; its fresh-process suite takes ~36 s, where a 20 s limit dropped it)
        naive, b_cpu, b_wall = clock.measure(run_naive, env, sample, max(120.0, 30 * suite_s))
        b_ok = {r["id"] for r in naive if r["kept"]}
        scale = n / len(sample)
        print(
            f"(b) naive on {len(sample)} candidates{' (sample: cost extrapolated)' if scale > 1 else ''}: {len(b_ok)} kept; {fmt(b_cpu)} CPU s, {fmt(b_wall)} s"
        )
        sample_ids = {c.id for c in sample}
        a_in_sample = a_ok & sample_ids
        same = a_in_sample == b_ok
        print(
            f"    same validated set on those {len(sample)}: {same} (codekiln {len(a_in_sample)}, naive {len(b_ok)}, both {len(a_in_sample & b_ok)})"
        )
        if not same:
            for cid in sorted(a_in_sample ^ b_ok):
                d = next(x for x in decisions if x.candidate_id == cid)
                r = next(x for x in naive if x["id"] == cid)
                verdict = "kept" if r["kept"] else ("timed out" if r["timeout"] else "dropped")
                print(
                    f"      {cid}: codekiln {getattr(d, 'reason', 'task')} {getattr(d, 'detail', '')[:100]}; naive {verdict}"
                )

        files = mutated_files(candidates)
        mm = None if args.skip_mutmut else run_mutmut(env, args.mutmut_workers, clock, files)
        take_turns(args.repeat - before, clock, settings, seen)
        (decisions, a_cpu, a_wall), (one, a1_cpu, a1_wall) = report_codekiln(summarize(seen), n)
        a_ok = {d.candidate_id for d in decisions if isinstance(d, TaskRecord)}
        a1_ok = {d.candidate_id for d in one if isinstance(d, TaskRecord)}
        reasons = Counter(str(getattr(d, "reason", "task")) for d in decisions)
        cpu_a = a_cpu if a_cpu is not None else a_wall
        cpu_b = (b_cpu if b_cpu is not None else b_wall) * scale
        rows = [
            ("(a) codekiln", n, len(a_ok), cpu_a, a_wall),
            ("(a) + coverage map", n, len(a_ok), cpu_a + (map_cpu or map_wall), a_wall + map_wall),
            ("(a1) 1 run per side", n, len(a1_ok), a1_cpu if a1_cpu is not None else a1_wall, a1_wall),
            ("(b) naive", n, len(b_ok) * scale, cpu_b, b_wall * scale),
        ]
        print(
            f"\n{'approach':22} {'candidates':>10} {'validated':>9} {'CPU s':>8} {'wall s':>8} {'validated/CPU-min':>18} {'candidates/CPU-min':>19}"
        )
        for name, cands, ok, cpu, wall in rows:
            print(
                f"{name:22} {cands:>10} {ok:>9.0f} {cpu:>8.1f} {wall:>8.1f} {fmt(per_min(ok, cpu)):>18} {fmt(per_min(cands, cpu)):>19}"
            )
        result: dict[str, object] = {
            "candidates": n,
            "cpu_measured": clock.group is not None,
            "coverage_map": {"cpu_s": map_cpu, "wall_s": map_wall},
            "codekiln": {"validated": len(a_ok), "cpu_s": a_cpu, "wall_s": a_wall, "reasons": dict(reasons)},
            "codekiln_1_run": {"validated": len(a1_ok), "cpu_s": a1_cpu, "wall_s": a1_wall},
            "naive": {
                "sample": len(sample),
                "kept": len(b_ok),
                "cpu_s": b_cpu,
                "wall_s": b_wall,
                "same_set": same,
            },
        }
        speedup = per_min(len(a_ok), cpu_a) / per_min(len(b_ok) * scale, cpu_b) if b_ok else None  # type: ignore[operator]
        print(f"\n(a) vs (b), validated tasks per CPU-minute: {fmt(speedup)}x (target >= 10x)")
        if mm is not None:
            info = mm
            m_cpu, m_wall = info["cpu_s"], info["wall_s"]
            m_rate_cpu = per_min(info["mutants"], m_cpu)  # type: ignore[arg-type]
            m_rate_wall = per_min(info["mutants"], m_wall)  # type: ignore[arg-type]
            print(
                f"(c) mutmut: {info['mutants']} mutants {info['statuses']} in {fmt(m_wall)} s on {args.mutmut_workers} workers, "
                f"{fmt(m_cpu)} CPU s: {fmt(m_rate_cpu, 0)} mutants/CPU-min, {fmt(m_rate_wall, 0)} mutants/min wall"
            )
            tested = int(info["mutants"]) - int(info["statuses"].get("no tests", 0))  # type: ignore[arg-type,union-attr]
            m_rate_tested = per_min(tested, m_cpu)  # type: ignore[arg-type]
            print(
                f"    of which {tested} ran tests ('no tests' mutants cost nothing): {fmt(m_rate_tested, 0)} per CPU-min"
            )
            for label, rate in (("(a)", per_min(n, cpu_a)), ("(a1)", per_min(n, a1_cpu or a1_wall))):
                vs_all = rate / m_rate_cpu if rate and m_rate_cpu else None
                vs_tested = rate / m_rate_tested if rate and m_rate_tested else None
                print(
                    f"{label} candidates per CPU-minute vs mutmut's mutants per CPU-minute: {fmt(vs_all, 2)}x (vs those that ran tests: {fmt(vs_tested, 2)}x)"
                )
            result["mutmut"] = {**info, "workers": args.mutmut_workers, "files": files}
            for name, (values, cpus, walls) in default.items():
                tried, ok = values[-1]
                cpu = (
                    statistics.median(cpus) if all(c is not None for c in cpus) else statistics.median(walls)
                )
                rate = per_min(tried, cpu)
                ratio = rate / m_rate_cpu if rate and m_rate_cpu else None
                mode = MODES[name].strip(" ()").removeprefix("with ")
                print(
                    f"HEADLINE ({name}, {mode}): {fmt(rate, 0)} candidates/CPU-min end to end vs mutmut's "
                    f"{fmt(m_rate_cpu, 0)} mutants/CPU-min on the same {len(files)} files: {fmt(ratio, 2)}x (goal >= 1x)"
                )
                result[f"default_{name}"] = {
                    "tried": tried,
                    "tasks": ok,
                    "cpu_s": cpu,
                    "wall_s": statistics.median(walls),
                }
        if clock.group is None:
            print("note: no cgroup cpuacct here: CPU seconds are wall seconds of single-process phases")
        if args.json:
            args.json.write_text(json.dumps(result, indent=2))
    finally:
        clock.close()


if __name__ == "__main__":
    main()
