"""What synthesis's coverage map costs over the suite itself: on each built library, the suite run
plainly in the environment's sandbox (`python -m pytest` with the map's options and arguments) and the
map (`build_coverage_map`: the same suite under coverage.py's tracer, one context per test), taking
turns, wall and CPU seconds each, medians and their ratio from the same run (#15).

    CODEKILN_HOME=... nice -n 10 .venv/bin/python bench/coverage_map_cost.py pypi:tomlkit==0.15.2 [SPEC ...] [--rounds 3]

The environments must be built in that CODEKILN_HOME (`codekiln env build SPEC`); nothing is cached
here: each map is built afresh and not written to the environment's cache. CPU is this process tree's
(the cgroup clock of `bench/synth.py`: the sandboxes' processes included), which the machine's load moves
less than wall time; a map whose CPU ratio is near 1 costs what the suite costs, and a cheaper tracer
could save only the difference. When the suite's own cases are sampled (`grading.cases`), the plain side
runs the whole suite, so its ratio is below 1.
"""

from __future__ import annotations

import statistics
import sys
from collections.abc import Callable

from synth import Clock  # the cgroup clock: CPU of this process and everything it starts

from codekiln.envs import EnvRecord, env_sandbox
from codekiln.envs.build import load_env
from codekiln.tasks.validation.coverage_map import build_coverage_map
from codekiln.tasks.validation.testexec import BASE_OPTIONS


def measured(clock: Clock, work: Callable[[EnvRecord], object], env: EnvRecord) -> tuple[float, float]:
    """(wall s, CPU s of this process tree) of `work(env)`."""
    _, cpu, wall = clock.measure(work, env)
    if cpu is None:
        raise SystemExit("no cgroup-v1 cpuacct group could be made: this bench needs its clock (run as root)")
    return wall, cpu


def plain_suite(env: EnvRecord) -> None:
    with env_sandbox(env) as sb:
        argv = ["python", "-m", "pytest", *BASE_OPTIONS, *env.test.args]
        sb.exec(argv, timeout=max(600.0, 5 * env.test.timeout_s), env=env.test.env, cwd=sb.workdir)


def coverage_run(env: EnvRecord) -> None:
    with env_sandbox(env) as sb:
        build_coverage_map(env, sb)


def main(argv: list[str]) -> int:
    rounds = int(argv[argv.index("--rounds") + 1]) if "--rounds" in argv else 3
    specs = [a for i, a in enumerate(argv) if not a.startswith("--") and argv[i - 1] != "--rounds"]
    clock = Clock()
    print("| library | plain wall s | map wall s | wall ratio | plain CPU s | map CPU s | CPU ratio |")
    print("|---|---|---|---|---|---|---|")
    for spec in specs:
        env = load_env(spec)
        sides: dict[str, list[tuple[float, float]]] = {"plain": [], "map": []}
        for _ in range(rounds):
            sides["plain"].append(measured(clock, plain_suite, env))
            sides["map"].append(measured(clock, coverage_run, env))
        med = {
            k: (statistics.median(w for w, _ in v), statistics.median(c for _, c in v))
            for k, v in sides.items()
        }
        (pw, pc), (mw, mc) = med["plain"], med["map"]
        print(
            f"| {env.name} {env.version} | {pw:.1f} | {mw:.1f} | {mw / pw:.2f} | {pc:.1f} | {mc:.1f} | {mc / pc:.2f} |",
            flush=True,
        )
    clock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
