"""How codekiln runs pytest so that a patch cannot change what runs or forge what it reports.

    iso = Isolation.for_environment(snapshot_dir, venv_dir, tests)   # trusted config, named plugins
    session = GuardSession.start(sandbox, iso)                       # plugin + settings, fresh nonce
    argv, env = session.argv(pytest_args), session.env(extra_env)
    ...run...
    report = session.read(sandbox, exec_result)                      # GuardReport

What a test process loads (the class of attacks it closes):
- Python: `python -P -s` (pytest run as `-m pytest` would, by `guard_main`, which takes no module from
  the tree before the plugin): the working directory is not on `sys.path`, no user site; the trusted
  files' digests go in the settings (`guard_digests`): one changed before the plugin read it is found.
- Plugins: `PYTEST_DISABLE_PLUGIN_AUTOLOAD=1`, then each `pytest11` entry point installed in the
  environment's venv, named in the guard plugin's settings and loaded by it from its entry point the
  way autoload would (found in the trusted venv, not in whatever metadata a patch adds to the tree).
- Configuration: `-c` names the one file pytest would pick in the snapshot (restored by the grader) or
  an empty one outside the workspace, and `--rootdir` the workspace: no config file a patch adds is read.

Test modules are rewritten from the trusted sources in every run; the code a run on the clean snapshot
rewrote is kept by the host for later runs of the environment, used only for a source whose bytes hash
as the entry says (`guard_rewrites`), or a module a grade appends canaries to (`speedups.appended_code`).

What the run reports is cross-checked from outside the process (`GuardReport.evidence`): the guard
plugin's marker line must appear exactly once with the run's nonce, its exit status must equal the
process's, and the results file and the JUnit file must still hash as they did when the session ended.
Canary tests (`make_canaries`) are checked by the grader.
"""

from __future__ import annotations

import configparser
import functools
import importlib.util
import json
import marshal
import secrets
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from codekiln.core.protocols import ExecResult, Sandbox
from codekiln.grading.doctests import expected_examples
from codekiln.grading.guard_check import Canaries as Canaries
from codekiln.grading.guard_check import check_run
from codekiln.grading.guard_check import make_canaries as make_canaries
from codekiln.grading.guard_digests import trusted_digests
from codekiln.grading.guard_files import RESULTS_LIMIT as RESULTS_LIMIT
from codekiln.grading.guard_files import plain_tables, read_or_none, read_results, report_digest
from codekiln.grading.guard_rewrites import REWRITES, rewrite_key
from codekiln.grading.shipped import FOLDER, guard_plugin_names
from codekiln.grading.support import held_modules

GUARD_ROOT = "/tmp/codekiln-grader"
# The files pytest reads its configuration from, in the order it looks for them in one directory.
CONFIG_NAMES = (
    "pytest.toml",
    ".pytest.toml",
    "pytest.ini",
    ".pytest.ini",
    "pyproject.toml",
    "tox.ini",
    "setup.cfg",
)


def _has_pytest_section(path: Path) -> bool:
    name = path.name
    if name in ("pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml"):
        return True
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        if name == "pyproject.toml":
            tool = tomllib.loads(text).get("tool", {})
            return "ini_options" in tool.get("pytest", {}) or bool(tool.get("pytest"))
        parser = configparser.ConfigParser(interpolation=None, strict=False)
        parser.read_string(text)
        return parser.has_section("pytest" if name == "tox.ini" else "tool:pytest")
    except (ValueError, configparser.Error, tomllib.TOMLDecodeError):
        return False


def find_config(snapshot_dir: Path, tests: list[str] | None) -> str | None:
    """The config file pytest would use in the snapshot for these test ids (repo-relative), or None.

    pytest looks in the common ancestor of its arguments and then upwards; only the snapshot's own
    files (never the graded tree's) are considered."""
    files = [PurePosixPath(t.split("::", 1)[0]) for t in tests or []]
    parents = [f.parent if f.suffix else f for f in files]
    start = PurePosixPath(*_common(parents)) if parents else PurePosixPath(".")
    for directory in [start, *start.parents]:
        for name in CONFIG_NAMES:
            rel = directory / name
            path = Path(snapshot_dir) / rel
            if path.is_file() and not path.is_symlink() and _has_pytest_section(path):
                return str(rel)
    return None


def _common(paths: list[PurePosixPath]) -> tuple[str, ...]:
    parts = [p.parts for p in paths]
    out: list[str] = []
    for column in zip(*parts, strict=False):
        if any(c != column[0] for c in column):
            break
        out.append(column[0])
    return tuple(out)


def venv_plugins(venv_dir: Path) -> list[str]:
    """The `pytest11` entry-point names installed in a venv (what plugin autoload would load)."""
    names: set[str] = set()
    for meta in sorted(Path(venv_dir).glob("lib/python3*/site-packages/*.*-info/entry_points.txt")):
        parser = configparser.ConfigParser(interpolation=None, strict=False, delimiters=("=",))
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        try:
            parser.read_string(meta.read_text(encoding="utf-8", errors="replace"))
        except configparser.Error:
            continue
        if parser.has_section("pytest11"):
            names.update(name.strip() for name in parser.options("pytest11"))
    return sorted(names)


def python_functions_prefix(snapshot_dir: Path, config: str | None) -> str:
    """A name prefix that the project's `python_functions` setting collects (default `test`)."""
    if config is None:
        return "test"
    path = Path(snapshot_dir) / config
    value = ""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".toml":
            data = tomllib.loads(text)
            section = data.get("tool", {}).get("pytest", data) if path.name == "pyproject.toml" else data
            section = section.get("ini_options", section)
            raw = section.get("python_functions", "")
            value = " ".join(raw) if isinstance(raw, list) else str(raw)
        else:
            parser = configparser.ConfigParser(interpolation=None, strict=False)
            parser.read_string(text)
            for name in ("pytest", "tool:pytest"):
                if parser.has_option(name, "python_functions"):
                    value = parser.get(name, "python_functions")
    except (OSError, ValueError, configparser.Error, tomllib.TOMLDecodeError):
        value = ""
    for pattern in value.split():
        if not any(c in pattern for c in "*?["):
            return pattern
    return "test"


@dataclass(frozen=True)
class Isolation:
    """How to start pytest in an environment: its trusted config file and the plugins to name."""

    config: str | None = None
    """Repo-relative config file (restored from the snapshot before the run); None: an empty one."""
    plugins: tuple[str, ...] = ()
    """`pytest11` entry-point names loaded with `-p` (autoload is off)."""
    function_prefix: str = "test"
    trusted: tuple[str, ...] = ()
    """Repo-relative test sources the guard reads at start-up and checks every test's code against."""
    bytecode: bool = False
    """The venv runs this interpreter's bytecode: the guard plugin is shipped compiled (`plugin_files`)."""
    venv: str = ""
    """The environment's venv on the host: whose rewritten test code runs share (`guard_rewrites`)."""
    support: tuple[str, ...] = ()
    """Repo-relative test support modules (`grading.support`), which the guard reads at start-up and holds
    the tests' helpers to (`guard_plugin_support`)."""
    doctests: tuple[tuple[str, str], ...] = ()
    """Graded doctest id -> its snapshot examples as JSON, which the guard checks each run's against
    (`grading.doctests.expected_examples`)."""

    @classmethod
    def for_environment(cls, snapshot_dir: Path, venv_dir: Path, tests: list[str] | None) -> Isolation:
        """Read from the snapshot and the venv (both fixed once built: cached per process)."""
        return _isolation(Path(snapshot_dir), Path(venv_dir), tuple(tests) if tests is not None else None)


@functools.lru_cache(maxsize=256)
def _isolation(snapshot_dir: Path, venv_dir: Path, tests: tuple[str, ...] | None) -> Isolation:
    config = find_config(snapshot_dir, list(tests) if tests is not None else None)
    return Isolation(
        config=config,
        plugins=tuple(venv_plugins(venv_dir)),
        function_prefix=python_functions_prefix(snapshot_dir, config),
        trusted=tuple(trusted_sources(snapshot_dir, list(tests or ()))),
        bytecode=same_bytecode(venv_dir),
        venv=str(venv_dir),
        doctests=tuple(sorted(expected_examples(snapshot_dir, list(tests or ())).items())),
        support=tuple(sorted(held_modules(snapshot_dir, {t.split("::", 1)[0] for t in tests or ()}))),
    )


def same_bytecode(venv_dir: Path) -> bool:
    """Whether a venv's interpreter reads this interpreter's .pyc files: both CPython, same X.Y (the
    bytecode format changes only between minor versions)."""
    version = ""
    try:
        for line in (Path(venv_dir) / "pyvenv.cfg").read_text(encoding="utf-8").splitlines():
            key, _, value = line.partition("=")
            if key.strip() in ("version", "version_info"):
                version = value.strip()
    except OSError:
        return False
    ours = f"{sys.version_info.major}.{sys.version_info.minor}"
    return (
        sys.implementation.name == "cpython"
        and version.split(".")[:2] == ours.split(".")
        and (Path(venv_dir) / "lib" / f"python{ours}" / "site-packages").is_dir()
    )


@functools.cache
def _plugin_source(name: str) -> bytes:
    return (FOLDER / name).read_bytes()


@functools.cache
def _plugin_pyc(name: str) -> bytes:
    """A file of the guard plugin as a sourceless .pyc, compiled once per process. Shipped as source, it
    would be parsed (the plugin itself also assertion-rewritten by pytest, as every `-p` module is) and
    compiled in every test run: its directory is new each time, so no cache survives."""
    shown = "codekiln_guard" + name.removeprefix("guard_plugin")
    code = compile(_plugin_source(name), shown, "exec", dont_inherit=True, optimize=0)
    header = importlib.util.MAGIC_NUMBER + bytes(12)  # flags 0, no source mtime or size to check
    return header + marshal.dumps(code)


def plugin_files(module: str, bytecode: bool) -> list[tuple[str, bytes]]:
    """The guard plugin's files in its directory, loaded as `module` (`shipped.GUARD_PLUGIN`, each part
    under `module` + its suffix), and their contents: compiled when `bytecode`."""
    return [
        (f"{loaded}.pyc", _plugin_pyc(name)) if bytecode else (f"{loaded}.py", _plugin_source(name))
        for name, loaded in guard_plugin_names(module).items()
    ]


def trusted_sources(snapshot_dir: Path, tests: list[str]) -> list[str]:
    """The Python files of the folders the tests live in, and the conftest.py files above them."""
    out: set[str] = set()
    root = Path(snapshot_dir)
    for folder in {PurePosixPath(t.split("::", 1)[0]).parent for t in tests}:
        out.update(str(p.relative_to(root)) for p in (root / folder).glob("*.py") if p.is_file())
        for above in [folder, *folder.parents]:
            if (root / above / "conftest.py").is_file():
                out.add(str(above / "conftest.py") if str(above) != "." else "conftest.py")
    return sorted(out)


@dataclass
class GuardReport:
    """What the guard plugin recorded, and any sign that the run's report was forged."""

    statuses: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    collection_errors: dict[str, str] = field(default_factory=dict)
    collection_skips: dict[str, str] = field(default_factory=dict)
    """Modules (or other collectors) skipped at collection, with the reason; pytest counts each as skipped."""
    exitstatus: int | None = None
    pytest_counts: dict[str, int] = field(default_factory=dict)
    pytest_tests: int = 0
    repeated_ids: dict[str, int] = field(default_factory=dict)  # ids several items share: how many each
    plugin_files: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)
    """Why the report cannot be trusted (empty when every check passed)."""
    found: bool = False
    """A results file was written (False: the process died before the session ended)."""
    junit_present: bool = False


@dataclass
class GuardSession:
    """One guarded pytest run: a fresh directory, plugin module name and nonce."""

    iso: Isolation
    workdir: str
    nonce: str
    directory: str
    module: str
    junit: str
    export: str | None = None
    """Where the plugin writes the test code it rewrote (a trusted run's), for `guard_rewrites`."""

    @classmethod
    def start(
        cls,
        sandbox: Sandbox,
        iso: Isolation,
        junit: str | None = None,
        watch: Sequence[str] = (),
        *,
        export_rewrites: bool = False,
        appended: tuple[str, tuple[int, int]] | None = None,
    ) -> GuardSession:
        """`junit`: where pytest writes its JUnit report (default: in the run's fresh directory); `watch`:
        test ids before each of which the guard checks that pytest's machinery is intact; `export_rewrites`:
        the run is on the clean snapshot, which the host trusts: keep the test code it rewrites for later
        runs of the environment (`guard_rewrites`; never for a graded patch); `appended`: a test module
        (repo-relative) the grader appended canaries to, and where its source ends (`Canaries.kept`)."""
        nonce = secrets.token_hex(16)
        directory = f"{GUARD_ROOT}/{secrets.token_hex(8)}"
        junit = junit or f"{directory}/junit.xml"
        module = f"codekiln_guard_{secrets.token_hex(4)}"
        session = cls(iso, sandbox.workdir, nonce, directory, module, junit)
        for name, content in plugin_files(module, iso.bytecode):
            sandbox.write_file(f"{directory}/{name}", content)
        sandbox.write_file(f"{directory}/{module}_main.py", _plugin_source("guard_main.py"))
        settings: dict[str, object] = {
            "nonce": nonce,
            "out": session.results_path,
            "junit": junit,
            "workdir": sandbox.workdir,
            "trusted": [f"{sandbox.workdir}/{rel}" for rel in iso.trusted],
            "trusted_digests": trusted_digests(sandbox, iso.trusted),  # as we left them: checked there
            "support": [f"{sandbox.workdir}/{rel}" for rel in iso.support],
            "plain_tables": plain_tables(sandbox, [*iso.trusted, *iso.support]) if iso.bytecode else [],
            "watch": list(watch),
            "plugins": list(iso.plugins),
            "doctests": {test: json.loads(examples) for test, examples in iso.doctests},
            "hide": True,  # the held test files emptied once collected (`guard_plugin_hide`, `hidden_tests`)
        }
        kept = REWRITES.get(key := rewrite_key(iso.venv, sandbox.workdir))
        if kept:
            sandbox.write_file(f"{directory}/rewrites.marshal", kept)
            settings["rewrites"] = f"{directory}/rewrites.marshal"
        if kept and appended:
            settings["appended"] = {f"{sandbox.workdir}/{appended[0]}": list(appended[1])}
        if export_rewrites and key:
            settings["export_rewrites"] = session.export = f"{directory}/rewritten.marshal"
        sandbox.write_file(session.settings_path, json.dumps(settings))
        if iso.config is None:
            sandbox.write_file(f"{directory}/pytest.ini", "[pytest]\n")
        return session

    @property
    def results_path(self) -> str:
        return f"{self.directory}/results.json"

    @property
    def settings_path(self) -> str:
        return f"{self.directory}/settings.json"

    def python(self) -> list[str]:
        """pytest as `python -P -s -m pytest` runs it, through `guard_main` (no interpreter teardown)."""
        return ["python", "-P", "-s", "-m", f"{self.module}_main"]

    def pytest_args(self) -> list[str]:
        config = f"{self.workdir}/{self.iso.config}" if self.iso.config else f"{self.directory}/pytest.ini"
        return ["-c", config, "--rootdir", self.workdir, "-p", self.module]

    def env(self, extra: dict[str, str]) -> dict[str, str]:
        path = ":".join(p for p in (self.directory, extra.get("PYTHONPATH", "")) if p)
        return {
            **extra,
            "PYTHONPATH": path,
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
            "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1",  # one run per tree: a cache nobody reads back is only cost
            "CODEKILN_GUARD": self.settings_path,
        }

    def read(self, sandbox: Sandbox, result: ExecResult) -> GuardReport:
        """Read the plugin's results back and cross-check them with the process and the files. Both lie
        in the sandbox, where code under test can make them any size (a sparse gigabyte costs its disk
        nothing): the JUnit report is only hashed, in chunks; results over RESULTS_LIMIT are evidence."""
        raw, too_big = read_results(sandbox, self.results_path)
        junit, linked = report_digest(sandbox, self.junit)
        data, evidence = check_run(result.stdout, result.exit_code, self.nonce, raw, junit)
        evidence[:0] = [e for e in (too_big, linked) if e]
        report = GuardReport(evidence=evidence, junit_present=junit is not None)
        if data is None:
            return report
        report.found = True
        if self.export and not evidence:
            REWRITES.keep(rewrite_key(self.iso.venv, self.workdir), read_or_none(sandbox, self.export) or b"")
        report.statuses = {str(k): str(v) for k, v in (data.get("statuses") or {}).items()}
        report.messages = {str(k): str(v) for k, v in (data.get("messages") or {}).items()}
        report.collection_errors = {str(k): str(v) for k, v in (data.get("collection_errors") or {}).items()}
        report.collection_skips = {str(k): str(v) for k, v in (data.get("collection_skips") or {}).items()}
        report.exitstatus = data.get("exitstatus")
        report.pytest_counts = dict(data.get("pytest_counts") or {})
        report.pytest_tests = int(data.get("pytest_tests") or 0)
        report.repeated_ids = {str(k): int(v) for k, v in (data.get("repeated_ids") or {}).items()}
        report.plugin_files = [str(p) for p in data.get("plugin_files") or []]
        return report


__all__ = [
    "CONFIG_NAMES", "RESULTS_LIMIT", "Canaries", "GuardReport", "GuardSession", "Isolation", "find_config",
    "make_canaries", "venv_plugins",
]  # fmt: skip
