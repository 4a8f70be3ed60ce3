"""The pytest plugins a project's own pytest config asks for, as requirements to install.

    config_plugins({"addopts": "--cov=pkg -p pytest_mock", "asyncio_mode": "auto"})
    # [("pytest-cov", "addopts --cov=pkg"), ("pytest-mock", "addopts -p pytest_mock"),
    #  ("pytest-asyncio", "ini key asyncio_mode")]

pytest applies the config's `addopts` and ini keys to every run, codekiln's included, so a plugin
they name but the test dependencies forget makes every run a usage error ("unrecognized arguments:
--benchmark-disable") or silently changes it (an ini key no plugin reads is only a warning, but
`asyncio_mode = auto` without pytest-asyncio leaves every async test unrun). Three sources, most
certain first: `required_plugins` (pytest's own list of distributions, read as requirements), `-p
NAME` (the plugin's module: `pytest_NAME` is distribution `pytest-NAME`, others from a table), and
options or ini keys that only one well-known plugin defines (the tables below). A plugin that the
project already declares is not added again (the caller checks its mentions); nothing here guesses
from names it does not know.

A `filterwarnings` entry names its warning category by import path (`ignore::trio.TrioDeprecationWarning`),
and pytest stops at configuration when that module is missing ("Failed to import filter module"):
`filter_modules` names the modules such entries import, and the caller installs them as optional
deps (the project's own environment has them; a filter on a module that is absent matches nothing).
Likewise `marker_plugins`: a test marked `@pytest.mark.asyncio` needs pytest-asyncio, and without it the
marker is unknown (an error under `filterwarnings = error` or `--strict-markers`, an unrun coroutine
otherwise). And `fixture_plugins`: a test taking the `mocker` fixture needs pytest-mock, and without it
the test errors at setup ("fixture 'mocker' not found": shellingham's only test, on both sides).
"""

from __future__ import annotations

import ast
import shlex
import sys
from pathlib import Path

from codekiln.core.pyast import parse_file
from codekiln.envs.deps import dist_name
from codekiln.envs.importnames import KNOWN_TEST_IMPORTS

# Option (or option prefix ending in "-") -> the distribution that defines it.
OPTION_PLUGINS = {
    "--cov": "pytest-cov",
    "--cov-": "pytest-cov",
    "--no-cov": "pytest-cov",
    "-n": "pytest-xdist",
    "--numprocesses": "pytest-xdist",
    "--dist": "pytest-xdist",
    "--maxprocesses": "pytest-xdist",
    "--timeout": "pytest-timeout",
    "--timeout-method": "pytest-timeout",
    "--benchmark-": "pytest-benchmark",
    "--reruns": "pytest-rerunfailures",
    "--reruns-delay": "pytest-rerunfailures",
    "--only-rerun": "pytest-rerunfailures",
    "--asyncio-mode": "pytest-asyncio",
    "--doctest-plus": "pytest-doctestplus",
    "--doctest-rst": "pytest-doctestplus",
    "--randomly-": "pytest-randomly",
    "--snapshot-update": "syrupy",
    "--snapshot-warn-unused": "syrupy",
    "--mpl": "pytest-mpl",
    "--mpl-": "pytest-mpl",
    "--hypothesis-": "hypothesis",
    "--force-flaky": "flaky",
    "--no-success-flaky-report": "flaky",
    "--forked": "pytest-forked",
    "--parallel-threads": "pytest-run-parallel",
    "--html": "pytest-html",
    "--instafail": "pytest-instafail",
    "--mypy": "pytest-mypy",
    "--memray": "pytest-memray",
    "--codspeed": "pytest-codspeed",
}

# Ini keys that only one plugin reads.
INI_PLUGINS = {
    "asyncio_mode": "pytest-asyncio",
    "asyncio_default_fixture_loop_scope": "pytest-asyncio",
    "timeout": "pytest-timeout",
    "timeout_method": "pytest-timeout",
    "env": "pytest-env",
    "django_settings_module": "pytest-django",
    "mock_use_standalone_module": "pytest-mock",
    "doctest_plus": "pytest-doctestplus",
    "mpl-results-path": "pytest-mpl",
    "trio_mode": "pytest-trio",
}

# `-p MODULE` -> distribution, where the module is not named `pytest_<dist>`.
MODULE_PLUGINS = {
    "xdist": "pytest-xdist",
    "xdist.plugin": "pytest-xdist",
    "randomly": "pytest-randomly",
    "anyio": "anyio",
    "trio": "pytest-trio",
    "hypothesis": "hypothesis",
    "syrupy": "syrupy",
    "flaky": "flaky",
}

# Markers that only one plugin defines -> that plugin (`flaky`, `vcr`, `freeze_time`: several do).
MARKER_PLUGINS = {
    "asyncio": "pytest-asyncio",
    "trio": "pytest-trio",
    "anyio": "anyio",
    "timeout": "pytest-timeout",
    "django_db": "pytest-django",
    "httpx_mock": "pytest-httpx",
    "respx": "respx",
    "order": "pytest-order",
    "dependency": "pytest-dependency",
    "repeat": "pytest-repeat",
    "xdist_group": "pytest-xdist",
    "mpl_image_compare": "pytest-mpl",
}

# Fixtures that only one plugin defines -> that plugin (`httpserver`, `freezer`, `snapshot`: several do).
FIXTURE_PLUGINS = {
    "mocker": "pytest-mock",
    "class_mocker": "pytest-mock",
    "module_mocker": "pytest-mock",
    "package_mocker": "pytest-mock",
    "session_mocker": "pytest-mock",
    "benchmark": "pytest-benchmark",
    "httpx_mock": "pytest-httpx",
    "requests_mock": "requests-mock",
    "respx_mock": "respx",
    "xprocess": "pytest-xprocess",
}

# pytest's own plugins, which `-p` may name and no distribution provides.
BUILTIN = {"pytester", "doctest", "cacheprovider", "faulthandler", "lsof", "legacypath", "tmpdir"}


def _words(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        return shlex.split(value)
    except ValueError:
        return value.split()


def option_plugin(word: str) -> str | None:
    """The distribution defining the pytest option `word` (`--cov=x`, `-nauto`), if the table knows it."""
    if not word.startswith("-"):
        return None
    name = word.split("=", 1)[0]
    if name in OPTION_PLUGINS:
        return OPTION_PLUGINS[name]
    if not name.startswith("--") and name.startswith("-n") and (name[2:].isdigit() or name[2:] == "auto"):
        return "pytest-xdist"  # -n4, -nauto
    return next(
        (dist for prefix, dist in OPTION_PLUGINS.items() if prefix.endswith("-") and name.startswith(prefix)),
        None,
    )


def module_plugin(module: str) -> str | None:
    """The distribution providing the plugin module that `-p MODULE` loads, or None (builtin, `no:`)."""
    if module.startswith("no:") or module in BUILTIN:
        return None
    if module in MODULE_PLUGINS:
        return MODULE_PLUGINS[module]
    top = module.split(".")[0]
    if top.startswith("pytest_"):
        return "pytest-" + top[len("pytest_") :].replace("_", "-")
    return None


def args_plugins(words: list[str], where: str) -> list[tuple[str, str]]:
    """(requirement, why) for the plugins that pytest arguments `words` need."""
    out: list[tuple[str, str]] = []
    for i, word in enumerate(words):
        if word == "-p" and i + 1 < len(words):
            dist, shown = module_plugin(words[i + 1]), f"-p {words[i + 1]}"
        elif word.startswith("-p") and len(word) > 2 and not word.startswith("--"):
            dist, shown = module_plugin(word[2:]), word
        else:
            dist, shown = option_plugin(word), word
        if dist:
            out.append((dist, f"{where} {shown}"))
    return out


def config_plugins(settings: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    """(requirement, why) for every plugin the pytest config `settings` asks for, first mention only."""
    found: list[tuple[str, str]] = []
    for req in _words(settings.get("required_plugins")):
        found.append((req, "required_plugins in the pytest config"))
    found += args_plugins(_words(settings.get("addopts")), "addopts")
    for key in settings:
        if key.lower() in INI_PLUGINS:
            found.append((INI_PLUGINS[key.lower()], f"ini key {key}"))
    seen: set[str] = set()
    out = []
    for req, why in found:
        if dist_name(req) and dist_name(req) not in seen:
            seen.add(dist_name(req))
            out.append((req, why))
    return out


# Modules a warning filter may name that come with pytest or Python itself.
_RUNNER_MODULES = {"pytest", "_pytest", "pluggy", "builtins", "__main__"}


def filter_modules(settings: dict[str, str | list[str]], local: set[str]) -> list[tuple[str, str]]:
    """(requirement, why) for the modules that the config's `filterwarnings` entries import for their
    category (`action:message:category:module:lineno`, split as pytest splits it), other than Python's,
    pytest's and the project's own (`local`): pytest stops at configuration when one is missing."""
    value = settings.get("filterwarnings")
    entries = value if isinstance(value, list) else str(value or "").splitlines()
    out: list[tuple[str, str]] = []
    for entry in (str(e).strip() for e in entries):
        parts = entry.split(":")
        category = parts[2].strip() if len(parts) > 2 else ""
        top = category.split(".")[0]
        if "." not in category or top in _RUNNER_MODULES or top in sys.stdlib_module_names or top in local:
            continue
        dist = KNOWN_TEST_IMPORTS.get(top, top)
        if dist_name(dist) not in {dist_name(req) for req, _ in out}:
            out.append((dist, f"filterwarnings names {category}"))
    return out


def marker_plugins(files: list[Path], settings: dict[str, str | list[str]]) -> list[tuple[str, str]]:
    """(requirement, why) for the plugins whose markers the test `files` use (`pytest.mark.NAME` or
    `mark.NAME`, MARKER_PLUGINS), unless the config registers that marker itself."""
    value = settings.get("markers")
    lines = value if isinstance(value, list) else str(value or "").splitlines()
    registered = {str(line).strip().split(":")[0].split("(")[0].strip() for line in lines}
    out: dict[str, tuple[str, str]] = {}
    for path in files:
        tree = parse_file(path)
        for node in ast.walk(tree) if tree is not None else ():
            if not isinstance(node, ast.Attribute) or node.attr not in MARKER_PLUGINS:
                continue
            base = node.value
            is_mark = (isinstance(base, ast.Attribute) and base.attr == "mark") or (
                isinstance(base, ast.Name) and base.id == "mark"
            )
            if is_mark and node.attr not in registered:
                dist = MARKER_PLUGINS[node.attr]
                out.setdefault(dist, (dist, f"tests use the marker {node.attr} ({path.name})"))
    return list(out.values())


def fixture_plugins(files: list[Path]) -> list[tuple[str, str]]:
    """(requirement, why) for the plugins whose fixtures the test `files` take (a test's or fixture's
    parameter, or `usefixtures("NAME")`: FIXTURE_PLUGINS), unless a function of that name is defined in
    them (the project's own `mocker` fixture) or `parametrize` gives that argument."""
    used: dict[str, str] = {}
    own: set[str] = set()
    for path in files:
        tree = parse_file(path)
        for node in ast.walk(tree) if tree is not None else ():
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                own.add(node.name)
                args = node.args
                names = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                strings = [
                    a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
                ]
                if node.func.attr == "parametrize" and node.args:  # its argnames: "a, b" or ["a", "b"]
                    first = node.args[0]
                    parts = first.elts if isinstance(first, ast.List | ast.Tuple) else [first]
                    for part in parts:
                        if isinstance(part, ast.Constant) and isinstance(part.value, str):
                            own.update(n.strip() for n in part.value.split(","))
                names = strings if node.func.attr == "usefixtures" else []
            else:
                continue
            for name in names:
                if name in FIXTURE_PLUGINS:
                    used.setdefault(name, path.name)
    out: dict[str, tuple[str, str]] = {}
    for name, where in used.items():
        if name not in own:
            dist = FIXTURE_PLUGINS[name]
            out.setdefault(dist, (dist, f"tests use the fixture {name} ({where})"))
    return list(out.values())
