"""Find how a Python project runs its tests: which paths pytest should collect, and from which config.

    found = detect_tests(Path(snapshot_dir))
    found.args        # pytest arguments for the full suite, e.g. ["tests", "examples/tiny/tests"]
    found.runner      # "pytest", or "unittest" when the project's own runner is unittest
    found.test_files  # test modules pytest would collect, conftests, and the helper modules beside them

Every suite runs through pytest (it also runs unittest suites) so results come back as JUnit XML.
The project's own pytest command comes first: the first pytest invocation in tox.ini `[testenv]
commands`, noxfile.py `session.run`, hatch/pdm test scripts in pyproject.toml, the Makefile's test
target, then `.github/workflows` run steps. Its words are read with pytest's option table
(`pytestargs`): paths and the options that decide the suite are kept (`--doctest-modules`,
`--ignore=benchmark`, `-k...`, `-p...`), output and speed options are left out and named in `source`.
Without one: the pytest config's `testpaths` (pytest.ini, pyproject `[tool.pytest.ini_options]`/
`[tool.pytest]`, tox.ini `[pytest]`, setup.cfg `[tool:pytest]`), which pytest reads itself; else
top-level tests/test/testing directories; else the whole tree. In those last three cases a test module
that unittest's discovery loads (`test*.py`) but pytest's default `python_files` misses is added to
`python_files`: a top-level `tests.py` (defusedxml), `tests/test.py` (xxhash), and for the whole tree
one inside a package (zope.event's `src/zope/event/tests.py`).
"""

from __future__ import annotations

import ast
import fnmatch
import os
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from codekiln.core.pyast import parse as parse_ast
from codekiln.core.pyast import parse_file
from codekiln.envs import toxsubst
from codekiln.envs.depfiles import BAD_FACTORS
from codekiln.envs.deps import local_modules, read_ini, read_pyproject
from codekiln.envs.plugins import (
    args_plugins,
    config_plugins,
    filter_modules,
    fixture_plugins,
    marker_plugins,
)
from codekiln.envs.pytestargs import PytestArgs, parse_pytest_args
from codekiln.envs.testmodules import SKIP_DIRS, missed_modules

TEST_DIRS = ("tests", "test", "testing")


@dataclass
class FoundTests:
    """A detected test command: pytest args, the config it came from, the project's own runner."""

    args: list[str] = field(default_factory=list)
    runner: str = "pytest"
    config: str | None = None
    source: str = ""
    env: dict[str, str] = field(default_factory=dict)
    test_files: list[Path] = field(default_factory=list)
    plugins: list[tuple[str, str]] = field(default_factory=list)  # (requirement, why): envs.plugins
    """What the pytest config needs installed to start: its plugins and its warning filters' modules."""


def pytest_config(root: Path) -> tuple[str | None, dict[str, str | list[str]]]:
    """(file, settings) of the pytest config pytest itself would pick, or (None, {})."""
    for name in ("pytest.ini", ".pytest.ini"):  # semver 3.2.0 has only the hidden one
        ini = read_ini(root / name)
        if ini.has_section("pytest"):
            return name, dict(ini["pytest"])
    tool = read_pyproject(root).get("tool", {}).get("pytest", {})
    if isinstance(tool.get("ini_options"), dict):
        return "pyproject.toml [tool.pytest.ini_options]", tool["ini_options"]
    if tool:
        return "pyproject.toml [tool.pytest]", {k: v for k, v in tool.items() if not isinstance(v, dict)}
    for name, section in (("tox.ini", "pytest"), ("setup.cfg", "tool:pytest")):
        cfg = read_ini(root / name)
        if cfg.has_section(section):
            return f"{name} [{section}]", dict(cfg[section])
    return None, {}


def _as_list(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else value.split()


def _tox_env(root: Path) -> tuple[dict[str, str], str]:
    """(env, runner) from tox.ini [testenv]: PYTHONPATH from setenv, "unittest" if its commands use it."""
    tox = read_ini(root / "tox.ini")
    if not tox.has_section("testenv"):
        return {}, ""
    env = {}
    for line in tox["testenv"].get("setenv", "").splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "PYTHONPATH":
            value = re.sub(r"\{env:[^}]*\}", "", value.strip()).replace("{toxinidir}", "/testbed")
            parts = [p for p in re.split(r"\{:\}|:", value) if p]
            kept = [p for p in parts if "{" not in p]
            if kept:
                env["PYTHONPATH"] = ":".join(kept)
    commands = tox["testenv"].get("commands", "")
    runner = "unittest" if "unittest" in commands and not _pytest_words(commands) else ""
    return env, runner


_SHELL_END = {"&&", "||", ";", "|", ">", ">>", "2>&1"}


def _pytest_words(line: str) -> list[str] | None:
    """The words after `pytest` (`py.test`, `python -m pytest`, `coverage run -m pytest`) in a command
    line, up to the end of that command; None when it runs no pytest."""
    line = line.replace("{toxinidir}/", "").replace("{toxinidir}", ".")
    line = re.sub(r"\{posargs:([^}]*)\}", r"\1", line).replace("{posargs}", "")
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    for i, word in enumerate(words):
        if word in ("pytest", "py.test") or word.endswith(("/pytest", "/py.test")):
            rest = words[i + 1 :]
            end = next((j for j, w in enumerate(rest) if w in _SHELL_END), len(rest))
            return rest[:end]
    return None


def _lines_tox(root: Path) -> list[str]:
    tox = read_ini(root / "tox.ini")
    if not tox.has_section("testenv"):
        return []
    out, env = [], toxsubst.setenv(tox)
    for raw in toxsubst.references(tox, tox["testenv"].get("commands", "")).replace("\\\n", " ").splitlines():
        line = toxsubst.substitute(raw.strip(), env)
        factor = re.match(r"^([\w{},.!-]+):\s+(.*)$", line)
        if factor:
            if BAD_FACTORS.search(factor[1].lower()):
                continue
            line = factor[2]
        out.append(line)
    return out


def _lines_nox(root: Path) -> list[str]:
    """`session.run("pytest", ...)` calls in noxfile.py, their string arguments: literals, and paths
    the module names once at its top (`REFERENCING = ROOT / "referencing"`, see `_static_path`)."""
    path = root / "noxfile.py"
    try:
        tree = parse_ast(path.read_bytes()) if path.is_file() else None
    except (SyntaxError, ValueError):
        return []
    names: dict[str, str] = {}
    for stmt in tree.body if tree else ():
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            value = _static_path(stmt.value, names)
            if value is not None:
                names[stmt.targets[0].id] = value
    out = []
    for node in ast.walk(tree) if tree else ():
        if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run":
            words = [w for w in (_static_path(a, names) for a in node.args) if w is not None]
            if words:
                out.append(shlex.join(words))
    return out


def _static_path(node: ast.expr, names: dict[str, str]) -> str | None:
    """The value of a string or a path relative to the noxfile's directory that the expression spells
    without running anything: a literal, a name bound to one at the top, `Path(__file__).parent`
    (".", also through `.resolve()` / `.absolute()`), `A / "b"`, `str(A)`; else None (an argument
    that is None is left out of the command, as `*session.posargs` is)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _static_path(node.left, names), _static_path(node.right, names)
        return None if left is None or right is None else os.path.normpath(os.path.join(left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str":
        return _static_path(node.args[0], names) if len(node.args) == 1 else None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = node.value
        while isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
            if inner.func.attr not in ("resolve", "absolute"):
                return None
            inner = inner.func.value
        if not (isinstance(inner, ast.Call) and getattr(inner.func, "id", "") == "Path"):
            return None
        if len(inner.args) == 1 and getattr(inner.args[0], "id", "") == "__file__":
            return "."
    return None


def _lines_pyproject_scripts(root: Path) -> list[str]:
    """hatch env scripts and pdm scripts named like test commands."""
    tool = read_pyproject(root).get("tool", {})
    scripts: list[tuple[str, object]] = []
    for env in (tool.get("hatch", {}).get("envs", {}) or {}).values():
        if isinstance(env, dict):
            scripts += list((env.get("scripts") or {}).items())
    scripts += list((tool.get("pdm", {}).get("scripts") or {}).items())
    out: list[str] = []
    for name, value in scripts:
        if "test" not in name.lower() or BAD_FACTORS.search(name.lower()):
            continue
        if isinstance(value, dict):
            value = value.get("cmd") or value.get("shell") or ""
        for line in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
            if isinstance(line, str):
                out.append(line)
    return out


def _lines_makefile(root: Path) -> list[str]:
    """The recipe lines of a Makefile's test-like targets (`test:`, `tests:`, `check:`)."""
    path = root / "Makefile"
    if not path.is_file():
        return []
    out, inside = [], False
    for line in path.read_text(errors="replace").splitlines():
        if re.match(r"^[\w.-]+\s*:", line):
            inside = bool(re.match(r"^(test|tests|check|unit|unittest)\s*:", line))
        elif inside and line.startswith("\t"):
            out.append(line.strip().lstrip("@-"))
    return out


def _lines_ci(root: Path) -> list[str]:
    """`run:` lines of the GitHub workflows (read as text: a `run` value may span lines)."""
    out = []
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(errors="replace"))
        except yaml.YAMLError:
            continue
        jobs = data.get("jobs") if isinstance(data, dict) else None  # a workflow of another shape: no lines
        for job in jobs.values() if isinstance(jobs, dict) else ():
            steps = job.get("steps") if isinstance(job, dict) else None
            for step in steps if isinstance(steps, list) else ():
                if isinstance(step, dict) and isinstance(step.get("run"), str):
                    out += [line.strip() for line in step["run"].splitlines()]
    return out


COMMAND_SOURCES = (
    ("tox.ini [testenv] commands", _lines_tox),
    ("noxfile.py", _lines_nox),
    ("pyproject.toml scripts", _lines_pyproject_scripts),
    ("Makefile", _lines_makefile),
    (".github/workflows", _lines_ci),
)


def project_command(root: Path) -> tuple[str, list[str], PytestArgs] | None:
    """(where, the words after pytest, what is kept) of the project's own pytest command: of the first
    source with one (tox, nox, hatch/pdm scripts, the Makefile's test target, then CI workflows), its
    first pytest invocation that collects the test directories (`_runs_test_dirs`), else its first.
    natsort 8.4.0's tox runs `pytest README.rst docs/examples.rst`, then `pytest --doctest-modules
    {envsitepackagesdir}/natsort`, then the suite (`pytest --hypothesis-profile=slow-tests ...`, no
    path): the first alone ran one doctest file, not its 333 tests."""
    for source, read in COMMAND_SOURCES:
        found = []
        for line in read(root):
            words = _pytest_words(line)
            if words is not None:
                found.append((source, words, parse_pytest_args(words, root)))
        if found:
            return next((f for f in found if _runs_test_dirs(f[2], root)), found[0])
    return None


def _runs_test_dirs(parsed: PytestArgs, root: Path) -> bool:
    """Whether a pytest invocation collects the test directories: it names no path (pytest collects
    `testpaths` or the whole tree), or a test-named path (`tests/unit`, `test_x.py`), or a directory
    holding one (`.`, `src`)."""
    for path in parsed.paths:
        rel = PurePosixPath(path.split("::")[0])
        if any(part.startswith("test") for part in rel.parts):
            return True
        if (root / rel).is_dir() and any(
            name.startswith("test") for _, dirs, files in os.walk(root / rel) for name in (*dirs, *files)
        ):
            return True
    return not parsed.paths


def _doctest_options(settings: dict[str, str | list[str]]) -> bool:
    """Whether the pytest config's addopts collect doctests (of modules or of text files)."""
    return any(
        w.startswith(("--doctest-modules", "--doctest-glob")) for w in _as_list(settings.get("addopts"))
    )


def _matches(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, p) for p in patterns)


def collectable_files(root: Path, args: list[str], patterns: list[str]) -> list[Path]:
    """Test modules (and conftest.py files) pytest would collect under args (or the whole tree)."""
    out: list[Path] = []
    for base in [root / a for a in args] or [root]:
        if base.is_file():
            out.append(base)
            continue
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")]
            for name in filenames:
                if name == "conftest.py" or (name.endswith(".py") and _matches(name, patterns)):
                    out.append(Path(dirpath) / name)
    return sorted(set(out))


def _imported_words(path: Path) -> set[str]:
    """Every name part a module imports (`from tests.concurrency import x`: tests, concurrency, x)."""
    tree = parse_file(path)
    if tree is None:
        return set()
    words: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            words.update(part for alias in node.names for part in alias.name.split("."))
        elif isinstance(node, ast.ImportFrom):
            words.update((node.module or "").split("."))
            words.update(alias.name for alias in node.names)
    return words


def with_helpers(root: Path, files: list[Path]) -> list[Path]:
    """`files` plus the helper modules they import (followed), from the test directories that hold them
    (a directory below the root with a test-named part: tests/, pkg/testing/): httpx's
    tests/concurrency.py imports trio, and pytest does not collect it. A helper no test imports (a fuzz
    script, a typing check) is not read, nor a package's own modules where test modules sit among them."""
    dirs = {
        f.parent
        for f in files
        if f.parent != root and any(part.startswith("test") for part in f.parent.relative_to(root).parts)
    }
    candidates = {p.stem: p for d in dirs for p in d.glob("*.py") if p.is_file() and p not in files}
    found, todo = set(files), list(files)
    while todo:
        for word in _imported_words(todo.pop()):
            helper = candidates.pop(word, None)
            if helper is not None:
                found.add(helper)
                todo.append(helper)
    return sorted(found)


def detect_tests(root: Path) -> FoundTests:
    """The test command for the project at `root` (see the module docstring)."""
    config, settings = pytest_config(root)
    env, runner = _tox_env(root)
    found = FoundTests(config=config, runner=runner or "pytest", env=env)
    testpaths = [p for p in _as_list(settings.get("testpaths")) if (root / p).exists()]
    dirs = [d for d in TEST_DIRS if (root / d).is_dir()]
    command = project_command(root)
    if command is not None:
        where, words, parsed = command
        found.runner, found.args = "pytest", parsed.args
        found.source = f"{where}: pytest {shlex.join(words)}".rstrip()
        if parsed.dropped:
            found.source += f" (left out: {' '.join(parsed.dropped)})"
        if not parsed.paths and testpaths:
            found.source += f"; testpaths in {config}"
        collect = parsed.paths or testpaths or dirs
    elif testpaths:
        found.source = f"testpaths in {config}"
        collect = testpaths
    elif dirs and _doctest_options(settings):
        # pytest's own default, the whole tree: parse 1.22.4's addopts `--doctest-modules
        # --doctest-glob=README.rst` test its top-level module and README (2 of its 111 tests)
        found.source = f"the whole tree (addopts in {config} run doctests)"
        collect = []
    else:
        found.args, found.source = dirs, "top-level test directories" if dirs else "the whole tree"
        collect = dirs
    patterns = _as_list(settings.get("python_files")) or ["test_*.py", "*_test.py"]
    missed = (
        [] if command is not None or "python_files" in settings else missed_modules(root, collect, patterns)
    )
    if missed:
        # Added to `python_files` (a path beside its own directory would be dropped as a duplicate by
        # pytest), as one word: a run of chosen test ids keeps the options, not the paths.
        names = sorted({PurePosixPath(m).name for m in missed})
        found.args = [*found.args, f"--override-ini=python_files={' '.join([*patterns, *names])}"]
        found.source += f", and {', '.join(missed)} (test modules pytest's default file names miss)"
        patterns = [*patterns, *names]
    found.plugins = config_plugins(settings) + args_plugins(found.args, "the test command")
    found.plugins += filter_modules(settings, local_modules(root))
    found.test_files = with_helpers(
        root, collectable_files(root, [c.split("::")[0] for c in collect], patterns)
    )
    found.plugins += marker_plugins(found.test_files, settings)
    found.plugins += fixture_plugins(found.test_files)
    return found
