"""The pytest arguments of the plain side of bench/envbuild.py: the project's own test command, read from
the project's files by the bench's own readers (never codekiln's detection, so a wrong choice of command
by codekiln shows up as a difference).

    plain_pytest_args(root, "3.11")   # (["referencing"], "noxfile.py session tests") for referencing 0.37.0

The first pytest command of the sources codekiln reads, in its order: tox's test env for this Python
(`envplain.tox_pytest_command`), the noxfile's test sessions (`session.run(...)` in a function whose name
has `test`), hatch/pdm scripts named for tests, the Makefile's test target, then the CI workflows' run
steps. A source that has a pytest command decides, even with no arguments (`pytest {posargs}`).

tox's command runs with all its arguments (its env installs what they need). Of any other source's
command only what decides the suite is taken: the paths that exist in the tree (a noxfile's
`ROOT / "referencing"` read as the path it names) and the options that decide which tests exist and how
they run (`-k`, `-m`, `--ignore`, `--deselect`, `--doctest-modules`, `-W`, `-p`, ...: the `KEEP` list of
codekiln's pytest option table, which its tests check against pytest's own parser), not output, speed
or coverage options (a Makefile's `--parallel-threads $(NUM_THREADS)`, a CI job's `-n auto`), which lean
on variables and plugins the plain install need not have and change no test's outcome.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import yaml
from envdeclared import pyproject
from envplain import tox_pytest_command

from codekiln.envs.pytestargs import parse_pytest_args

_SHELL_END = {"&&", "||", ";", "|", ">", ">>", "2>&1"}


def pytest_words(line: str) -> list[str] | None:
    """The words after `pytest` (`py.test`, `python -m pytest`, `coverage run -m pytest`, a path to
    either) in one command line, up to the end of that command; None where it runs no pytest."""
    try:
        words = shlex.split(line, comments=True)
    except ValueError:
        return None
    start = next((i for i, w in enumerate(words) if w.split("/")[-1] in ("pytest", "py.test")), None)
    if start is None:
        return None
    rest = words[start + 1 :]
    return rest[: next((j for j, w in enumerate(rest) if w in _SHELL_END), len(rest))]


def _static(node: ast.expr, names: dict[str, str]) -> str | None:
    """What an argument of `session.run` spells without running anything: a string, a name bound to one
    at the module's top, `Path(__file__).parent` (the project root, "."), `A / "b"`, `str(A)`."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        left, right = _static(node.left, names), _static(node.right, names)
        return None if left is None or right is None else os.path.normpath(os.path.join(left, right))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str":
        return _static(node.args[0], names) if len(node.args) == 1 else None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):  # .resolve() / .absolute()
        return _static(node.func.value, names) if node.func.attr in ("resolve", "absolute") else None
    if isinstance(node, ast.Attribute) and node.attr == "parent":
        inner = node.value
        while isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute):
            inner = inner.func.value  # Path(__file__).resolve().parent
        file_arg = isinstance(inner, ast.Call) and len(inner.args) == 1 and inner.args[0]
        if isinstance(file_arg, ast.Name) and file_arg.id == "__file__":
            return "."
    return None


def nox_lines(root: Path) -> list[str]:
    """The `session.run(...)` commands of noxfile.py's test sessions, as command lines (arguments the
    file computes at run time, `*session.posargs` among them, left out)."""
    try:
        tree = ast.parse((root / "noxfile.py").read_bytes())
    except (OSError, SyntaxError, ValueError):
        return []
    names: dict[str, str] = {}
    for stmt in tree.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        target = stmt.targets[0]
        if isinstance(target, ast.Name) and (value := _static(stmt.value, names)) is not None:
            names[target.id] = value
    out = []
    for fn in tree.body:
        if isinstance(fn, ast.FunctionDef) and "test" in fn.name.lower():
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "run":
                    words = [w for w in (_static(a, names) for a in node.args) if w is not None]
                    out.append(shlex.join(words))
    return out


def script_lines(root: Path) -> list[str]:
    """hatch env scripts and pdm scripts whose name has `test`."""
    tool = pyproject(root).get("tool", {})
    scripts: list[tuple[str, object]] = []
    envs = tool.get("hatch", {}).get("envs", {})
    for env in envs.values() if isinstance(envs, dict) else ():
        if isinstance(env, dict) and isinstance(env.get("scripts"), dict):
            scripts += list(env["scripts"].items())
    if isinstance(pdm := tool.get("pdm", {}).get("scripts"), dict):
        scripts += list(pdm.items())
    out = []
    for name, value in scripts:
        if isinstance(value, dict):
            value = value.get("cmd") or value.get("shell") or ""
        if "test" in name.lower():
            out += [v for v in ([value] if isinstance(value, str) else value) if isinstance(v, str)]
    return out


# `make_lines` and `ci_lines` read what `envs.testcmd`'s own readers read, on purpose apart from them (the
# module doc): shared, a wrong line codekiln takes would be taken on the plain side too and never show.
def make_lines(root: Path) -> list[str]:
    """The recipe lines of the Makefile's `test`/`tests`/`check` targets (Make's `$(X)` words left out)."""
    try:
        text = (root / "Makefile").read_text(errors="replace")
    except OSError:
        return []
    out, inside = [], False
    for line in text.splitlines():
        if re.match(r"^[\w.-]+\s*:", line):
            inside = bool(re.match(r"^(test|tests|check)\s*:", line))
        elif inside and line.startswith("\t"):
            out.append(re.sub(r"\$[({][^)}]*[)}]", "", line.strip().lstrip("@-")))
    return out


def ci_lines(root: Path) -> list[str]:
    """The lines of the GitHub workflows' `run` steps."""
    out = []
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        try:
            data = yaml.safe_load(path.read_text(errors="replace"))
        except yaml.YAMLError:
            continue
        jobs = data.get("jobs", {}) if isinstance(data, dict) else {}
        for job in jobs.values() if isinstance(jobs, dict) else ():
            for step in job.get("steps", []) if isinstance(job, dict) else ():
                if isinstance(step, dict) and isinstance(step.get("run"), str):
                    out += [ln.strip() for ln in step["run"].splitlines()]
    return out


SOURCES: tuple[tuple[str, Callable[[Path], list[str]]], ...] = (
    ("noxfile.py test session", nox_lines),
    ("pyproject.toml test script", script_lines),
    ("Makefile test target", make_lines),
    ("CI workflow", ci_lines),
)


def plain_pytest_args(root: Path, python: str) -> tuple[list[str], str]:
    """(the arguments the plain `python -m pytest` runs with, where they came from: "" where the project
    has no pytest command) (module doc)."""
    tox = tox_pytest_command(root, python)
    if tox is not None:
        return tox, "tox.ini"
    for where, read in SOURCES:
        for line in read(root):
            words = pytest_words(line)
            if words is not None:
                kept = parse_pytest_args([_relative(w, root) for w in words], root).args
                return kept, f"{where}: pytest {shlex.join(words)}".rstrip()
    return [], ""


def _relative(word: str, root: Path) -> str:
    """A path word of the project's command relative to the project root (a noxfile's `ROOT / "x"` is
    read as "x" already; an absolute path under root, as a CI's `$GITHUB_WORKSPACE/x` is not, likewise)."""
    path = Path(word)
    return path.relative_to(root).as_posix() if path.is_absolute() and path.is_relative_to(root) else word
