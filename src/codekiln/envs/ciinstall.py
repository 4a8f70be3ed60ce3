"""What a project's CI installs for its test job: the extras and dependency groups of the project.

    ci = ci_install(Path(snapshot_dir), read_pyproject(Path(snapshot_dir)))
    ci.extras   # ["yaml", "toml", ...] from `uv sync --group testing --all-extras` in the job running pytest
    ci.groups   # ["testing"]
    ci.where    # ".github/workflows/ci.yml job test"

Read from the GitHub workflow jobs whose `run` steps run the tests (`pytest`, `make test`, `tox`, `nox`,
`hatch test`): each install command of such a job (`pip install '.[a,b]'`, `pip install -e .[a]`,
`pip install --group G`, `uv pip install ...`, `uv sync` with `--extra`, `--all-extras`, `--group`,
`--all-groups`, and uv's default groups unless `--no-dev`) adds what it names of the project itself.
A word holding a CI expression (`${{ matrix.extras }}`) is not read: its value is not known here.
Plain requirements in those commands are not taken (the project's files declare them, and a CI job
often installs tooling beside the tests).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

RUNS_TESTS = re.compile(r"\b(pytest|make\s+test\w*|tox|nox|hatch\s+test)\b")
_INSTALL = re.compile(r"\b(pip3?\s+install|uv\s+sync|uv\s+pip\s+install)\b(.*)$")
_PROJECT = re.compile(r"^(?:\.|\./|\.\[[^\]]*\]|\./\[[^\]]*\])$")


@dataclass
class CiInstall:
    """Extras and dependency groups of the project that the CI's test job installs, and where."""

    extras: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    where: str = ""

    def add(self, extras: list[str], groups: list[str], where: str) -> None:
        new_extras = [e for e in extras if e and e not in self.extras]
        new_groups = [g for g in groups if g and g not in self.groups]
        self.extras += new_extras
        self.groups += new_groups
        if (new_extras or new_groups) and where not in self.where:
            self.where = f"{self.where}, {where}" if self.where else where


def _uv_default_groups(pyproject: dict[str, Any]) -> list[str]:
    """The groups `uv sync` installs unless told not to: `[tool.uv] default-groups`, else `dev`."""
    groups = pyproject.get("dependency-groups", {})
    default = pyproject.get("tool", {}).get("uv", {}).get("default-groups", ["dev"])
    return [g for g in (groups if default == "all" else default) if g in groups]


def install_targets(command: str, pyproject: dict[str, Any]) -> tuple[list[str], list[str]] | None:
    """(extras, groups) of the project that one shell command installs, or None if it installs nothing."""
    match = _INSTALL.search(command)
    if match is None:
        return None
    try:
        words = shlex.split(match[2], comments=True)
    except ValueError:
        return None
    declared = pyproject.get("project", {}).get("optional-dependencies", {})
    every_group = list(pyproject.get("dependency-groups", {}))
    extras: list[str] = []
    groups: list[str] = []
    no_defaults = {"--no-dev", "--no-default-groups", "--only-group", "--only-dev"} & set(words)
    if match[1].startswith("uv") and match[1].endswith("sync") and not no_defaults:
        groups += _uv_default_groups(pyproject)
    rest = iter(words)
    for word in rest:
        if "$" in word:
            continue
        name, _, value = word.partition("=")
        if name in ("--extra", "--group", "--only-group"):
            value = value or next(rest, "")
            (extras if name == "--extra" else groups).append(value)
        elif word == "--all-extras":
            extras += list(declared)
        elif word == "--all-groups":
            groups += every_group
        elif _PROJECT.match(word):
            inside = word[word.find("[") + 1 : -1] if "[" in word else ""
            extras += [e.strip() for e in inside.split(",") if e.strip()]
    return extras, groups


def _job_scripts(path: Path) -> list[tuple[str, str]]:
    """(job name, the job's `run` steps joined) of one workflow file."""
    try:
        data = yaml.safe_load(path.read_text(errors="replace"))
    except (yaml.YAMLError, OSError):
        return []
    jobs = data.get("jobs") if isinstance(data, dict) else None
    out = []
    for name, job in jobs.items() if isinstance(jobs, dict) else ():
        steps = job.get("steps") if isinstance(job, dict) else None
        runs = [str(s["run"]) for s in steps or () if isinstance(s, dict) and s.get("run")]
        out.append((str(name), "\n".join(runs)))
    return out


def ci_install(root: Path, pyproject: dict[str, Any]) -> CiInstall:
    """What the CI jobs that run the tests install of the project (see the module doc)."""
    found = CiInstall()
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        for job, script in _job_scripts(path):
            if not RUNS_TESTS.search(script):
                continue
            script = re.sub(r"\$\{\{.*?\}\}", "$", script)  # a CI expression's value is not known here
            for line in script.replace("\\\n", " ").splitlines():
                for command in re.split(r"&&|;|\|\|", line):
                    targets = install_targets(command.strip(), pyproject)
                    if targets is not None:
                        found.add(*targets, f"{path.relative_to(root)} job {job}")
    return found
