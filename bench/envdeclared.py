"""Readers of the places besides tox where a project declares how its tests are installed: nox sessions, CI
workflows, Makefile recipes, its dev tool's default dependencies (uv, poetry, pdm), setuptools'
`tests_require`, and the pytest plugins its own addopts load. `envplain.plain_targets` chains them.

    install_words(["pip", "install", "-r", "requirements/ci.txt", ".[test]"], root)
    # Targets(extras=["test"], deps=["pytest-cov==7.1.0", ...]): -r followed, the project itself left out

Each reader returns `Targets` (extras, dependency groups, pip arguments) named by the project's own files,
never guessed: an install command's words (`pip install`, `uv pip install`, `uv sync`, nox's
`session.install`) are read as pip reads them, `-r FILE` followed, `-c FILE` kept, the project itself
(`.`, `-e .`) left out but its `[extras]` kept, words with shell or CI substitutions (`$X`, `${{ }}`)
dropped.
"""

from __future__ import annotations

import ast
import configparser
import itertools
import platform
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from packaging.specifiers import InvalidSpecifier, SpecifierSet

OPTIONS_WITH_VALUE = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--python", "-p", "--upgrade-strategy",
    "--prefix", "--target", "-t", "--root", "--config-settings", "-C", "--only-binary", "--no-binary",
    "--resolution", "--prerelease", "--python-version", "--index", "--default-index", "-P",
    "--upgrade-package", "--python-platform", "--exclude-newer",
}  # fmt: skip
# pytest options that only a plugin defines -> that plugin's distribution
ADDOPT_PLUGINS = (
    (re.compile(r"^--cov"), "pytest-cov"),
    (re.compile(r"^--benchmark-"), "pytest-benchmark"),
    (re.compile(r"^(-n|--numprocesses|--dist|--maxprocesses)(=|$|\d)"), "pytest-xdist"),
    (re.compile(r"^--timeout(=|$)"), "pytest-timeout"),
    (re.compile(r"^--reruns(=|$)"), "pytest-rerunfailures"),
    (re.compile(r"^--asyncio-mode"), "pytest-asyncio"),
    (re.compile(r"^--randomly-"), "pytest-randomly"),
    (re.compile(r"^--hypothesis-"), "hypothesis"),
)
P_PLUGINS = {"xdist": "pytest-xdist", "pytest_cov": "pytest-cov", "cov": "pytest-cov"}
DECLARING_FILES = ("pyproject.toml", "setup.cfg", "setup.py", "tox.ini", "noxfile.py", "Makefile", "Pipfile")


@dataclass
class Targets:
    """What to install with the project: its extras, dependency groups (`pip --group`) and pip arguments."""

    extras: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=list)
    deps: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.extras or self.groups or self.deps)

    def add(self, other: Targets) -> Targets:
        """Adds what `other` installs that this does not yet (an option's value kept with it)."""
        self.extras += [e for e in dict.fromkeys(other.extras) if e and e not in self.extras]
        self.groups += [g for g in dict.fromkeys(other.groups) if g and g not in self.groups]
        words = iter(other.deps)
        for word in words:
            arg = [word, next(words, "")] if word in ("-r", "-c") else [word]
            if not any(self.deps[i : i + len(arg)] == arg for i in range(len(self.deps))):
                self.deps += arg
        return self


def requirement_args(path: Path, root: Path, seen: frozenset[Path] = frozenset()) -> list[str]:
    """pip arguments for a requirements file's lines, `-r` includes followed and `-c` files kept, lines that
    install the project itself (a local path, `-e`, a `file:` URL) and other pip options left out."""
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
        elif include and (path.parent / include[2]).is_file():
            out += ["-c", str(path.parent / include[2])]
        elif not line.startswith(("-", ".", "/")) and "file:" not in line:
            out.append(line)
    return out


def declared_extras(root: Path) -> list[str]:
    """Every extra pyproject's `[project.optional-dependencies]` declares (for `--all-extras`)."""
    return list(pyproject(root).get("project", {}).get("optional-dependencies", {}))


def pyproject(root: Path) -> dict:  # type: ignore[type-arg]
    try:
        return tomllib.loads((root / "pyproject.toml").read_text(errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}


def install_words(words: list[str], root: Path) -> Targets:
    """Targets of one install command, given as its words (`pip install ...`, `sync ...` for `uv sync`)."""
    out = Targets()
    if words[:1] == ["sync"] and not {"--no-dev", "--no-default-groups", "--only-group"} & set(words):
        out.groups += uv_default_groups(root)  # `uv sync` installs them unless told not to
    rest = iter(words)
    for word in rest:
        if "$" in word or "{{" in word or word in ("sync", "pip", "uv"):
            continue
        flag = re.match(r"^(--requirement|--constraint|-[a-zA-Z]*[rc])(?:=(.*))?$", word) or re.match(
            r"^(-[rc])(\S+)$", word
        )  # `-r FILE`, `-Ur FILE`, `--requirement=FILE`, `-rFILE`
        if flag:
            path = root / (flag[2] or next(rest, ""))
            if flag[1].endswith("r") or flag[1] == "--requirement":
                out.deps += requirement_args(path, root)
            elif path.is_file():
                out.deps += ["-c", str(path)]
        elif word in ("-e", "--editable"):
            continue  # what follows is read as a path below
        elif word in ("--group", "--extra"):
            (out.groups if word == "--group" else out.extras).append(next(rest, ""))
        elif word == "--all-extras":
            out.extras += declared_extras(root)
        elif word == "--all-groups":
            out.groups += list(pyproject(root).get("dependency-groups", {}))
        elif word.startswith("-"):
            if word in OPTIONS_WITH_VALUE:
                next(rest, None)
        elif project := re.match(r"^\.?/?\.?(\[([^\]]*)\])?$", word):
            out.extras += [e.strip() for e in (project[2] or "").split(",") if e.strip()]
        elif not word.startswith("/") and "://" not in word and "file:" not in word:
            out.deps.append(word)
    return Targets().add(out)


def uv_default_groups(root: Path) -> list[str]:
    """The dependency groups `uv sync` and `uv run` install: `[tool.uv] default-groups`, else `dev`;
    less a group whose `[tool.uv.dependency-groups] NAME.requires-python` excludes this Python."""
    data = pyproject(root)
    groups = data.get("dependency-groups", {})
    uv = data.get("tool", {}).get("uv", {})
    default = uv.get("default-groups", ["dev"])
    python = platform.python_version()

    def fits(group: str) -> bool:
        needs = (uv.get("dependency-groups", {}).get(group) or {}).get("requires-python", "")
        try:
            return not needs or SpecifierSet(needs).contains(python)
        except InvalidSpecifier:
            return True

    return [g for g in (groups if default == "all" else default) if g in groups and fits(g)]


def command_words(line: str) -> list[str] | None:
    """The words after `pip install` / `uv pip install` (`sync ...` for `uv sync`, `run` for `uv run`)
    in one shell command, else None."""
    match = re.search(r"\b(pip3?\s+install|uv\s+sync|uv\s+run)\b(.*)$", line)
    if match is None:
        return None
    if match[1].startswith("uv") and match[1].endswith("run"):
        return ["sync"]  # `uv run` syncs the environment first, default groups included
    try:
        words = shlex.split(match[2], comments=True)
    except ValueError:
        return None
    return ["sync", *words] if match[1].startswith("uv") else words


def shell_targets(script: str, root: Path) -> Targets:
    """Targets of every install command in a shell script (continuations joined, `&&`/`;` split)."""
    out = Targets()
    script = re.sub(r"\$\{\{.*?\}\}", "", script)  # a CI expression: its value is not known here
    for line in script.replace("\\\n", " ").splitlines():
        for command in re.split(r"&&|;|\|\|", line):
            words = command_words(command.strip())
            if words is not None:
                out.add(install_words(words, root))
    return out


def nox_targets(root: Path) -> Targets:
    """`session.install(...)` arguments in the noxfile's sessions named for tests; nothing where one
    is computed at run time (a variable, a call), since what it installs cannot be read."""
    try:
        tree = ast.parse((root / "noxfile.py").read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return Targets()
    out = Targets()
    for fn in (n for n in tree.body if isinstance(n, ast.FunctionDef) and "test" in n.name.lower()):
        for call in (c for c in ast.walk(fn) if isinstance(c, ast.Call)):
            func = call.func
            if isinstance(func, ast.Attribute) and func.attr == "install":
                words = [a.value for a in call.args if isinstance(a, ast.Constant)]
                if not all(isinstance(w, str) for w in words) or len(words) < len(call.args):
                    return Targets()  # an argument computed at run time: the session is not read
                out.add(install_words(words, root))
    return out


def ci_targets(root: Path) -> Targets:
    """Install commands of the GitHub workflow jobs whose steps run pytest (or `make test`)."""
    out = Targets()
    for path in sorted((root / ".github" / "workflows").glob("*.y*ml")):
        try:
            jobs = (yaml.safe_load(path.read_text(errors="replace")) or {}).get("jobs") or {}
        except (yaml.YAMLError, AttributeError):
            continue
        for job in jobs.values() if isinstance(jobs, dict) else ():
            steps = job.get("steps") if isinstance(job, dict) else None
            script = "\n".join(str(s.get("run", "")) for s in steps or () if isinstance(s, dict))
            if re.search(r"\bpytest\b|\bmake\s+test\b", script):
                out.add(shell_targets(script, root))
    return out


def make_targets(root: Path) -> Targets:
    """Install commands in the recipes of the Makefile's `test` target (else the first whose recipe runs
    pytest) and of the targets it depends on (multidict: test -> .develop -> .install-deps)."""
    try:
        text = (root / "Makefile").read_text(errors="replace").replace("\\\n", " ")
    except OSError:
        return Targets()
    targets: dict[str, tuple[list[str], list[str]]] = {}
    current: list[str] = []
    for line in text.splitlines():
        rule = re.match(r"^([^\s:=#][^:=]*):(?!=)(.*)$", line)
        if rule:
            current = rule[1].split()
            for name in current:
                targets.setdefault(name, (rule[2].split("#")[0].split(), []))
        elif line.startswith("\t"):
            for name in current:
                targets[name][1].append(line.lstrip("\t@- "))
    first = next((n for n in ("test", "tests") if n in targets), None)
    first = first or next((n for n, (_, r) in targets.items() if re.search(r"\bpytest\b", " ".join(r))), None)
    seen: list[str] = []
    todo = [first] if first else []
    while todo:
        name = todo.pop(0)
        if name not in seen and name in targets:
            seen.append(name)
            todo += targets[name][0]
    return shell_targets("\n".join(line for n in seen for line in targets[n][1]), root)


def poetry_requirement(name: str, spec: object) -> str:
    """A PEP 508 requirement for a poetry dependency (`^1.2` -> `>=1.2,<2`, `~1.2` -> `>=1.2,<1.3`)."""
    version = spec.get("version", "*") if isinstance(spec, dict) else spec
    out = []
    for part in str(version).split(","):
        part = part.strip()
        if match := re.match(r"^([\^~])\s*(\d+(?:\.\d+)*)$", part):
            nums = [int(n) for n in match[2].split(".")]
            keep = (next((i for i, n in enumerate(nums) if n), len(nums) - 1) if match[1] == "^" else
                    min(1, len(nums) - 1))  # fmt: skip
            upper = [*nums[:keep], nums[keep] + 1]
            out.append(f">={match[2]},<{'.'.join(map(str, upper))}")
        elif part and part != "*":
            out.append(part if part[0] in "<>=!~" else f"=={part}")
    return name + ",".join(out)


def dev_tool_targets(root: Path) -> Targets:
    """What the project's dev tool installs by default besides the project: uv's default groups (`dev`
    unless `[tool.uv] default-groups` says others), poetry's non-optional groups, pdm's dev-dependencies."""
    data = pyproject(root)
    tool = data.get("tool", {})
    out = Targets()
    if "uv" in tool or (root / "uv.lock").is_file():
        out.groups += uv_default_groups(root)
        out.deps += [d for d in tool.get("uv", {}).get("dev-dependencies", []) if isinstance(d, str)]
    poetry = tool.get("poetry", {})
    tables = [poetry.get("dev-dependencies", {})] + [
        g.get("dependencies", {}) for g in poetry.get("group", {}).values() if not g.get("optional")
    ]
    out.deps += [poetry_requirement(n, s) for t in tables for n, s in t.items() if n != "python"]
    for deps in tool.get("pdm", {}).get("dev-dependencies", {}).values():
        out.deps += [d for d in deps if isinstance(d, str) and not d.startswith("-")]
    return out


def tests_require(root: Path) -> Targets:
    """setuptools' `tests_require`: a literal list in setup.py, or `[options] tests_require` in setup.cfg."""
    out = Targets()
    try:
        tree = ast.parse((root / "setup.py").read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        tree = None
    for kw in (k for k in ast.walk(tree) if isinstance(k, ast.keyword)) if tree else ():
        if kw.arg == "tests_require" and isinstance(kw.value, ast.List | ast.Tuple):
            out.deps += [e.value for e in kw.value.elts if isinstance(e, ast.Constant)]
    cfg = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        cfg.read(root / "setup.cfg")
        out.deps += [ln.strip() for ln in cfg.get("options", "tests_require", fallback="").splitlines()]
    except (configparser.Error, UnicodeDecodeError):
        pass
    out.deps = [d for d in out.deps if isinstance(d, str) and d.strip()]
    return out


def addopts(root: Path) -> list[str]:
    """The words of the project's pytest `addopts`, from the config file pytest itself would pick."""
    ini = configparser.ConfigParser(interpolation=None, strict=False)
    for name, section in (("pytest.ini", "pytest"), ("pyproject.toml", ""), ("tox.ini", "pytest"),
                          ("setup.cfg", "tool:pytest")):  # fmt: skip
        if name == "pyproject.toml":
            pytest = pyproject(root).get("tool", {}).get("pytest", {})
            if not pytest:
                continue
            value = pytest.get("ini_options", pytest).get("addopts", "")
            return list(value) if isinstance(value, list) else shlex.split(str(value), comments=True)
        try:
            ini.read(root / name)
        except (configparser.Error, UnicodeDecodeError):
            continue
        if ini.has_section(section):
            lines = ini.get(section, "addopts", fallback="").splitlines()
            try:
                return shlex.split("\n".join(ln for ln in lines if not ln.strip().startswith("#")))
            except ValueError:
                return []
    return []


def addopt_plugins(words: list[str]) -> list[str]:
    """Distributions of the pytest plugins that `addopts` words need (`--cov` -> pytest-cov, `-p xdist`)."""
    out: list[str] = []
    for word, after in itertools.pairwise([*words, ""]):
        plugin = next((dist for option, dist in ADDOPT_PLUGINS if option.match(word)), None)
        if word == "-p" and not after.startswith("no:"):
            plugin = P_PLUGINS.get(after) or (
                after.replace("_", "-") if after.startswith("pytest_") else None
            )
        if plugin and plugin not in out:
            out.append(plugin)
    return out


def declared_anywhere(root: Path, dist: str) -> str:
    """The first of the project's own files that names distribution `dist` (a requirement, a group entry,
    an install command), "" if none does."""
    files = [root / n for n in DECLARING_FILES]
    files += sorted(root.glob("*requirements*.txt")) + sorted(root.glob("requirements*/*.txt"))
    files += sorted(root.glob("*/requirements*.txt")) + sorted(
        (root / ".github" / "workflows").glob("*.y*ml")
    )
    word = re.compile(rf"(?<![\w.-]){'[-_]'.join(map(re.escape, dist.split('-')))}(?![\w-])", re.I)
    for path in files:
        if path.is_file() and word.search(path.read_text(errors="replace")):
            return path.relative_to(root).as_posix()
    return ""


def plugin_targets(root: Path, installed: Targets) -> tuple[list[str], str]:
    """(plugins, where from): the plugins the project's addopts need that `installed` does not name
    already and that the project's own files declare; a plugin nothing declares is left out."""
    files = [Path(b) for a, b in itertools.pairwise(installed.deps) if a in ("-r", "-c")]
    texts = [p.read_text(errors="replace") for p in files if p.is_file()]
    data = pyproject(root)
    tables = [data.get("dependency-groups", {}), data.get("project", {}).get("optional-dependencies", {})]
    texts += [str(t.get(name, "")) for t in tables for name in [*installed.groups, *installed.extras]]
    named = " ".join([*installed.deps, *texts]).lower().replace("_", "-")
    found = []
    for dist in addopt_plugins(addopts(root)):
        missing = re.search(rf"(?<![\w.-]){re.escape(dist)}(?![\w-])", named) is None
        if missing and (where := declared_anywhere(root, dist)):
            found.append((dist, where))
    return [d for d, _ in found], ", ".join(f"addopts' {d} (named in {w})" for d, w in found)
