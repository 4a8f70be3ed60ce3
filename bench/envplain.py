"""What the plain side of bench/envbuild.py installs besides the project: what the project's OWN test
setup installs, read from its own files by rules written here (never per library).

    plain_targets(root, "3.11")   # (["crypto"], ["tests"], [], "tox env py311-crypto") for pyjwt 2.15.1

Always: the extra or dependency group named test/tests/testing (pyproject, setup.cfg, setup.py). Then
the FIRST of these that installs anything (extras, dependency groups or requirements):
1. tox.ini's `[testenv]` `extras`, `dependency_groups` and `deps` for the env that runs the suite on
   this Python: the first `envlist` entry (braces expanded) with this Python's factor (`py311`), its
   factor-conditional lines applied as tox applies them (`a,b:` either, `a-b:` both, `!a` not), a
   `[testenv:NAME]` value first (pyjwt's `py311-crypto` installs the `crypto` extra its tests need).
2. noxfile.py: `session.install(...)` in sessions whose function name has `test`; not read at all where
   an argument is computed at run time (referencing's `REQUIREMENTS["tests"]`).
3. CI: the `.github/workflows/*.yml` jobs whose steps run `pytest` (or `make test`): their `pip install`,
   `uv pip install` and `uv sync` commands (pydantic-settings: `uv sync --group testing --all-extras`).
4. Makefile: the install commands of the `test` target and the targets it depends on (multidict:
   test -> .develop -> .install-deps: `pip install -Ur requirements/dev.txt`, pytest-cov in it); `uv run`
   there syncs uv's default groups (pydantic: `uv run pytest` installs `dev`, the pytest-benchmark its
   addopts need).
5. A requirements file named for tests (`test-requirements.txt`, `requirements/test.txt`,
   `tests/requirements.txt`, then any `*requirements*.txt` / `requirements*/*.txt` with `test` in its
   name), else for development (`requirements-dev.txt`, `requirements/dev.txt`): sniffio 1.3.1's curio.
6. The dev tool's defaults: uv's default groups (`[tool.uv] default-groups`, else `dev`; urllib3's
   trustme), poetry's non-optional groups (aiohappyeyeballs' pytest-cov; `^`/`~` read as poetry reads
   them), pdm's dev-dependencies, else the hatch env with a `test`/`tests` script (soupsieve's bs4).
7. setuptools' `tests_require` (requests-oauthlib's requests-mock).
Install commands are read as pip reads them (`-r` followed, `-c` kept, `.[x]`/`-e .[x]` -> extra x,
`--group`, `--extra`, `--all-extras`, `--all-groups`); what installs the project itself (`.`, `-e .`,
`NAME @ file:.`) is left out since the project is installed from `.` already, and so are words with a
shell or CI substitution (`$X`, `${{ matrix.x }}`). Groups the pyproject does not declare are dropped.
Last, a pytest plugin that the project's own addopts need (`--cov*` -> pytest-cov, `--benchmark-*`,
`-n`/`-p xdist` -> pytest-xdist, `-p pytest_NAME`, `--timeout`, ...) and that nothing chosen above
installs is added only when one of the project's own files names it (pyproject, setup.*, tox.ini,
noxfile.py, Makefile, Pipfile, requirements files, workflows); a plugin nothing declares stays out, and
the plain run fails as the project would.
A project whose checks run through uv (a `uv.lock`, or a CI workflow running `uv run`/`uv sync`) gets
the groups uv installs by default too, whatever the source chosen above (tenacity 9.2.1's CI runs
`uv run poe check`, and its `dev` group has the trio that one test skips without). The suite runs with
the arguments of the project's own pytest command (`envcommand.plain_pytest_args`: tox's, else nox's,
a test script's, the Makefile's or CI's).
A project that builds compiled extensions is installed editable (`builds_extensions`).
"""

from __future__ import annotations

import configparser
import itertools
import re
import shlex
import tomllib
from collections.abc import Callable
from pathlib import Path

from envdeclared import (
    Targets,
    ci_targets,
    dev_tool_targets,
    make_targets,
    nox_targets,
    plugin_targets,
    pyproject,
    requirement_args,
    tests_require,
)

TEST_EXTRAS = ("test", "tests", "testing")
TEST_REQUIREMENTS = (
    "test-requirements.txt", "test_requirements.txt", "requirements-test.txt", "requirements-tests.txt",
    "requirements_test.txt", "requirements-testing.txt", "requirements/test.txt", "requirements/tests.txt",
    "requirements/testing.txt", "tests/requirements.txt",
)  # fmt: skip
REQUIREMENT_NAME = re.compile(r"(^|/)([^/]*requirements?[^/]*|requirements?/[^/]*)\.txt$")


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


def tox_toml_targets(root: Path, python: str) -> tuple[list[str], list[str], list[str], str]:
    """The same for tox 4's TOML configuration: tox.toml, or pyproject's `[tool.tox]` (its
    `legacy_tox_ini` string read as tox.ini). Values tox computes (`{ replace = ... }` tables) are left out."""
    try:
        data = tomllib.loads((root / "tox.toml").read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        data = pyproject(root).get("tool", {}).get("tox", {})
    if isinstance(data.get("legacy_tox_ini"), str):
        return tox_targets(root, python, data["legacy_tox_ini"])
    if not data:
        return [], [], [], ""
    version = python.split(".")[:2]
    tags = {"".join(version), ".".join(version), "py" + "".join(version), "py" + ".".join(version)}
    envs = [e for e in data.get("env_list", []) if isinstance(e, str)]
    name = next((e for e in envs if tags & set(e.split("-"))), ".".join(version))
    own = data.get("env", {}).get(name, {})

    def setting(key: str) -> list[str]:
        value = own.get(key, data.get("env_run_base", {}).get(key, []))
        return [v for v in value if isinstance(v, str) and "{" not in v] if isinstance(value, list) else []

    extras, groups = setting("extras"), setting("dependency_groups")
    deps = [arg for dep in setting("deps") for arg in pip_args(dep, root)]
    return extras, groups, deps, f"tox env {name}" if extras or groups or deps else ""


def tox_env(
    root: Path, python: str, text: str | None = None
) -> tuple[str, set[str], Callable[[str], str]] | None:
    """(name, factors, setting) of tox.ini's test env for Python `python` (`text`: tox.ini's text from
    elsewhere): `setting(key)` is the env's own `[testenv:NAME]` value, else `[testenv]`'s; None without
    a `[testenv]`."""
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cfg.read_string(text) if text is not None else cfg.read(root / "tox.ini")
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


def tox_targets(
    root: Path, python: str, text: str | None = None
) -> tuple[list[str], list[str], list[str], str]:
    """(extras, dependency groups, pip arguments of `deps`, which tox env) that tox.ini's test env for
    Python `python` installs (tox 4's TOML where no tox.ini has a `[testenv]`)."""
    env = tox_env(root, python, text)
    if env is None:
        return tox_toml_targets(root, python) if text is None else ([], [], [], "")
    name, factors, setting = env
    extras = [e for e in tox_values(setting("extras"), factors) if "{" not in e]
    groups = [g for g in tox_values(setting("dependency_groups"), factors) if "{" not in g]
    deps = [arg for line in tox_lines(setting("deps"), factors) for arg in pip_args(line, root)]
    return extras, groups, deps, f"tox env {name}" if extras or groups or deps else ""


_SHELL_END = {"&&", "||", ";", "|", ">", ">>", "2>&1"}


def tox_pytest_command(root: Path, python: str) -> list[str] | None:
    """The arguments of the first pytest command of tox.ini's test env for Python `python` (`pytest`,
    `py.test`, `python -m pytest`, `coverage run -m pytest`): `{posargs}` empty, `{posargs:X}` as X,
    `{toxinidir}` the project root; a word with any other substitution is left out. None where that env
    runs no pytest (or there is no tox.ini)."""
    env = tox_env(root, python)
    if env is None:
        return None
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
    return None


def uv_groups(root: Path) -> list[str]:
    """The dependency groups `uv run`/`uv sync` install by default (`dev`, or `[tool.uv]
    default-groups`) where the project runs its checks through uv: a `uv.lock`, or a CI workflow
    that runs `uv run`/`uv sync` without `--no-dev`/`--no-default-groups`."""
    workflows = sorted((root / ".github" / "workflows").glob("*.y*ml"))
    texts = [w.read_text(errors="replace") for w in workflows if w.is_file()]
    runs = [m for t in texts for m in re.findall(r"\buv (?:run|sync)\b[^\n]*", t)]
    if not (root / "uv.lock").is_file() and not any(
        "--no-dev" not in r and "--no-default-groups" not in r for r in runs
    ):
        return []
    data = pyproject(root)
    declared = data.get("dependency-groups", {})
    default = data.get("tool", {}).get("uv", {}).get("default-groups", ["dev"])
    if default == "all":
        return sorted(declared)
    return [g for g in default if isinstance(g, str) and g in declared] if isinstance(default, list) else []


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


def requirement_files(root: Path) -> list[Path]:
    """Requirements files named for the tests, then those named for development: the usual names
    (`test-requirements.txt`, `requirements/test.txt`, `tests/requirements.txt`...) first, then any other
    `*requirements*.txt` or `requirements/*.txt` with `test` in its name, then with `dev` (`requirements-dev.txt`,
    `requirements/dev.txt`)."""
    files = [*root.glob("*.txt"), *root.glob("requirements*/*.txt"), *root.glob("test*/requirements*.txt")]
    named = sorted(p.relative_to(root).as_posix() for p in files if p.is_file())
    named = [n for n in named if REQUIREMENT_NAME.search(n)]
    usual = [n for n in TEST_REQUIREMENTS if n in named]
    test = [n for n in named if re.search(r"test", n.split("/")[-1]) and n not in usual]
    dev = [n for n in named if re.search(r"(^|[/_-])dev", n) and n not in usual + test]
    return [root / n for n in usual + test + dev]


def named_requirements(root: Path) -> tuple[Targets, str]:
    """The first requirements file named for tests (else for development) that names a requirement."""
    for path in requirement_files(root):
        if deps := requirement_args(path, root):
            return Targets(deps=deps), path.relative_to(root).as_posix()
    return Targets(), ""


def chosen_source(root: Path, python: str) -> tuple[Targets, str]:
    """(what it installs, its name) of the first of the project's own test setups that installs anything
    besides the project (module doc)."""
    extras, groups, deps, tox_env = tox_targets(root, python)
    sources = (
        lambda: (Targets(extras, groups, deps), tox_env),
        lambda: (nox_targets(root), "noxfile.py test session"),
        lambda: (ci_targets(root), "CI workflow job running pytest"),
        lambda: (make_targets(root), "Makefile"),
        lambda: named_requirements(root),
        lambda: (dev_tool_targets(root), "dev tool defaults (uv/poetry/pdm)"),
        lambda: (lambda deps, env: (Targets(deps=deps), env))(*hatch_deps(root)),
        lambda: (tests_require(root), "tests_require"),
    )
    for source in sources:
        targets, where = source()
        if targets:
            return targets, where
    return Targets(), ""


EXTENSION_BUILD = re.compile(r"\bExtension\(|\bext_modules\b|\bcythonize\(")
EXTENSION_BACKENDS = ("scikit_build_core", "mesonpy", "maturin", "setuptools_rust")


def builds_extensions(root: Path) -> str:
    """What says the project builds compiled extension modules ("" if nothing does): its setup.py
    (`Extension(`, `ext_modules`, `cythonize(`), pyproject's `[tool.setuptools] ext-modules`, or a
    build backend that only builds them. Such a project is installed editable on the plain side (module
    doc of bench/envbuild.py): pytest runs in the source tree, whose package shadows an installed copy,
    and only an editable install builds the compiled modules into that tree."""
    try:
        if match := EXTENSION_BUILD.search((root / "setup.py").read_text(errors="replace")):
            return f"setup.py {match[0].rstrip('(')}"
    except OSError:
        pass
    data = pyproject(root)
    if data.get("tool", {}).get("setuptools", {}).get("ext-modules"):
        return "pyproject.toml [tool.setuptools] ext-modules"
    backend = str(data.get("build-system", {}).get("build-backend", ""))
    return f"build backend {backend}" if backend.split(".")[0] in EXTENSION_BACKENDS else ""


def plain_targets(root: Path, python: str) -> tuple[list[str], list[str], list[str], str]:
    """(extras, dependency groups, more pip arguments, where from) the plain side installs with the
    project (module doc)."""
    extra, group = declared_extra(root)
    targets = Targets([extra] if extra else [], [group] if group else [])
    chosen, where = chosen_source(root, python)
    targets.add(chosen)
    if uv := [g for g in uv_groups(root) if g not in targets.groups]:  # uv installs them whatever else runs
        targets.groups += uv
        where = ", ".join(filter(None, [where, "uv's default groups"]))
    declared = pyproject(root).get("dependency-groups", {})
    targets.groups = [g for g in targets.groups if g in declared]  # pip stops at a group not declared
    plugins, plugins_from = plugin_targets(root, targets)
    targets.deps += plugins
    return targets.extras, targets.groups, targets.deps, ", ".join(filter(None, [where, plugins_from]))
