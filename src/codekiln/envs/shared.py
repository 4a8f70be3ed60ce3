"""Environments shared by snapshots with the same dependencies (SWE-bench's "version" grouping): what
lets `codekiln mine` validate hundreds of states of one repository with a handful of installs.

    groups = EnvGroups(backend="bwrap")
    env = groups.env_for(snapshot)        # EnvRecord of this snapshot; its venv may be another's
    groups.builds, groups.reused          # full builds done, environments that reused a venv

A snapshot's `fingerprint` is a digest of what its install depends on: the recipe (interpreter, test
deps, extras, test command and, when one is applied, the dependency cutoff, a month: `Recipe.key`,
`cutoff`), the project's declared runtime requirements (pyproject
`[project] dependencies` and `requires-python`, `[build-system] requires`, setup.cfg `install_requires`,
setup.py's `install_requires = [...]` text) and its import layout (top-level packages, at the root or
under src/). Its own version number is left out, so consecutive releases usually share it.

The first snapshot of a fingerprint gets a full `build_env` (or, if it was built before by any
command, that environment becomes its group's). Every later one gets an environment of its
own (its id is what `build_env` would give it, so tasks, the grader and `load_env` find it as usual)
whose venv is the first one's: the editable install points at /testbed, where every sandbox mounts its
own snapshot, so the same venv imports each snapshot's code. Only its baseline runs (the suite once, on
its snapshot, exactly as in a full build). What groups are is kept in `$CODEKILN_HOME/envs/groups/`
(fingerprint -> the environment that owns the venv), so later runs reuse them too.

Limits: a project that adds a top-level package, a compiled extension or an entry point changes its
fingerprint (layout) or needs a rebuild that grouping cannot see (extensions: `kept_extensions` of the
owner are not rebuilt for other snapshots).
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
from pathlib import Path

from filelock import FileLock

from codekiln.core.config import state_dir
from codekiln.core.records import atomic_write_json, load_json
from codekiln.envs.build import EnvRecord, build_env
from codekiln.envs.cutoff import with_cutoff
from codekiln.envs.deps import read_ini, read_pyproject
from codekiln.envs.profiles import load_profile
from codekiln.envs.recipe import Recipe, cached_recipe, env_id
from codekiln.envs.steps import Builder, build_spec
from codekiln.repos import SnapshotRecord
from codekiln.sandbox import DEFAULT_BACKEND, open_sandbox

_SETUP_REQUIRES = re.compile(r"install_requires\s*=\s*(\[[^\]]*\])", re.S)


def _layout(root: Path) -> list[str]:
    out = []
    for base in (root, root / "src"):
        if base.is_dir():
            prefix = "src/" if base != root else ""
            out += [
                prefix + p.name
                for p in base.iterdir()
                if (p.is_dir() and (p / "__init__.py").is_file()) or (p.suffix == ".py" and p.parent == base)
            ]
    return sorted(n for n in out if n not in ("setup.py", "conftest.py", "noxfile.py") and "test" not in n)


def runtime_requirements(root: Path) -> dict[str, object]:
    """The project's declared install requirements, from whichever packaging files it has."""
    pyproject = read_pyproject(root)
    project = pyproject.get("project", {})
    cfg = read_ini(root / "setup.cfg")
    setup_py = root / "setup.py"
    found = _SETUP_REQUIRES.search(setup_py.read_text(errors="replace")) if setup_py.is_file() else None
    return {
        "dependencies": sorted(project.get("dependencies", [])),
        "optional": {k: sorted(v) for k, v in sorted(project.get("optional-dependencies", {}).items())},
        "requires-python": project.get("requires-python", ""),
        "build": sorted(pyproject.get("build-system", {}).get("requires", [])),
        "setup.cfg": cfg.get("options", "install_requires", fallback="").split(),
        "setup.py": " ".join(found[1].split()) if found else "",
    }


def fingerprint(snap: SnapshotRecord, recipe: Recipe) -> str:
    """What the snapshot's environment depends on (see the module docstring), as a short digest."""
    root = Path(snap.path)
    parts = {"recipe": recipe.key(), "requires": runtime_requirements(root), "layout": _layout(root)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


class EnvGroups:
    """Environments for many snapshots of one project, one venv per dependency fingerprint."""

    def __init__(self, backend: str = DEFAULT_BACKEND) -> None:
        self.backend = backend
        self.builds = 0
        """Full builds (venv + install + baseline) done by this object."""
        self.reused = 0
        """Environments made by this object on another snapshot's venv (baseline only)."""
        self.root = state_dir("envs", "groups")
        self.cutoffs: dict[str, str] = {}
        """Environment id -> its dependency cutoff, or why none was applied (`Recipe.cutoff_note`)."""

    def owner(self, fp: str) -> EnvRecord | None:
        path = self.root / f"{fp}.json"
        if not path.is_file():
            return None
        owner_id = json.loads(path.read_text()).get("env")
        env_json = state_dir("envs") / str(owner_id) / "env.json"
        return load_json(env_json, EnvRecord) if env_json.is_file() else None

    def env_for(self, snap: SnapshotRecord, deps_date: str = "") -> EnvRecord:
        """The snapshot's environment: cached, or on its group's venv, or built (and then its group's).
        `deps_date`: the state's date, for the dependency cutoff (`cutoff`; in the fingerprint when
        applied). Raises EnvBuildError when the build or the baseline fails."""
        recipe = with_cutoff(cached_recipe(snap, load_profile(snap.name)), deps_date, Path(snap.path))
        eid = env_id(snap, recipe)
        final = state_dir("envs") / eid / "env.json"
        fp = fingerprint(snap, recipe)
        with FileLock(str(self.root / f".{fp}.lock")):
            owner = self.owner(fp)
            if final.is_file():  # built before (by any command): it owns its group if none does
                env = load_json(final, EnvRecord)
                if owner is None and env.venv == str(final.parent / "venv"):
                    atomic_write_json(self.root / f"{fp}.json", {"env": env.id, "fingerprint": fp})
                return self._noted(env)
            if owner is None:
                env = build_env(snap, backend=self.backend, deps_date=deps_date)
                self.builds += 1
                atomic_write_json(self.root / f"{fp}.json", {"env": env.id, "fingerprint": fp})
                return self._noted(env)
            env = self._on_venv(snap, recipe, eid, owner)
            self.reused += 1
            return self._noted(env)

    def _noted(self, env: EnvRecord) -> EnvRecord:
        self.cutoffs[env.id] = env.recipe.cutoff_note or "no cutoff: no date given"
        return env

    def _on_venv(self, snap: SnapshotRecord, recipe: Recipe, eid: str, owner: EnvRecord) -> EnvRecord:
        """An environment of `snap` on `owner`'s venv: the baseline step of a build, run on `snap`."""
        with tempfile.TemporaryDirectory(prefix=f".shared-{eid}-", dir=state_dir("envs")) as tmp:
            builder = Builder(recipe, Path(tmp))
            with open_sandbox(build_spec(snap, Path(owner.venv), recipe, writable=False), self.backend) as sb:
                run = builder.baseline(sb)
        env = owner.model_copy(
            update={
                "id": eid, "snapshot_id": snap.id, "snapshot_path": snap.path, "name": snap.name,
                "version": snap.version, "recipe": recipe, "test": builder.test, "baseline": dict(run.statuses),
                "counts": run.counts(), "collection_errors": run.collection_errors, "left_out": builder.left_out,
                "collection_skips": run.collection_skips, "repeated_ids": run.repeated_ids,
                "baseline_exit_code": run.exit_code, "steps_s": {"baseline": run.duration_s},
                "duration_s": run.duration_s, "logs": {}, "created": owner.created,
            }
        )  # fmt: skip
        atomic_write_json(state_dir("envs", eid) / "env.json", env)
        return env
