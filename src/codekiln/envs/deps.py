"""Find a Python project's test dependencies by reading its own files, the way its CI would install them.

    found = detect_deps(Path(snapshot_dir), project="attrs")
    found.deps        # ["cloudpickle; ...", "hypothesis", "pympler", "pytest", "pytest-xdist[psutil]"]
    found.extras      # package extras to install with the project itself, e.g. ["tests"]
    found.sources     # dep -> where it was found, for `env show`

Sources: pyproject `[dependency-groups]` (PEP 735, include-group followed) and
`[project.optional-dependencies]`, tox.ini `[testenv]` deps/extras/dependency_groups (factor-conditional
lines kept unless they name docs, lint or typing envs or another Python's `pyXY` factor; `-r`
followed), the extras and groups the CI job running the tests installs (`ciinstall`), the hatch env that runs the tests (`hatchenv`), requirements files (test ones, else dev
ones), setup.cfg `[options.extras_require]`, setup.py
`extras_require`/`tests_require` where they are literals, then well-known test libraries imported by the
test files, then any module the test files import that another test- or dev-named group or extra
declares (a conftest importing a `dev`-only dep), and pytest always. Test-only groups/extras are used when present, `dev`
ones otherwise. A requirement that looks like tooling (pytest-codspeed) is kept when the tests import it.

Requirements are read as pip reads them (`packaging`): environment markers are evaluated for the
environment's Python (`python_version=`), a mention whose marker is false is dropped with the reason,
and every mention that applies is kept (pip intersects them), so `pytest<8; python_version < '3.8'`
followed by `pytest>=8; python_version >= '3.8'` installs the second. Tooling that running the tests
does not need (linters, type checkers, tox, docs) is dropped.
"""

from __future__ import annotations

import ast
import configparser
import platform
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.markers import (
    InvalidMarker,
    UndefinedComparison,
    UndefinedEnvironmentName,
    default_environment,
)
from packaging.requirements import InvalidRequirement, Requirement

from codekiln.core.pyast import parse_file
from codekiln.envs import toxsubst
from codekiln.envs.ciinstall import ci_install
from codekiln.envs.depfiles import BAD_FACTORS as BAD_FACTORS
from codekiln.envs.depfiles import DEV_REQUIREMENT_FILES, REQUIREMENT_FILES, tox_values
from codekiln.envs.depfiles import requirement_lines as requirement_lines
from codekiln.envs.hatchenv import hatch_test_env
from codekiln.envs.importnames import (
    IMPORT_DISTS,
    KNOWN_TEST_IMPORTS,
    importorskip_modules,
    unguarded_imports,
)
from codekiln.envs.setuppy import setup_py_requires

TEST_NAMES = ("test", "tests", "testing", "test-deps", "unit")
DEV_NAMES = ("dev", "develop", "development")
TOOLING = re.compile(
    r"^(tox|tox-.*|nox|ruff|mypy|mypy-extensions|pyright|pyrefly|ty|flake8.*|pylint|black|isort|pre-commit.*"
    r"|sphinx.*|furo|myst-parser|alabaster|twine|build|wheel|flit|codecov|coveralls|bump2?version|towncrier"
    r"|check-manifest|pip-tools|pytest-mypy.*|pytest-codspeed|pyroma|types-.*|gha-update|cogapp|pip"
    r"|pallets-sphinx-themes|readme-renderer|setuptools-scm|hatch|uv|pydocstyle|pycodestyle|bandit)$"
)
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?")


def dist_name(req: str) -> str:
    """The normalized project name a requirement line is about ('' if none)."""
    match = _NAME.match(req)
    return re.sub(r"[-_.]+", "-", match[1]).lower() if match else ""


def import_dist(module: str) -> str:
    """The normalized distribution name of a top-level import (`jwt` -> `pyjwt`; most are their own)."""
    return dist_name(IMPORT_DISTS.get(module, module))


def marker_environment(python_version: str | None = None) -> dict[str, str]:
    """The values markers are evaluated against: this machine's, with the environment's Python."""
    env = {k: str(v) for k, v in default_environment().items()}
    full = python_version or platform.python_version()
    env.update(python_full_version=full, python_version=".".join(full.split(".")[:2]), extra="")
    return env


@dataclass
class FoundDeps:
    """Detected test dependencies: requirement strings, extras of the project itself, and provenance.

    `python_version` is the environment's Python (markers are evaluated for it; None: this one)."""

    deps: list[str] = field(default_factory=list)
    extras: list[str] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    python_version: str | None = None
    imported: set[str] = field(default_factory=set)
    """Distribution names the tests import (same-named modules): kept even where they look like tooling."""

    def add(self, req: str, source: str, project: str) -> None:
        req = req.strip()
        if not dist_name(req):
            return
        try:
            parsed = Requirement(req)
        except InvalidRequirement as err:
            self.dropped.setdefault(req, f"not a requirement pip reads ({source}): {err}")
            return
        name = dist_name(parsed.name)
        if parsed.marker is not None:
            env = marker_environment(self.python_version)
            try:
                applies = parsed.marker.evaluate(env)
            except (InvalidMarker, UndefinedComparison, UndefinedEnvironmentName) as err:
                self.dropped.setdefault(req, f"marker cannot be evaluated ({source}): {err}")
                return
            if not applies:
                self.dropped.setdefault(
                    req, f"marker false for Python {env['python_full_version']} ({source})"
                )
                return
        if name == project:
            for extra in sorted(parsed.extras):
                if extra not in self.extras:
                    self.extras.append(extra)
            return
        if TOOLING.match(name) and name not in self.imported:
            self.dropped.setdefault(req, f"tooling ({source})")
            return
        mentioned = self.mentions(name)
        if any(_same(req, d) for d in mentioned) or (_bare(parsed) and mentioned):
            return  # nothing new: a bare name adds no constraint to a mention that has one
        for bare in [d for d in mentioned if _bare(Requirement(d))]:
            self.deps.remove(bare)
            self.sources.pop(bare, None)
        self.deps.append(req)
        self.sources[req] = source

    def mentions(self, name: str) -> list[str]:
        """Every kept requirement on the project `name`."""
        return [d for d in self.deps if dist_name(d) == dist_name(name)]


def _bare(req: Requirement) -> bool:
    return not (req.specifier or req.extras or req.url or req.marker)


def _same(a: str, b: str) -> bool:
    """True when two requirement strings ask for the same thing (markers aside)."""
    ra, rb = Requirement(a), Requirement(b)
    return (dist_name(ra.name), ra.extras, ra.specifier, ra.url) == (
        dist_name(rb.name),
        rb.extras,
        rb.specifier,
        rb.url,
    )


def read_pyproject(root: Path) -> dict[str, Any]:
    path = root / "pyproject.toml"
    try:
        return tomllib.loads(path.read_text()) if path.is_file() else {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def read_ini(path: Path) -> configparser.ConfigParser:
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    if path.is_file():
        try:
            cfg.read(path)
        except configparser.Error:
            return configparser.ConfigParser(interpolation=None)
    return cfg


def _pick(names: list[str]) -> list[str]:
    """The test-only names among `names`, else the dev ones."""
    tests = [n for n in names if n.lower() in TEST_NAMES]
    return tests or [n for n in names if n.lower() in DEV_NAMES]


def _group(groups: dict[str, Any], name: str, seen: set[str]) -> list[str]:
    """The requirements of a PEP 735 dependency group, include-group entries expanded."""
    if name in seen:
        return []
    seen.add(name)
    out: list[str] = []
    for entry in groups.get(name, []):
        if isinstance(entry, str):
            out.append(entry)
        elif isinstance(entry, dict) and "include-group" in entry:
            out += _group(groups, entry["include-group"], seen)
    return out


def _tox_deps(root: Path, found: FoundDeps, project: str, groups: dict[str, Any]) -> None:
    tox = read_ini(root / "tox.ini")
    if not tox.has_section("testenv"):
        return
    env = tox["testenv"]
    for dep in tox_values(env.get("deps", ""), python_version=found.python_version):
        dep = dep.replace("{toxinidir}/", "").replace("{toxinidir}", ".")
        include = re.match(r"^(-r|--requirement)\s*=?\s*(\S+)", dep)
        if include:
            for req in requirement_lines(root / include[2], root):
                found.add(req, f"tox.ini -> {include[2]}", project)
        elif not dep.startswith(("-", ".")) and "{" not in dep:
            found.add(dep, "tox.ini [testenv] deps", project)
    # natsort 8.4.0: `extras = {env:WITH_EXTRAS:}` (none unless set), once installed as an extra of that name
    extras = toxsubst.substitute(env.get("extras", ""), toxsubst.setenv(tox))
    for extra in tox_values(extras, commas=True, python_version=found.python_version):
        if extra not in found.extras:
            found.extras.append(extra)
    for name in tox_values(env.get("dependency_groups", ""), commas=True):
        for req in _group(groups, name, set()):
            found.add(req, f"tox.ini dependency_groups {name}", project)


def _ci_deps(root: Path, found: FoundDeps, project: str, pyproject: dict[str, Any]) -> None:
    """The extras and dependency groups the CI job running the tests installs (`ciinstall`)."""
    ci = ci_install(root, pyproject)
    groups = pyproject.get("dependency-groups", {})
    for name in ci.groups:
        for req in _group(groups, name, set()):
            found.add(req, f"{ci.where} (group {name})", project)
    for extra in [e for e in ci.extras if e not in found.extras]:
        found.extras.append(extra)
        found.sources[f".[{extra}]"] = ci.where


def local_modules(root: Path) -> set[str]:
    """Top-level module names the project itself provides (root, src/ and test directories)."""
    names: set[str] = set()
    for base in (root, root / "src", root / "tests", root / "test", root / "testing"):
        if base.is_dir():
            for child in base.iterdir():
                if child.suffix == ".py" or (child.is_dir() and (child / "__init__.py").exists()):
                    names.add(child.stem if child.suffix == ".py" else child.name)
    return names


def imported_modules(files: list[Path]) -> set[str]:
    """Top-level names imported (absolutely) anywhere in `files`."""
    names: set[str] = set()
    for tree in filter(None, map(parse_file, files)):
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def _declared_anywhere(
    groups: dict[str, Any],
    extras: dict[str, list[str]],
    setup_cfg: configparser.ConfigParser,
    setup_py: dict[str, list[str]],
) -> dict[str, tuple[str, str]]:
    """dist name -> (requirement, where) over every test- or dev-named group and extra, picked or not:
    where a module the tests import comes from when the test group forgot it (a conftest importing a
    `dev`-only dep). Other groups (docs, a platform's own suite) are left out: what their tests import
    may not install or may change the run (a plugin with its own warnings)."""
    out: dict[str, tuple[str, str]] = {}
    names = {n.lower() for n in (*TEST_NAMES, *DEV_NAMES)}
    for name in [n for n in groups if n.lower() in names]:
        for req in _group(groups, name, set()):
            out.setdefault(dist_name(req), (req, f"pyproject [dependency-groups] {name}"))
    for name, reqs in extras.items():
        for req in reqs if name.lower() in names else []:
            out.setdefault(dist_name(req), (req, f"pyproject [project.optional-dependencies] {name}"))
    if setup_cfg.has_section("options.extras_require"):
        for name, value in setup_cfg["options.extras_require"].items():
            for req in tox_values(value) if name.lower() in names else []:
                out.setdefault(dist_name(req), (req, f"setup.cfg extras_require {name}"))
    for name, reqs in setup_py.items():
        for req in reqs if name.lower() in names else []:
            out.setdefault(dist_name(req), (req, f"setup.py extras_require {name}"))
    out.pop("", None)
    return out


def _in_other_extras(
    extras: dict[str, list[str]], setup_cfg: configparser.ConfigParser, setup_py: dict[str, list[str]]
) -> dict[str, tuple[str, str]]:
    """dist name -> (extra, where) over every extra of the project: for a module a test file or conftest
    imports outside a `try:`, which fails without it, the whole extra is installed (oauthlib's tests
    `import jwt`: its `signedtoken` extra, PyJWT and the cryptography its RSA signing needs); so too for
    a module the tests ask for with `pytest.importorskip`, which the project offers as that extra
    (testfixtures 12.4.0's `yaml` and `toml` extras: 46 tests skipped without them, where the project's
    own setup, `uv sync --all-extras`, runs them). Guarded imports are not read."""
    cfg = setup_cfg["options.extras_require"] if setup_cfg.has_section("options.extras_require") else {}
    out: dict[str, tuple[str, str]] = {}
    for where, every in (
        ("pyproject [project.optional-dependencies]", extras),
        ("setup.cfg extras_require", {n: tox_values(v) for n, v in cfg.items()}),
        ("setup.py extras_require", setup_py),
    ):
        for name, reqs in every.items():
            for req in reqs:
                out.setdefault(dist_name(req), (name, f"{where} {name}"))
    return out


def detect_deps(
    root: Path, project: str, test_files: list[Path] | None = None, *, python_version: str | None = None
) -> FoundDeps:
    """All test dependencies of the project checked out at `root` for an environment on Python
    `python_version` (default: this one); see the module docstring."""
    project = dist_name(project)
    local = local_modules(root) | set(sys.stdlib_module_names)
    imported = sorted(imported_modules(test_files or []) - local)
    found = FoundDeps(python_version=python_version, imported={import_dist(m) for m in imported})
    pyproject = read_pyproject(root)
    groups = pyproject.get("dependency-groups", {})
    for name in _pick(list(groups)):
        for req in _group(groups, name, set()):
            found.add(req, f"pyproject [dependency-groups] {name}", project)
    extras = pyproject.get("project", {}).get("optional-dependencies", {})
    for name in _pick(list(extras)):
        for req in extras[name]:
            found.add(req, f"pyproject [project.optional-dependencies] {name}", project)
    _tox_deps(root, found, project, groups)
    _ci_deps(root, found, project, pyproject)
    hatch, reqs, features = hatch_test_env(pyproject, BAD_FACTORS)
    for req in reqs:
        found.add(req, f"pyproject [tool.hatch.envs.{hatch}]", project)
    found.extras += [f for f in features if f not in found.extras]
    files = [f for f in REQUIREMENT_FILES if (root / f).is_file()]
    for rel in files or [f for f in DEV_REQUIREMENT_FILES if (root / f).is_file()]:
        for req in requirement_lines(root / rel, root):
            found.add(req, rel, project)
    setup_cfg = read_ini(root / "setup.cfg")
    if setup_cfg.has_section("options.extras_require"):
        section = setup_cfg["options.extras_require"]
        for name in _pick(list(section)):
            for req in tox_values(section[name]):
                found.add(req, f"setup.cfg extras_require {name}", project)
    setup_py = setup_py_requires(root)
    for name in _pick(list(setup_py)):
        for req in setup_py[name]:
            found.add(req, f"setup.py extras_require {name}", project)
    for module in imported:
        if module in KNOWN_TEST_IMPORTS:
            found.add(KNOWN_TEST_IMPORTS[module], f"imported by the tests ({module})", project)
    declared = _declared_anywhere(groups, extras, setup_cfg, setup_py)
    skipped_without = importorskip_modules(test_files or []) - local
    needed = unguarded_imports(test_files or []) | skipped_without
    other = _in_other_extras(extras, setup_cfg, setup_py)
    for module in [*imported, *sorted(skipped_without - set(imported))]:
        mention = declared.get(import_dist(module))
        extra = other.get(import_dist(module)) if module in needed and not mention else None
        how = "imported by the tests" if module in imported else "the tests importorskip it"
        if extra and not found.mentions(import_dist(module)) and extra[0] not in found.extras:
            found.extras.append(extra[0])
            found.sources[f".[{extra[0]}]"] = f"{extra[1]} ({how}: {module})"
        if mention and not found.mentions(import_dist(module)):
            found.add(mention[0], f"{mention[1]} ({how}: {module})", project)
    found.add("pytest", "always (the test runner)", project)
    return found
