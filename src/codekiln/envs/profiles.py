"""Per-repository profiles: the few facts automatic detection cannot find, as a tiny YAML file.

    # src/codekiln/envs/profiles/<name>.yaml   (or $CODEKILN_HOME/profiles/<name>.yaml, which wins)
    extra_deps: [pytest-asyncio]
    skip_deps: [matplotlib]
    test_args: [tests, -p, no:randomly]
    test_env: {TZ: UTC}

`load_profile("attrs")` finds the profile by the project's normalized name; `load_profile(path)` reads
a given file. A profile should stay under 10 lines: anything longer belongs in detection.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from codekiln.core.config import home
from codekiln.core.errors import ConfigError
from codekiln.envs.deps import dist_name

BUILTIN = Path(__file__).with_name("profiles")


class Profile(BaseModel):
    """Overrides for one repository's environment; every field is optional."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="the profile's name (its file stem)")
    python: str | None = Field(
        default=None, description="interpreter to build the venv with, e.g. python3.12"
    )
    extra_deps: list[str] = Field(
        default_factory=list, description="requirements to install besides detected ones"
    )
    skip_deps: list[str] = Field(default_factory=list, description="project names never to install")
    extras: list[str] = Field(default_factory=list, description="extras of the project itself to install")
    test_args: list[str] | None = Field(
        default=None, description="pytest arguments replacing the detected ones"
    )
    test_env: dict[str, str] = Field(default_factory=dict, description="environment variables for test runs")
    install_env: dict[str, str] = Field(
        default_factory=dict, description="environment variables for installs"
    )
    timeout_s: float | None = Field(default=None, description="limit for one full test run, in seconds")


def read_profile(path: Path) -> Profile:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise ConfigError(
            f"cannot read profile {path}: {err}", hint="a profile is a small YAML mapping"
        ) from err
    if not isinstance(data, dict):
        raise ConfigError(f"profile {path} must hold a YAML mapping", hint="e.g. `extra_deps: [pytest-mock]`")
    try:
        return Profile.model_validate({"name": path.stem, **data})
    except ValidationError as err:
        raise ConfigError(
            f"invalid profile {path}:\n{err}", hint=f"valid keys: {', '.join(Profile.model_fields)}"
        ) from err


def load_profile(name_or_path: str | Path | None) -> Profile:
    """The profile for a project name (user profiles first, then built-in ones), a file, or an empty one."""
    if name_or_path is None:
        return Profile()
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(
                f"profile file {path} does not exist",
                hint="give the path of a YAML profile, or a project name",
            )
        return read_profile(path)
    stem = dist_name(str(name_or_path))
    for base in (home() / "profiles", BUILTIN):
        for candidate in (base / f"{stem}.yaml", base / f"{stem.replace('-', '_')}.yaml"):
            if candidate.is_file():
                return read_profile(candidate)
    return Profile()


def profile_file(name_or_path: str | Path | None, project: str) -> tuple[Path, str]:
    """(file, note): the profile file to edit for `project` and a note on it. A given .yaml path is that
    file; else the user's profile (created if missing), which replaces a built-in one of the same name."""
    if name_or_path is not None and Path(name_or_path).suffix in (".yaml", ".yml"):
        return Path(name_or_path).resolve(), "the profile given with --profile"
    stem = dist_name(str(name_or_path or project)) or "project"
    user = home() / "profiles" / f"{stem}.yaml"
    builtin = BUILTIN / f"{stem}.yaml"
    if user.is_file():
        return user, "your profile"
    if builtin.is_file():
        return user, f"create it: it replaces the built-in {builtin}, so copy that file's lines too"
    return user, "create it if missing"


def list_profiles() -> list[str]:
    """Names of the built-in and user profiles."""
    names = {p.stem for base in (BUILTIN, home() / "profiles") if base.is_dir() for p in base.glob("*.yaml")}
    return sorted(names)
