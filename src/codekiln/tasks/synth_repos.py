"""Many repositories in one synthesis run: `codekiln synth --repos FILE` (one spec per line).

    result = synthesize_repos(["pypi:toolz==1.2.0", "pypi:markupsafe==3.0.4"], SynthConfig(spec="", out=out))
    result.funnel.repos["toolz-1.2.0"].validated, result.funnel.validated     # one repository, all

Each environment is built once, as units on the executor (so on a Ray cluster, where the work runs;
`CODEKILN_HOME` is the cache every node shares). Then the batches of all repositories are validated as
one stream of units, interleaved, so every worker stays busy until the last repository is done.
`max_tasks`, the seed and the other settings apply to each repository.

The output directory holds one ordinary synth directory per repository, `repos/NAME-VERSION/` (the
resumable logs, written by the driver: the one source of truth), and the dataset made from them,
rewritten at the end of each run:
- `tasks.jsonl`, `rejected.jsonl`: every repository's records, in the order of the list;
- `funnel.json`: the total funnel (what `codekiln tasks stats` shows), the funnel per repository
  (`repos`), and the specs whose environment failed (`failed`);
- `repos.json`: which spec went to which directory.
A rerun resumes every repository where it stopped; `redo` starts them all over. A repository whose
environment cannot be built is recorded in the funnel and the others go on.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from codekiln.core.errors import ConfigError, TaskError
from codekiln.core.protocols import Resources
from codekiln.core.records import atomic_write_json, atomic_write_text, iter_jsonl
from codekiln.core.stage import Layout, fsync_dir, open_stage
from codekiln.envs import EnvRecord, build_env
from codekiln.tasks.synth import (
    FUNNEL,
    LAYOUT,
    REJECTED,
    TASKS,
    Funnel,
    Plan,
    ProgressFn,
    SynthConfig,
    SynthProgress,
    explain,
    prepare,
    validate_plans,
)

REPOS = "repos.json"
TOP_LAYOUT = Layout("repositories", logs=(), derived=(TASKS, REJECTED, FUNNEL, REPOS, "repos"))


class ReposFunnel(Funnel):
    """The funnel of a many-repository run: the total (a `Funnel`, so every reader of funnel.json
    sees the whole dataset's), per repository directory, and the specs whose environment failed."""

    repos: dict[str, Funnel] = Field(default_factory=dict)
    failed: dict[str, str] = Field(default_factory=dict, description="spec -> why its environment failed")


@dataclass
class ReposResult:
    out: Path
    funnel: ReposFunnel
    new_decisions: int
    seconds: float
    per_node: Counter[str] = field(default_factory=Counter)


def read_repo_list(path: Path) -> list[str]:
    """The specs of a `--repos` file: one per line; blank lines and `#` comments are skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as err:
        raise ConfigError(f"cannot read the repository list {path}: {err}", hint="give --repos FILE") from err
    specs = [line.split("#", 1)[0].strip() for line in lines]
    specs = [s for s in specs if s]
    if not specs:
        raise ConfigError(
            f"{path} lists no repository", hint="write one spec per line: pypi:NAME==VER, a git URL or a path"
        )
    repeated = sorted({s for s in specs if specs.count(s) > 1})
    if repeated:
        raise ConfigError(f"{path} lists {', '.join(repeated)} more than once", hint="list each spec once")
    return specs


def total_funnel(funnels: list[Funnel]) -> Funnel:
    """The sum of several repositories' funnels."""
    total = Funnel()
    for f in funnels:
        total.entities += f.entities
        total.candidates += f.candidates
        total.tried += f.tried
        total.validated += f.validated
        total.seconds = max(total.seconds, f.seconds)
        for reason, n in f.rejected.items():
            total.rejected[reason] = total.rejected.get(reason, 0) + n
        for reason, n in f.skipped_mutations.items():
            total.skipped_mutations[reason] = total.skipped_mutations.get(reason, 0) + n
        for name, (tried, ok) in f.per_mutator.items():
            row = total.per_mutator.setdefault(name, [0, 0])
            row[0] += tried
            row[1] += ok
    return total


@dataclass
class BuildEnv:
    """The unit that builds (or finds cached) one repository's environment."""

    backend: str

    def __call__(self, spec: str) -> EnvRecord:
        return build_env(spec, backend=self.backend)


def _dirname(env: EnvRecord) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{env.name}-{env.version}")


def synthesize_repos(
    specs: list[str], config: SynthConfig, *, redo: bool = False, on_progress: ProgressFn | None = None
) -> ReposResult:
    """Run (or resume) synthesis over `specs` into `config.out`; see the module docstring."""
    start = time.monotonic()
    show = on_progress or (lambda progress: None)
    progress = SynthProgress("environment", f"building {len(specs)} environments", target=config.max_tasks)
    show(progress)
    with open_stage(Path(config.out), TOP_LAYOUT, redo=redo) as top:
        funnel = ReposFunnel()
        envs: dict[str, EnvRecord] = {}
        executor = config.executor.make(config.workers)
        for outcome in executor.map(
            BuildEnv(config.backend), specs, desc="environments", resources=Resources()
        ):
            if outcome.value is None:
                error = outcome.error or {}
                funnel.failed[outcome.item] = f"{error.get('type')}: {error.get('message')}"
            else:
                envs[outcome.item] = outcome.value
        built = [s for s in specs if s in envs]
        names = {s: _dirname(envs[s]) for s in built}
        clash = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
        if clash:
            raise ConfigError(f"two specs name the same repository {', '.join(clash)}", hint="list it once")
        with ExitStack() as stack:
            plans: list[Plan] = []
            for spec in list(built):
                out = top.out / "repos" / names[spec]
                stage = stack.enter_context(open_stage(out, LAYOUT, redo=redo))
                show(SynthProgress("coverage", f"{names[spec]}: mapping which tests run which lines"))
                try:
                    plans.append(
                        prepare(stage, config.model_copy(update={"spec": spec, "out": out}), envs[spec])
                    )
                except TaskError as err:  # nothing to synthesize there (no Python entity): the rest go on
                    funnel.failed[spec] = f"TaskError: {err.message}"
                    built.remove(spec)
            progress = SynthProgress("validating", target=config.max_tasks * len(plans))
            progress.funnel = total_funnel([p.funnel for p in plans])
            progress.resumed = progress.funnel.tried

            def refresh(p: SynthProgress) -> None:
                p.funnel = total_funnel([plan.funnel for plan in plans])
                p.message = ", ".join(
                    f"{names[s]} {plan.funnel.validated}" for s, plan in zip(built, plans, strict=True)
                )
                show(p)

            refresh(progress)
            validate_plans(plans, config, progress, refresh)
            for spec, plan in zip(built, plans, strict=True):
                explain(plan)
                plan.funnel.seconds = round(time.monotonic() - start, 3)
                plan.stage.write(FUNNEL, plan.funnel)
                funnel.repos[names[spec]] = plan.funnel
        funnel = ReposFunnel(
            **total_funnel(list(funnel.repos.values())).model_dump(), repos=funnel.repos, failed=funnel.failed
        )
        _write_dataset(top.out, [top.out / "repos" / names[s] for s in built])
        atomic_write_json(top.out / FUNNEL, funnel)
        atomic_write_json(
            top.out / REPOS, {"repos": {s: f"repos/{names[s]}" for s in built}, "failed": funnel.failed}
        )
        fsync_dir(top.out)
        progress.phase, progress.funnel = "done", funnel
        show(progress)
        new = sum(p.written for p in plans)
        return ReposResult(top.out, funnel, new, time.monotonic() - start, progress.per_node)


def _write_dataset(out: Path, repo_dirs: list[Path]) -> None:
    """The dataset: each log of every repository directory, concatenated in list order."""
    for name in (TASKS, REJECTED):
        lines = [
            json.dumps(row, separators=(",", ":")) + "\n" for d in repo_dirs for row in iter_jsonl(d / name)
        ]
        atomic_write_text(out / name, "".join(lines))
