"""Dependencies as of a date: the cutoff `codekiln mine` asks for each state it builds, where the index
says when its files were uploaded.

    recipe = with_cutoff(recipe, "2022-03-15T10:00:00+01:00", names=["toolz"])
    recipe.cutoff         # "2022-03-01T00:00:00Z" (applied) or "" (not)
    recipe.cutoff_note    # which cutoff, on which index; or why none was applied

How it is applied: pip has `--uploaded-prior-to` from release 26.0 on. The venvs the builder makes carry
the interpreter's bundled pip (23.2.1 here), so installs with a cutoff run codekiln's own pip instead:
its package directory is bound read-only into the build sandbox (`PIP_MOUNT`) and run with the venv's
interpreter through pip's `__pip-runner__.py` (what `pip --python` does), so it installs into the venv
and the venv itself is left as it would be. Build-isolation subprocesses get the option from pip itself.

When: the cutoff is the first instant of the change's calendar month (UTC), its bucket. States of one
month with the same dependencies share an environment (`envs.shared` fingerprints the recipe, cutoff
included); nothing uploaded after a change's month started is installed for it, so a dependency
released earlier in that month is not seen either.

Whether: pip filters by upload time only files from indexes that publish it (PEP 700's `upload-time`
in the JSON simple API, PEP 691); it takes local files (`file://` indexes, `--find-links` folders)
whatever the date, and under the option it rejects every file of an index that gives no upload times.
So the index sources the build's pip reads (`pip config list` with the build's environment) are probed
first, and the cutoff is applied only when every remote index answers with upload times. Otherwise
nothing is passed and the note says which index lacks them. `decide` is that rule, a pure function.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import os
import re
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from codekiln.core.proc import run
from codekiln.envs.deps import dist_name, read_pyproject
from codekiln.envs.recipe import Recipe

PIP_MOUNT = "/opt/codekiln-pip"
"""Where codekiln's pip package directory shows (read-only) in a build sandbox with a cutoff."""
DEFAULT_INDEX = "https://pypi.org/simple"
PIP_WITH_OPTION = (26, 0)
JSON_SIMPLE = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Source:
    """One place the build's pip looks for files, and what a probe found there."""

    url: str
    local: bool
    """A `file://` index or a `--find-links` folder: pip never filters its files by date."""
    upload_times: bool | None = None
    """Whether the index's JSON simple API gives upload times (None: not asked, or no answer)."""
    detail: str = ""


@dataclass(frozen=True)
class HostPip:
    """codekiln's own pip: its version, package directory and the Python it runs on."""

    version: str
    package_dir: Path
    python_requires: tuple[int, int]

    @property
    def has_option(self) -> bool:
        return _version_tuple(self.version) >= PIP_WITH_OPTION

    def runner(self) -> str:
        """The path of its runner inside a build sandbox (see the module docstring)."""
        return f"{PIP_MOUNT}/pip/__pip-runner__.py"


def _version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", text)[:2])


@functools.cache
def host_pip() -> HostPip:
    spec = importlib.util.find_spec("pip")
    package_dir = Path(spec.origin).parent if spec and spec.origin else Path()
    runner = package_dir / "__pip-runner__.py"
    found = re.search(r"PYTHON_REQUIRES = \((\d+), (\d+)\)", runner.read_text()) if runner.is_file() else None
    requires = (int(found[1]), int(found[2])) if found else (99, 0)
    return HostPip(importlib.metadata.version("pip"), package_dir, requires)


def bucket(author_date: str) -> str:
    """The first instant (UTC) of the calendar month of an ISO date: the cutoff a change gets."""
    when = datetime.fromisoformat(author_date.replace("Z", "+00:00"))
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    return f"{when.year:04d}-{when.month:02d}-01T00:00:00Z"


def pip_sources(install_env: dict[str, str]) -> list[Source]:
    """The indexes and find-links folders the build's pip reads: its config files (the sandbox has no
    home of its own, so the global ones) and the recipe's install environment; PyPI when none is set."""
    return list(_pip_sources(tuple(sorted(install_env.items()))))


@functools.cache
def _pip_sources(install_env: tuple[tuple[str, str], ...]) -> tuple[Source, ...]:
    with tempfile.TemporaryDirectory(prefix="codekiln-pipconf-") as home:
        env = {"PATH": os.environ.get("PATH", ""), "HOME": home, **dict(install_env)}
        out = run([sys.executable, "-m", "pip", "config", "list"], timeout=60, env=env).stdout
    found: dict[str, str] = {}
    env_values: dict[str, str] = {}
    for line in out.splitlines():
        match = re.match(r"^([^.]*)\.(index-url|extra-index-url|find-links)='(.*)'$", line.strip())
        if match:
            (env_values if match[1] == ":env:" else found)[match[2]] = match[3]
    found.update(env_values)  # environment variables win over config files
    index = found.get("index-url", "").split() or [DEFAULT_INDEX]
    urls = index[:1] + found.get("extra-index-url", "").split()
    sources = [Source(u, local=u.startswith("file:")) for u in urls]
    return (*sources, *(Source(f, local=True) for f in found.get("find-links", "").split()))


_PROBED: dict[tuple[str, tuple[str, ...]], Source] = {}


def probe_index(url: str, names: tuple[str, ...]) -> Source:
    """Ask a remote index for the JSON simple page (PEP 691) of the first of `names` it has, and see
    whether its files carry `upload-time` (PEP 700). An answer is kept for the process; no answer
    (the index unreachable, no such project) is asked again next time."""
    key = (url, names)
    if key not in _PROBED:
        found = _probe(url, names)
        if found.upload_times is None:
            return found
        _PROBED[key] = found
    return _PROBED[key]


def _probe(url: str, names: tuple[str, ...]) -> Source:
    last = "no project of the build found there"
    for name in names:
        page = f"{url.rstrip('/')}/{re.sub(r'[-_.]+', '-', name).lower()}/"
        request = urllib.request.Request(page, headers={"Accept": f"{JSON_SIMPLE}, text/html;q=0.01"})
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                kind = response.headers.get_content_type()
                body = response.read()
        except urllib.error.HTTPError as err:
            last = f"{page}: HTTP {err.code}"
            continue
        except (urllib.error.URLError, OSError) as err:
            return Source(url, local=False, upload_times=None, detail=f"{page}: {err}")
        if kind != JSON_SIMPLE:
            return Source(url, False, False, f"{page} answers {kind}, not the JSON simple API (PEP 691)")
        try:
            files = json.loads(body).get("files", [])
        except (ValueError, AttributeError):
            return Source(url, False, False, f"{page} answers JSON that is not a simple API page")
        timed = any(isinstance(f, dict) and f.get("upload-time") for f in files)
        return Source(
            url, False, timed, f"{page}: {len(files)} files" + ("" if timed else ", no upload-time")
        )
    return Source(url, local=False, upload_times=None, detail=last)


def shown(url: str) -> str:
    """A URL as notes show it: credentials (`https://user:token@host/...`) hidden."""
    return re.sub(r"([a-z+]+://)[^/@\s]*@", r"\1***@", url)


def decide(cutoff: str, pip: HostPip, python: str, sources: list[Source]) -> tuple[str, str]:
    """(the cutoff to pass to pip or "", a note saying which was applied or why none was)."""
    if not pip.has_option:
        return "", f"no cutoff: codekiln's pip {pip.version} has no --uploaded-prior-to (pip >= 26.0 has it)"
    if _version_tuple(python) < pip.python_requires:
        wants = ".".join(map(str, pip.python_requires))
        return (
            "",
            f"no cutoff: codekiln's pip {pip.version} runs on Python >= {wants}, this environment's is {python}",
        )
    remote = [s for s in sources if not s.local]
    local = [shown(s.url) for s in sources if s.local]
    if not remote:
        return "", f"no cutoff: the build reads only local files ({', '.join(local)}), never filtered by date"
    for source in remote:
        if source.upload_times is None:
            return (
                "",
                f"no cutoff: could not ask {shown(source.url)} for upload times ({shown(source.detail)})",
            )
        if not source.upload_times:
            return "", (
                f"no cutoff: {shown(source.url)} gives no upload times (PEP 700 `upload-time` in its JSON "
                f"simple API; {shown(source.detail)}), and pip would reject all its files under --uploaded-prior-to"
            )
    note = f"uploaded before {cutoff} (pip {pip.version} --uploaded-prior-to, {', '.join(shown(s.url) for s in remote)})"
    return cutoff, note + (f"; local files not filtered: {', '.join(local)}" if local else "")


def with_cutoff(recipe: Recipe, author_date: str, root: Path | None = None) -> Recipe:
    """The recipe with the cutoff of a change dated `author_date` where the build's indexes support
    one (`cutoff` set, and part of the recipe's key), else with the reason in `cutoff_note` only.
    The indexes are asked about pytest, else the recipe's deps, else those the project at `root` declares."""
    if not author_date:
        return recipe
    sources = pip_sources(recipe.install_env)
    declared = read_pyproject(root).get("project", {}).get("dependencies", []) if root else []
    names = [dist_name(d) for d in (*recipe.required, *recipe.deps, *declared)]
    asked = tuple(n for n in dict.fromkeys(["pytest", *names]) if n)
    probed = [s if s.local else probe_index(s.url, asked) for s in sources]
    cutoff, note = decide(bucket(author_date), host_pip(), recipe.python.version, probed)
    return recipe.model_copy(update={"cutoff": cutoff, "cutoff_note": note})
