"""The recipe of an environment: everything that decides what a build produces, and its cache key.

    recipe = make_recipe(snapshot_record, profile=load_profile("toolz"))   # cached_recipe(...) memoizes
    recipe.deps, recipe.extras, recipe.test     # what to install, how to run the suite
    env_id(snapshot_record, recipe)             # same snapshot + python + recipe -> same environment

The recipe is derived from the snapshot's own files (see `deps` and `testcmd`) and the profile; it
holds no paths of this machine except the interpreter, so its key is stable across runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

from pydantic import BaseModel, Field

from codekiln.core.config import state_dir
from codekiln.core.errors import ConfigError
from codekiln.core.proc import run
from codekiln.core.records import atomic_write_json
from codekiln.envs.deps import detect_deps, dist_name
from codekiln.envs.profiles import Profile
from codekiln.envs.testcmd import detect_tests
from codekiln.grading import TestCommand
from codekiln.repos import SnapshotRecord

RECIPE_VERSION = 5  # bump when the build procedure changes what an environment holds
DETECT_VERSION = 11  # bump when detection may find other things in a snapshot (recomputes cached recipes)


class Interpreter(BaseModel):
    """The Python a venv is built from: its executable, version and installation prefix."""

    executable: str
    version: str
    prefix: str


class Recipe(BaseModel):
    """What to build: interpreter, the project's extras, test dependencies, and the test command."""

    python: Interpreter
    extras: list[str] = Field(default_factory=list)
    deps: list[str] = Field(
        default_factory=list, description="optional: one that fails to install is skipped"
    )
    required: list[str] = Field(default_factory=list, description="must install, or the build fails")
    dep_sources: dict[str, str] = Field(default_factory=dict)
    dropped: dict[str, str] = Field(default_factory=dict)
    skip: list[str] = Field(
        default_factory=list, description="project names never installed, the project's own deps included"
    )
    test: TestCommand
    runner: str = "pytest"
    test_source: str = ""
    install_env: dict[str, str] = Field(default_factory=dict)
    profile: str | None = None
    cutoff: str = Field(
        default="", description="install only files uploaded before this instant (see cutoff)"
    )
    cutoff_note: str = Field(default="", description="which cutoff was applied, or why none was")

    def key(self) -> str:
        """A digest of what the build depends on (not provenance notes)."""
        parts = {
            "v": RECIPE_VERSION,
            "python": self.python.version,
            "extras": self.extras,
            "deps": self.deps,
            "required": self.required,
            "test": self.test.model_dump(),
            "install_env": self.install_env,
        }
        if self.skip:  # only when set, so that earlier environments keep their ids
            parts["skip"] = self.skip
        if self.cutoff:  # likewise
            parts["cutoff"] = self.cutoff
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def host_interpreter() -> Interpreter:
    """The real interpreter behind the one running codekiln (its venv's base)."""
    major, minor = sys.version_info[:2]
    exe = Path(sys.base_prefix) / "bin" / f"python{major}.{minor}"
    return Interpreter(executable=str(exe), version=sys.version.split()[0], prefix=sys.base_prefix)


def find_interpreter(name: str | None) -> Interpreter:
    """`name` (e.g. python3.12 or a path) resolved to its real executable, version and prefix."""
    if name is None:
        return host_interpreter()
    exe = shutil.which(name)
    if exe is None:
        raise ConfigError(
            f"interpreter {name!r} not found on PATH", hint="install it or change `python:` in the profile"
        )
    code = "import sys; print(sys.version.split()[0]); print(sys.base_prefix); print(sys.version_info[0], sys.version_info[1])"
    res = run([exe, "-c", code], timeout=60)
    lines = res.stdout.split("\n")
    if res.exit_code != 0 or len(lines) < 3:
        raise ConfigError(
            f"interpreter {name!r} does not run: {res.stderr.strip()[-300:]}",
            hint="fix or change `python:` in the profile",
        )
    major, minor = lines[2].split()
    return Interpreter(
        executable=str(Path(lines[1]) / "bin" / f"python{major}.{minor}"), version=lines[0], prefix=lines[1]
    )


def _version_env(snap: SnapshotRecord) -> dict[str, str]:
    """Tell setuptools-scm / hatch-vcs the release's version: the snapshot's one-commit history has no tags."""
    if snap.kind == "pypi" and snap.version and re.fullmatch(r"[0-9][0-9A-Za-z.+!-]*", snap.version):
        return {"SETUPTOOLS_SCM_PRETEND_VERSION": snap.version}
    return {}


def make_recipe(snap: SnapshotRecord, profile: Profile) -> Recipe:
    """Detect the recipe for a snapshot, then apply the profile's overrides."""
    root = Path(snap.path)
    python = find_interpreter(profile.python)
    tests = detect_tests(root)
    found = detect_deps(root, snap.name, tests.test_files, python_version=python.version)
    for req, why in tests.plugins:
        if not found.mentions(dist_name(req)):
            found.add(req, f"pytest needs it ({why})", snap.name)
    skip = {dist_name(d) for d in profile.skip_deps}
    deps = [d for d in found.deps if dist_name(d) not in skip and dist_name(d) != "pytest"]
    dropped = dict(found.dropped) | {d: "skip_deps in profile" for d in found.deps if dist_name(d) in skip}
    pytest_reqs = found.mentions("pytest") or ["pytest"]  # every mention that applies: pip intersects them
    command = TestCommand.model_validate(
        {
            "args": profile.test_args if profile.test_args is not None else tests.args,
            "env": {**tests.env, **profile.test_env},
            **({"timeout_s": profile.timeout_s} if profile.timeout_s else {}),
        }
    )
    return Recipe(
        python=python,
        extras=[e for e in [*found.extras, *profile.extras] if e],
        deps=deps,
        required=[*pytest_reqs, *profile.extra_deps],
        dep_sources=found.sources | {d: f"profile {profile.name}" for d in profile.extra_deps},
        dropped=dropped,
        skip=sorted(skip),
        test=command,
        runner=tests.runner,
        test_source=tests.source
        + (f"; test_args from profile {profile.name}" if profile.test_args is not None else ""),
        install_env={**_version_env(snap), **profile.install_env},
        profile=profile.name or None,
    )


def cached_recipe(snap: SnapshotRecord, profile: Profile) -> Recipe:
    """`make_recipe`, memoized in $CODEKILN_HOME/recipes: a snapshot never changes, so neither does what
    detection finds in it (keyed by snapshot, profile and the Python running codekiln)."""
    parts = [
        RECIPE_VERSION,
        DETECT_VERSION,
        snap.id,
        snap.kind,
        snap.version,
        profile.model_dump(),
        sys.version,
        sys.base_prefix,
    ]
    key = hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]
    path = state_dir("recipes") / f"{key}.json"
    if path.is_file():
        try:
            return Recipe.model_validate_json(path.read_text())
        except ValueError:
            pass  # a damaged cache entry is recomputed
    recipe = make_recipe(snap, profile)
    atomic_write_json(path, recipe)
    return recipe


def env_id(snap: SnapshotRecord, recipe: Recipe) -> str:
    """Content address of an environment: snapshot id, python version and recipe key."""
    text = f"{snap.id}\0{recipe.python.version}\0{recipe.key()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]
