"""What the plain side of bench/envbuild.py installs besides the project: the extras and dependency groups
the project declares for its tests, read with tox's own rules where a tox.ini says them.

    plain_targets(root, "3.11")   # (["crypto"], ["tests"], [], "tox env py311-crypto") for pyjwt 2.15.1

Two sources, both named by the project: an extra or dependency group named test/tests/testing
(pyproject, setup.cfg, setup.py), and tox.ini's `[testenv]` `extras`, `dependency_groups` and `deps`
(requirements and `-r FILE`) for the tox environment that runs the suite on this Python: the first entry of `envlist` (braces expanded as
tox expands them) with this Python's factor (`py311`), its factor-conditional lines applied as tox
applies them (`a,b:` either, `a-b:` both, `!a` not), a `[testenv:NAME]` section's value first.
pyjwt's tox runs `py311-crypto` with `extras = crypto: crypto`: its tests of the `crypto` extra skip
without it; aiosignal's `deps = -rrequirements{/}ci-wheel.txt` has the pytest-cov its config loads.
Where tox's env installs no `deps`, a requirements file named for the tests (`test-requirements.txt`,
`requirements-test.txt`, `requirements/test.txt`, `tests/requirements.txt`, ...) is read: sniffio 1.3.1
declares curio only there, and its own CI script installs it (`pip install -Ur test-requirements.txt`)
before the suite (without it: 1 failure the project's CI does not have). Its lines that install the
project itself (`-e .`, `NAME @ file:.`) are left out, since the project is installed from `.` already
(pip refuses the two as conflicting: referencing 0.37.0). Other requirements files are not read.
Where neither names deps, the hatch env whose scripts include one named `test`/`tests` installs its
`dependencies` (soupsieve 4.1.1: beautifulsoup4, which every test module imports, is only there).
A project whose checks run through uv (a `uv.lock`, or a CI workflow running `uv run`/`uv sync`) gets
the groups uv installs by default too: `dev`, or `[tool.uv] default-groups` (tenacity 9.2.1's CI runs
`uv run poe check`, and its `dev` group has the trio that one test skips without).
The suite runs with the arguments of that tox env's pytest command (`tox_pytest_args`).
"""

from __future__ import annotations

import configparser
import itertools
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path

TEST_EXTRAS = ("test", "tests", "testing")
TEST_REQUIREMENTS = (
    "test-requirements.txt", "test_requirements.txt", "requirements-test.txt", "requirements-tests.txt",
    "requirements_test.txt", "requirements-testing.txt", "requirements/test.txt", "requirements/tests.txt",
    "requirements/testing.txt", "tests/requirements.txt",
)  # fmt: skip


def declared_extra(root: Path) -> tuple[str | None, str | None]:
    """(extra, dependency group) named test/tests/testing that the project declares, if any."""
    extras: set[str] = set()
    groups: set[str] = set()
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            data = tomllib.loads(pyproject.read_text(errors="replace"))
        except tomllib.TOMLDecodeError:
            data = {}
        extras |= set(data.get("project", {}).get("optional-dependencies", {}))
        groups |= set(data.get("dependency-groups", {}))
    for name in ("setup.cfg", "setup.py"):
        path = root / name
        if path.is_file():
            text = path.read_text(errors="replace")
            extras |= {m for m in TEST_EXTRAS if re.search(rf"^\s*['\"]?{m}['\"]?\s*[:=]", text, re.M)}
    extra = next((e for e in TEST_EXTRAS if e in extras), None)
    group = next((g for g in TEST_EXTRAS if g in groups), None)
    return extra, group


def declared_groups(root: Path) -> set[str]:
    """The names of pyproject.toml's `[dependency-groups]`."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return set()
    groups = data.get("dependency-groups", {})
    return set(groups) if isinstance(groups, dict) else set()


def expand(entry: str) -> list[str]:
    """tox's brace expansion of one envlist entry: `py{39,310}-{a,b}` -> py39-a, py39-b, py310-a, ..."""
    parts = re.split(r"(\{[^{}]*\})", entry)
    choices = [[c.strip() for c in p[1:-1].split(",")] if p.startswith("{") else [p] for p in parts]
    return ["".join(combo) for combo in itertools.product(*choices)]


def envlist(text: str) -> list[str]:
    """The environments of a tox `envlist` value (commas and lines, braces expanded)."""
    entries = re.split(r",(?![^{]*\})|\n", text)  # commas outside braces
    return [env for e in entries if e.strip() and not e.strip().startswith("#") for env in expand(e.strip())]


def applies(condition: str, factors: set[str]) -> bool:
    """Whether a tox factor condition (`a,b`: either; `a-b`: both; `!a`: not; braces expanded) holds."""
    for alternative in expand(condition):
        for one in alternative.split(","):
            needed = [f.strip() for f in one.split("-") if f.strip()]
            if needed and all(
                (f[1:] not in factors) if f.startswith("!") else (f in factors) for f in needed
            ):
                return True
    return False


def tox_lines(value: str, factors: set[str]) -> list[str]:
    """The lines of a tox setting for an environment with `factors` (conditional lines applied)."""
    out: list[str] = []
    for raw in value.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = re.match(r"^([\w{},.!-]+):\s+(.*)$", line)
        if match and "://" not in line:
            if not applies(match[1], factors):
                continue
            line = match[2].strip()
        out.append(line)
    return out


def tox_values(value: str, factors: set[str]) -> list[str]:
    """The words of a tox setting (commas or spaces between them) for an environment with `factors`."""
    return [w for line in tox_lines(value, factors) for w in re.split(r"[,\s]+", line) if w]


def pip_args(dep: str, root: Path) -> list[str]:
    """pip arguments for one line of tox `deps`: a requirement, or `-r`/`-c` FILE (tox's `{toxinidir}`
    and `{/}` replaced); [] for what the plain run cannot read (other substitutions, the project itself)."""
    dep = dep.replace("{toxinidir}", str(root)).replace("{/}", "/")
    option = re.match(r"^(-r|-c|--requirement|--constraint)\s*=?\s*(\S+)$", dep)
    if option:
        path = root / option[2]
        return [option[1], str(path)] if path.is_file() else []
    if "{" in dep or dep.startswith(("-", ".")) or dep == str(root):
        return []
    return [dep]


def requirement_args(path: Path, root: Path, seen: frozenset[Path] = frozenset()) -> list[str]:
    """pip arguments for a requirements file's lines, `-r`/`-c` includes followed, lines that install the
    project itself (a local path, `-e`, a `file:` URL) and other pip options left out."""
    if path in seen or not path.is_file():
        return []
    out: list[str] = []
    for raw in path.read_text(errors="replace").replace("\\\n", " ").splitlines():
        line = raw.split(" #")[0].split(" --hash")[0].strip()
        if not line or line.startswith("#"):
            continue
        include = re.match(r"^(-r|-c|--requirement|--constraint)\s*=?\s*(\S+)$", line)
        if include and include[1] in ("-r", "--requirement"):
            out += requirement_args(path.parent / include[2], root, seen | {path})
        elif not line.startswith(("-", ".", "/")) and "file:" not in line:
            out.append(line)
    return out


def tox_env(root: Path, python: str) -> tuple[str, set[str], Callable[[str], str]] | None:
    """(name, factors, setting) of tox.ini's test env for Python `python`: `setting(key)` is the
    env's own `[testenv:NAME]` value, else `[testenv]`'s; None without a `[testenv]`."""
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cfg.read(root / "tox.ini")
    except (configparser.Error, UnicodeDecodeError):
        return None
    if not cfg.has_section("testenv"):
        return None
    version = python.split(".")[:2]
    tags = {"py" + "".join(version), "py" + ".".join(version)}
    envs = envlist(
        cfg.get("tox", "envlist", fallback=cfg.get("tox", "env_list", fallback=""))
    )  # tox 4: either
    name = next((e for e in envs if tags & set(e.split("-"))), "py" + "".join(version))
    own = f"testenv:{name}"

    def setting(key: str) -> str:
        if cfg.has_option(own, key):
            return cfg.get(own, key)
        return cfg.get("testenv", key, fallback="")

    return name, set(name.split("-")), setting


def tox_targets(root: Path, python: str) -> tuple[list[str], list[str], list[str], str]:
    """(extras, dependency groups, pip arguments of `deps`, which tox env) that tox.ini's test env for
    Python `python` installs."""
    env = tox_env(root, python)
    if env is None:
        return [], [], [], ""
    name, factors, setting = env
    extras = [e for e in tox_values(setting("extras"), factors) if "{" not in e]
    groups = [g for g in tox_values(setting("dependency_groups"), factors) if "{" not in g]
    deps = [arg for line in tox_lines(setting("deps"), factors) for arg in pip_args(line, root)]
    return extras, groups, deps, f"tox env {name}" if extras or groups or deps else ""


_SHELL_END = {"&&", "||", ";", "|", ">", ">>", "2>&1"}


def tox_pytest_args(root: Path, python: str) -> list[str]:
    """The arguments of the first pytest command of tox.ini's test env for Python `python` (`pytest`,
    `py.test`, `python -m pytest`, `coverage run -m pytest`): `{posargs}` empty, `{posargs:X}` as X,
    `{toxinidir}` the project root; a word with any other substitution is left out."""
    env = tox_env(root, python)
    if env is None:
        return []
    _, factors, setting = env
    for line in tox_lines(setting("commands"), factors):
        line = re.sub(r"\{posargs:([^}]*)\}", r"\1", line).replace("{posargs}", "")
        try:
            words = shlex.split(line.replace("{toxinidir}", str(root)), comments=True)
        except ValueError:
            continue
        start = next((i for i, w in enumerate(words) if w.split("/")[-1] in ("pytest", "py.test")), None)
        if start is not None:
            rest = words[start + 1 :]
            rest = rest[: next((j for j, w in enumerate(rest) if w in _SHELL_END), len(rest))]
            return [w for w in rest if "{" not in w]
    return []


def hatch_deps(root: Path) -> tuple[list[str], str]:
    """(dependencies, "hatch env NAME") of the hatch env with a `test`/`tests` script, if any."""
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return [], ""
    envs = data.get("tool", {}).get("hatch", {}).get("envs", {})
    for name, env in envs.items() if isinstance(envs, dict) else ():
        scripts = env.get("scripts") if isinstance(env, dict) else None
        if isinstance(scripts, dict) and {"test", "tests"} & set(scripts):
            deps = [d for d in env.get("dependencies") or [] if isinstance(d, str)]
            return deps, f"hatch env {name}" if deps else ""
    return [], ""


def uv_groups(root: Path, declared: set[str]) -> list[str]:
    """The dependency groups `uv run`/`uv sync` install by default (`dev`, or `[tool.uv]
    default-groups`), where the project runs its checks through uv: a `uv.lock`, or a CI workflow
    that runs `uv run`/`uv sync` without `--no-dev`/`--no-default-groups`."""
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    texts = [w.read_text(errors="replace") for w in workflows if w.is_file()]
    runs = [m for t in texts for m in re.findall(r"\buv (?:run|sync)\b[^\n]*", t)]
    if not (root / "uv.lock").is_file() and not any(
        "--no-dev" not in r and "--no-default-groups" not in r for r in runs
    ):
        return []
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return []
    default = data.get("tool", {}).get("uv", {}).get("default-groups", ["dev"])
    if default == "all":
        return sorted(declared)
    return [g for g in default if isinstance(g, str) and g in declared] if isinstance(default, list) else []


def plain_targets(root: Path, python: str) -> tuple[list[str], list[str], list[str], str]:
    """(extras, dependency groups, more pip arguments, where from) the plain side installs with the
    project (module doc)."""
    extra, group = declared_extra(root)
    extras, groups, deps, where = tox_targets(root, python)
    if not deps:
        named = next((root / n for n in TEST_REQUIREMENTS if (root / n).is_file()), None)
        if named is not None and (deps := requirement_args(named, root)):
            where = ", ".join(filter(None, [where, named.relative_to(root).as_posix()]))
    if not deps:
        deps, hatch = hatch_deps(root)
        where = ", ".join(filter(None, [where, hatch]))
    extras = list(dict.fromkeys([*([extra] if extra else []), *extras]))
    uv = uv_groups(root, declared_groups(root))
    groups = list(dict.fromkeys([*([group] if group else []), *groups, *uv]))
    if uv:
        where = ", ".join(filter(None, [where, "uv's default groups"]))
    return extras, groups, deps, where
