"""Where a test module's fixture-library set-up spends its time (#16): the environment build, step by
step, against the synthesis run on it, each in a fresh CODEKILN_HOME as `make test` on a fresh checkout
meets it. Wall and CPU seconds (the cgroup clock of `bench/synth.py`: the sandboxes' processes
included, which the machine's load moves less than wall time), medians over the rounds, and the share
of the set-up's CPU that synthesis takes: recorded tasks (`codekiln.testing.recorded`) can save only that
share, since grading still needs the environment built here.

    nice -n 10 .venv/bin/python bench/fixture_setup.py tests/audit/test_redteam11_data.py:LIBRARY:4 [--rounds 3]

MODULE:NAME:TASKS names a test module, its dict of fixture files and how many tasks its fixture asks for.
The pip cache and the venv templates (`codekiln.envs.venvtemplate`) are shared by the rounds (the
first fills them), so later rounds see what a full run sees once earlier tests have filled them: the
first round's `venv` step runs `python -m venv` and keeps it, later rounds copy it. Also, `--venv`: the environment's `venv` step is `python -m venv`,
whose ensurepip installs and byte-compiles pip and setuptools every time; against it, the copy of one
venv seeded once that builds now make (`venvtemplate.copy_tree`) (every environment's venv is /opt/venv in its sandbox, so one seeded venv fits all of
an interpreter's environments).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from synth import Clock  # the cgroup clock: CPU of this process and everything it starts

from codekiln.envs.venvtemplate import copy_tree

TESTS = Path(__file__).resolve().parents[1] / "tests"


def fixture_files(module_path: str, name: str) -> dict[str, str]:
    for folder in ("rollouts", "tasks", "audit"):  # where the test modules' helpers live
        sys.path.insert(0, str(TESTS / folder))
    spec = importlib.util.spec_from_file_location(Path(module_path).stem, module_path)
    assert spec is not None and spec.loader is not None, module_path
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    files: dict[str, str] = getattr(module, name)
    return files


def one_round(
    clock: Clock, files: dict[str, str], n_tasks: int, pip_cache: Path, templates: Path
) -> dict[str, float]:
    """Build the environment of `files` and synthesize `n_tasks` on it in a fresh home: seconds each."""
    home = Path(tempfile.mkdtemp(prefix="codekiln-bench-home-"))
    try:
        (home / "pip-cache").symlink_to(pip_cache)
        (home / "venv-templates").symlink_to(templates)
        os.environ["CODEKILN_HOME"] = str(home)
        from codekiln.envs import build_env
        from codekiln.tasks.synth import SynthConfig, synthesize

        root = home / "library"
        for rel, text in files.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
        env, env_cpu, env_wall = clock.measure(build_env, str(root))
        config = SynthConfig(spec=str(root), out=home / "synth", max_tasks=n_tasks, workers=1, batch_size=8)
        _, synth_cpu, synth_wall = clock.measure(synthesize, config)
        steps = {f"env {k} wall": v for k, v in env.steps_s.items()}
        return {
            "env wall": env_wall,
            "env cpu": env_cpu,
            **steps,
            "synth wall": synth_wall,
            "synth cpu": synth_cpu,
        }
    finally:
        shutil.rmtree(home, ignore_errors=True)


def venv_round(clock: Clock, python: str, template: Path) -> dict[str, float]:
    scratch = Path(tempfile.mkdtemp(prefix="codekiln-bench-venv-"))
    try:
        _, venv_cpu, venv_wall = clock.measure(
            subprocess.run, [python, "-m", "venv", scratch / "a"], check=True
        )
        _, copy_cpu, copy_wall = clock.measure(copy_tree, template, scratch / "b")
        return {
            "python -m venv wall": venv_wall,
            "python -m venv cpu": venv_cpu,
            "copy wall": copy_wall,
            "copy cpu": copy_cpu,
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def show(rows: list[dict[str, float]]) -> dict[str, float]:
    medians = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
    for key, value in medians.items():
        print(f"  {key:28} {value:7.1f} s  {' '.join(f'{r[key]:.1f}' for r in rows)}")
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "fixtures", nargs="*", help="MODULE:NAME:TASKS, e.g. tests/audit/test_redteam11_data.py:LIBRARY:4"
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--venv", action="store_true", help="also time the venv step against a seeded copy")
    args = parser.parse_args()
    clock = Clock()
    if clock.group is None:
        raise SystemExit("no cgroup-v1 cpuacct group could be made: this bench needs its clock (run as root)")
    pip_cache = Path(tempfile.mkdtemp(prefix="codekiln-bench-pip-"))
    templates = Path(tempfile.mkdtemp(prefix="codekiln-bench-templates-"))
    try:
        for fixture in args.fixtures:
            module_path, name, n_tasks = fixture.split(":")
            files = fixture_files(module_path, name)
            print(f"{fixture}: {args.rounds} round(s)")
            m = show(
                [one_round(clock, files, int(n_tasks), pip_cache, templates) for _ in range(args.rounds)]
            )
            share = m["synth cpu"] / (m["synth cpu"] + m["env cpu"])
            print(
                f"  synthesis: {share:.0%} of the set-up's CPU, {m['synth wall'] / (m['synth wall'] + m['env wall']):.0%} of its wall"
            )
        if args.venv:
            python = getattr(sys, "_base_executable", sys.executable)  # the interpreter, not this venv
            template = pip_cache.parent / f"{pip_cache.name}-venv"
            subprocess.run([python, "-m", "venv", template], check=True)
            print(f"venv step ({python}): {args.rounds} round(s)")
            m = show([venv_round(clock, python, template) for _ in range(args.rounds)])
            print(
                f"  copy / python -m venv: CPU {m['copy cpu'] / m['python -m venv cpu']:.2f}, wall {m['copy wall'] / m['python -m venv wall']:.2f}"
            )
            shutil.rmtree(template, ignore_errors=True)
    finally:
        shutil.rmtree(pip_cache, ignore_errors=True)
        shutil.rmtree(templates, ignore_errors=True)
        clock.close()


if __name__ == "__main__":
    main()
