"""Build, cache and load the executable environment of a Python repository snapshot.

    env = build_env("pypi:toolz==1.2.0")      # EnvRecord: venv, test command, baseline statuses
    env = build_env("pypi:toolz==1.2.0")      # cache hit: instant
    with env_sandbox(env) as sb:              # the snapshot at /testbed, the venv at /opt/venv, no network
        run_tests(sb, env.test)

Steps: snapshot (add the repository if needed), detect (recipe from the snapshot's files and profile;
with `deps_date`, the dependency cutoff of `cutoff`),
venv (`python -m venv /opt/venv` inside a sandbox with network on, once per interpreter: later builds
copy what it made, see `venvtemplate`), install (`pip install -e /testbed`
plus test deps; an optional dep that fails is retried without, and recorded), baseline (one full run of
the suite in a fresh, network-less sandbox exactly like later ones; every test's status is recorded;
modules that fail to collect are left out, named in `left_out`, and `test` ignores them: see `steps`).
A baseline that a module no file declares or a plugin's start-up warning stops is fixed and run again
(`rounds`: `added_deps`, a `-W` in `test`).
The editable install points at /testbed, where every later sandbox mounts its workspace, so tests
import the code as it is in that sandbox.

Environments live in `$CODEKILN_HOME/envs/<id>/` (venv/, env.json, logs/), `id` being a hash of the
snapshot id, the Python version and the recipe. A build happens in a temporary directory renamed into
place on success; a failed build leaves nothing behind and raises `EnvBuildError` naming the step, with
the log's tail; the failure is recorded (see `failures`: `env show` reads it, and the same build reports
it at once instead of running again until `redo` or a changed profile). Builds of one environment are serialized by a
file lock, so concurrent callers wait and then share the result.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock
from pydantic import Field

from codekiln.core.config import home, state_dir
from codekiln.core.errors import CodekilnError, ConfigError, EnvBuildError, RepoError
from codekiln.core.protocols import Limits, Sandbox
from codekiln.core.records import Record, atomic_write_json, load_json
from codekiln.envs.cutoff import with_cutoff
from codekiln.envs.deps import dist_name
from codekiln.envs.failures import FailedEnv, clear_failure, find_failure, load_failure, record_failure
from codekiln.envs.profiles import load_profile
from codekiln.envs.recipe import Recipe, cached_recipe, env_id
from codekiln.envs.rounds import baseline_rounds
from codekiln.envs.steps import Builder, build_spec
from codekiln.envs.wheelhouse import sandbox_env
from codekiln.grading import TestCommand, items_note
from codekiln.repos import SnapshotRecord, ensure_snapshot, get_snapshot
from codekiln.sandbox import DEFAULT_BACKEND, SandboxSpec, StartTree, open_sandbox

PIP_CACHE = "/pip-cache"
StepHook = Callable[[str, str], None]


class EnvRecord(Record):
    """A built environment: where its venv is, how to run its tests, and what they did on the snapshot."""

    id: str
    snapshot_id: str
    snapshot_path: str
    name: str
    version: str | None = None
    python: str
    python_prefix: str
    venv: str
    backend: str
    recipe: Recipe
    test: TestCommand
    packages: list[str] = Field(default_factory=list, description="pip freeze of the venv")
    skipped_deps: dict[str, str] = Field(
        default_factory=dict, description="optional deps that failed to install"
    )
    added_deps: dict[str, str] = Field(
        default_factory=dict,
        description="modules the tests import that no file declares, installed after the baseline "
        "could not import them (see rounds) -> why",
    )
    kept_extensions: list[str] = Field(
        default_factory=list, description="extensions built in place, kept in the venv (see extensions)"
    )
    wheelhouse: list[str] = Field(
        default_factory=list, description="files pip finds offline in the venv's wheelhouse (see wheelhouse)"
    )
    wheelhouse_problem: str = Field(default="", description="why installing the project offline fails")
    baseline: dict[str, str] = Field(
        default_factory=dict, description="test id -> passed/failed/error/skipped"
    )
    counts: dict[str, int] = Field(default_factory=dict)
    collection_errors: dict[str, str] = Field(default_factory=dict)
    left_out: dict[str, str] = Field(
        default_factory=dict,
        description="paths that failed to collect on the clean snapshot -> why; `test` ignores them",
    )
    collection_skips: dict[str, str] = Field(
        default_factory=dict, description="modules skipped at collection -> reason (pytest counts each)"
    )
    repeated_ids: dict[str, int] = Field(default_factory=dict)  # as `TestRun.repeated_ids`: id -> items
    baseline_exit_code: int = 0
    steps_s: dict[str, float] = Field(default_factory=dict)
    duration_s: float = 0.0
    logs: dict[str, str] = Field(default_factory=dict)
    created: str = ""

    def summary_line(self) -> str:
        c = self.counts
        skipped = c.get("skipped", 0) + len(self.collection_skips)  # as pytest's summary counts them
        return (
            f"{c.get('passed', 0)} passed, {c.get('failed', 0) + c.get('error', 0)} failed"
            + (f", {skipped} skipped" if skipped else "")
            + (f", {len(self.left_out)} module(s) left out" if self.left_out else "")
            + (f" ({items_note(len(self.baseline), self.repeated_ids)})" if self.repeated_ids else "")
        )

    def open_sandbox(self, backend: str = DEFAULT_BACKEND, start: StartTree | None = None) -> Sandbox:
        """A fresh sandbox of this environment (`env_sandbox`); what the grader opens."""
        return env_sandbox(self, backend, start=start)


def env_sandbox(
    env: EnvRecord,
    backend: str = DEFAULT_BACKEND,
    *,
    limits: Limits | None = None,
    start: StartTree | None = None,
) -> Sandbox:
    """A sandbox on the environment's snapshot (or on `start`, a tree made from it) with its venv at
    /opt/venv (read-only) and no network.

    Python writes no byte-code there: a cached .pyc is keyed on its source's size and modification
    second, so an agent that edits a module twice within a second at the same size (`<` for `>`) would
    run its previous edit. The grader and the validation engine run the same way."""
    spec = SandboxSpec(
        snapshot=Path(env.snapshot_path),
        venv=Path(env.venv),
        env={"PYTHONDONTWRITEBYTECODE": "1", **sandbox_env(Path(env.venv)), **env.test.env},
        limits=limits or Limits(timeout_s=env.test.timeout_s),
        start=start,
    )
    return open_sandbox(spec, backend)


def _envs_root() -> Path:
    return state_dir("envs")


def _quiet(step: str, status: str) -> None:
    return None


PROJECT_FILES = ("pyproject.toml", "setup.py", "setup.cfg", "tox.ini", "pytest.ini", "noxfile.py")


def check_project_dir(path: Path) -> None:
    """Raise ConfigError unless the directory looks like a Python project: a packaging or test config
    file, a top-level module or package, or a tests directory. Checked before anything is copied."""
    if any((path / name).is_file() for name in PROJECT_FILES):
        return
    try:
        children = list(path.iterdir())
    except OSError as err:
        raise ConfigError(f"cannot read {path}: {err}", hint="give a readable project directory") from err
    if any(c.suffix == ".py" and c.is_file() for c in children) or any(
        c.is_dir() and ((c / "__init__.py").is_file() or c.name in ("tests", "test")) for c in children
    ):
        return
    raise ConfigError(
        f"{path} is not a Python project: it has no pyproject.toml, setup.py, setup.cfg, tox.ini, "
        "Python module, package or tests directory at its top level",
        hint="give the root directory of a Python project (or pypi:NAME==VERSION, or a git URL)",
    )


def build_env(
    spec: str | SnapshotRecord,
    *,
    redo: bool = False,
    backend: str = DEFAULT_BACKEND,
    profile: str | Path | None = None,
    on_step: StepHook = _quiet,
    deps_date: str = "",
) -> EnvRecord:
    """Build (or load from cache) the environment for a snapshot spec, id or record. See the module doc.
    `deps_date` (ISO): resolve dependencies as of that date where the index allows (see `cutoff`)."""
    start = time.monotonic()
    steps: dict[str, float] = {}
    on_step("snapshot", "start")
    if isinstance(spec, str) and Path(spec).expanduser().is_dir():
        check_project_dir(Path(spec).expanduser())
    snap = spec if isinstance(spec, SnapshotRecord) else ensure_snapshot(spec)
    steps["snapshot"] = time.monotonic() - start
    on_step("snapshot", f"{snap.name} {snap.version or ''} ({snap.id})")
    t = time.monotonic()
    prof = load_profile(profile if profile is not None else snap.name)
    recipe = with_cutoff(cached_recipe(snap, prof), deps_date, Path(snap.path))
    eid = env_id(snap, recipe)
    steps["detect"] = time.monotonic() - t
    deps = ", ".join(recipe.required + recipe.deps)
    on_step("detect", f"{' '.join(['pytest', *recipe.test.args])} ({recipe.test_source}); deps: {deps}")
    if recipe.cutoff_note:
        on_step("detect", recipe.cutoff_note)
    root = _envs_root()
    final = root / eid
    with FileLock(str(root / f".{eid}.lock")):
        if not redo and (final / "env.json").is_file():
            on_step("cached", str(final))
            return load_json(final / "env.json", EnvRecord)
        failed = None if redo else load_failure(eid)
        if failed is not None:
            on_step("cached", f"failed at step '{failed.step}' on {failed.created}")
            raise failed.error()
        scratch = Path(tempfile.mkdtemp(prefix=f".build-{eid}-", dir=root))
        os.chmod(scratch, 0o755)
        try:
            env = _run_build(snap, recipe, scratch, backend, on_step, steps)
            env.duration_s = time.monotonic() - start
            env.steps_s = steps
            env.venv = str(final / "venv")
            env.logs = {p.stem: str(final / "logs" / p.name) for p in sorted((scratch / "logs").iterdir())}
            atomic_write_json(scratch / "env.json", env)
            if final.exists():
                trash = Path(tempfile.mkdtemp(prefix=f".old-{eid}-", dir=root))
                os.replace(final, trash / "env")
                shutil.rmtree(trash, ignore_errors=True)
            os.replace(scratch, final)
            clear_failure(eid)
        except EnvBuildError as err:
            raise record_failure(snap, recipe, eid, err, scratch, profile).error(cached=False) from None
        except CodekilnError as err:
            raise EnvBuildError(
                f"environment build failed: {err.message}", hint=err.hint, step="sandbox"
            ) from err
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    return env


def _run_build(
    snap: SnapshotRecord,
    recipe: Recipe,
    scratch: Path,
    backend: str,
    on_step: StepHook,
    steps: dict[str, float],
) -> EnvRecord:
    builder = Builder(recipe, scratch)
    with open_sandbox(build_spec(snap, builder.venv, recipe, writable=True), backend) as sb:
        wheels = lambda sb: builder.wheels(sb, snap.name)  # noqa: E731
        for step, action in (
            ("venv", builder.build_venv),
            ("install", builder.install),
            ("wheelhouse", wheels),
        ):
            on_step(step, "start")
            t = time.monotonic()
            action(sb)
            steps[step] = time.monotonic() - t
            on_step(step, f"done in {steps[step]:.1f} s")
        if builder.wheelhouse_problem:
            on_step("wheelhouse", builder.wheelhouse_problem)
        packages = builder.freeze(sb)
    if builder.skipped:
        on_step("install", "skipped optional deps: " + ", ".join(builder.skipped))
    if not any(dist_name(p) == "pytest" for p in packages):
        raise builder.fail(
            "install",
            "pytest is not installed in the venv",
            "\n".join(packages),
            "the detected test dependencies do not include pytest",
            line="extra_deps: [pytest]",
        )
    on_step("baseline", "start")
    t = time.monotonic()
    run, added = baseline_rounds(snap, builder, backend, on_step)
    if added:
        with open_sandbox(build_spec(snap, builder.venv, recipe, writable=True), backend) as sb:
            packages = builder.freeze(sb)
    steps["baseline"] = time.monotonic() - t
    on_step("baseline", f"{run.summary_line()} in {steps['baseline']:.1f} s")
    if builder.left_out:
        on_step(
            "baseline",
            f"left out {len(builder.left_out)} module(s) that fail to collect: "
            + ", ".join(builder.left_out),
        )
    return EnvRecord(
        id=env_id(snap, recipe),
        snapshot_id=snap.id,
        snapshot_path=snap.path,
        name=snap.name,
        version=snap.version,
        python=recipe.python.version,
        python_prefix=recipe.python.prefix,
        venv="",
        backend=backend,
        recipe=recipe,
        test=builder.test,
        packages=packages,
        skipped_deps=builder.skipped,
        added_deps=added,
        kept_extensions=builder.kept,
        wheelhouse=builder.wheelhouse,
        wheelhouse_problem=builder.wheelhouse_problem,
        baseline=dict(run.statuses),
        counts=run.counts(),
        collection_errors=run.collection_errors,
        left_out=builder.left_out,
        collection_skips=run.collection_skips,
        repeated_ids=run.repeated_ids,
        baseline_exit_code=run.exit_code,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def list_envs() -> list[EnvRecord]:
    """Every built environment, oldest first (`created` is to the second: two builds finished within
    one second are ordered by when their records were written)."""
    out = []
    for path in _envs_root().glob("*/env.json"):
        if path.parent.name.startswith("."):
            continue  # a build in progress
        try:
            out.append((load_json(path, EnvRecord), path.stat().st_mtime_ns))
        except (ValueError, OSError):
            continue
    return [env for env, _ in sorted(out, key=lambda pair: (pair[0].created, pair[1]))]


def _env_by_id(key: str, envs: list[EnvRecord]) -> EnvRecord | None:
    hits = [e for e in envs if e.id.startswith(key)] if len(key) >= 6 else []
    if len(hits) > 1:
        raise ConfigError(
            f"environment id prefix {key!r} is ambiguous", hint="give more digits (codekiln env list)"
        )
    return hits[0] if hits else None


def ensure_env(
    spec_or_id: str, *, backend: str = DEFAULT_BACKEND, redo: bool = False, on_step: StepHook = _quiet
) -> EnvRecord:
    """The environment with this env id (or prefix), else `build_env(spec_or_id)` (a cache hit if built,
    the recorded failure if it failed, unless `redo`)."""
    key = spec_or_id.strip()
    env = _env_by_id(key, list_envs())
    failed = find_failure(key) if env is None else None
    if not redo and env is not None:
        return env
    if not redo and failed is not None:
        raise failed.error()
    target = env.snapshot_id if env else failed.snapshot_id if failed else key
    recipe = env.recipe if env else failed.recipe if failed else None
    cutoff = recipe.cutoff if recipe else ""  # a rebuild keeps the environment's cutoff
    return build_env(target, backend=backend, redo=redo, on_step=on_step, deps_date=cutoff)


def find_env_failure(spec_or_id: str) -> FailedEnv | None:
    """The recorded failed build for an env id (prefix), or the newest one of a snapshot spec or id."""
    key = spec_or_id.strip()
    failed = find_failure(key)
    if failed is None:
        try:
            failed = find_failure(key, get_snapshot(key).id)
        except RepoError:
            return None
    return failed


def load_env(spec_or_id: str) -> EnvRecord:
    """A built environment by env id (or unique prefix), or the newest one for a snapshot spec or id."""
    envs = list_envs()
    key = spec_or_id.strip()
    env = _env_by_id(key, envs)
    if env is not None:
        return env
    try:
        snap = get_snapshot(key)
    except RepoError as err:
        if not re.fullmatch(r"[0-9a-f]{8,64}", key):
            raise
        raise ConfigError(  # an id from a task or a manifest: `repo add ID` (the old hint) cannot work
            f"no environment or snapshot {key!r} in this CODEKILN_HOME ({home()})",
            hint="tasks name the environment they were made in: build it here with `codekiln env build SPEC` "
            "(SPEC is in the synth directory's manifest.json), or set CODEKILN_HOME to the home that built it",
        ) from err
    mine = [e for e in envs if e.snapshot_id == snap.id]
    if not mine:
        failed = find_failure(key, snap.id)
        if failed is not None:
            raise failed.error()
        raise ConfigError(
            f"no environment built for {key!r}", hint=f"build it first: codekiln env build {key}"
        )
    return mine[-1]
