"""The rules for the files a graded change touched: standalone (standard library only), so the grader
(`grading.patchrules`, which adapts them to a snapshot directory) and an exported task's verifier
(shipped beside it) judge a change with the same code.

    problem = reject_reason(rel, kind, data, executable, original_executable, policy)   # None, or why
    is_protected("toolz/tests/conftest.py")            # True: put back as in the snapshot
    shadowing(new_paths, roots, installed, exists)     # new modules that hide installed ones

- rejected (the change scores 0 with the reason): binary content, symlinks and other special files,
  mode changes, nested git metadata (`.git` anywhere: submodules, hooks), compiled artefacts; content
  and a new file's exec bit only where the file is not put back anyway (`put_back`).
- protected (put back as they are in the snapshot; a new one is deleted): what Python start-up or
  pytest reads on its own (conftest.py at any depth, every pytest config file name, sitecustomize and
  usercustomize, `*.pth`, anything inside `*.dist-info` / `*.egg-info`, modules named like the test
  runner) and the test files and directories (but new library modules named so: `libnames`).
- data (put back as in the snapshot, `is_data`): what the fix leaves alone that is not Python source,
  or is Python source outside the packages the fix changes (`code_areas`): what a test may read.
- the library's own (`library_module`): a module under a support-looking folder that is no test file
  and lies inside a package the project installs (`project_packages`), in no folder holding test files
  (`pkg/testing/`, as `numpy.testing`): read by `grading.scan_reach` as library code for what it may
  hand over (a literal constant), still protected as above.
- shadowing (put back, with a finding `shadows_module`): a new top-level module in a directory that is
  on `sys.path` in the test process (the repository root, a source folder an editable install adds
  through a `.pth` file, the base directory pytest inserts for a test file) whose name is also
  importable from the standard library or the environment's venv; a new package `D/__init__.py`
  beside a module `D.py` of the snapshot that stands (`hidden_modules`). No fix needs one (an honest
  one beside a scratch `trace.py` was rejected when this rule rejected).

`kind`: file, symlink, dir, other, deleted (what the workspace holds at a path now)."""

from __future__ import annotations

import ast
import io
import json
import sys
import tokenize
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# The rule of `codekiln.core.testnames`, spelled here: this file is shipped by path and imports nothing
# from codekiln (tests/grading pin the two equal). tests.py / test.py hold unittest-style suites.
TEST_DIRS = frozenset({"tests", "test", "testing"})
TEST_MODULES = frozenset({"tests.py", "test.py"})
CONFIG_FILES = frozenset(
    {"pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "tox.ini", "setup.cfg", "pyproject.toml"}
)
STARTUP_FILES = frozenset({"conftest.py", "sitecustomize.py", "usercustomize.py"})
RUNNER_NAMES = frozenset({"pytest", "_pytest", "py", "pluggy", "iniconfig", "codekiln_guard"})
# Probed at start-up, before the guard, and missing: next in the tree (msvcrt, nt: stdlib_module_names)
STARTUP_PROBES = frozenset({"org", "java", "colorama", "argcomplete", "pygments", "readline"})
COMPILED_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dll", ".dylib", ".o", ".a", ".whl", ".egg", ".exe")


@dataclass(frozen=True)
class Rules:
    """What a change may contain (the grader's `GradePolicy` carries the same fields)."""

    allow_binary: bool = False
    allow_symlinks: bool = False
    allow_mode_changes: bool = False
    compiled_suffixes: tuple[str, ...] = COMPILED_SUFFIXES


def is_protected(rel: str) -> bool:
    """Files a graded change may not change: test files and what Python or pytest read on their own."""
    path = PurePosixPath(rel)
    name, parts = path.name, path.parts
    if name in CONFIG_FILES or name in STARTUP_FILES or name.endswith(".pth"):
        return True
    if any(p.endswith((".dist-info", ".egg-info")) for p in parts):
        return True
    if any(p in RUNNER_NAMES or p.removesuffix(".py") in RUNNER_NAMES for p in parts):
        return True
    if any(part in TEST_DIRS for part in parts[:-1]):
        return True
    return is_test_name(name)


def is_test_name(name: str) -> bool:
    """A file name pytest collects by default, or a `tests.py` / `test.py` module."""
    return name.endswith(".py") and (
        name.startswith("test_") or name.endswith("_test.py") or name in TEST_MODULES
    )


def protected_globs() -> list[str]:
    """`is_protected` as git glob pathspecs (`**/` matches no folder too), for a shell that has no
    Python of ours: a SWE-bench row's eval script deletes the untracked files they match, as the grader
    deletes a new protected file, so a new `conftest.py` is gone before its tests run."""
    names = sorted(CONFIG_FILES | STARTUP_FILES)
    runner = sorted(f"**/{n}{tail}" for n in RUNNER_NAMES for tail in (".py", "/**"))
    tests = [*(f"**/{d}/**" for d in sorted(TEST_DIRS)), "**/test_*.py", "**/*_test.py"]
    tests += [f"**/{n}" for n in sorted(TEST_MODULES)]
    meta = ["**/*.pth", "**/*.dist-info/**", "**/*.egg-info/**"]
    return [f":(glob){g}" for g in (*(f"**/{n}" for n in names), *meta, *runner, *tests)]


DATA = "not Python source and no part of the fix: put back, the tests may read it as data"
PY_DATA = "Python source outside the packages the fix changes, and no part of it: put back, the tests may read it as data"

SHADOWS = "a new module that would hide another (installed, or the snapshot's beside it), no part of the fix: put back"
"""Why a new module `shadowing` or `hidden_modules` names is put back: none is needed by a fix, and an
honest one beside a scratch `trace.py` or `code.py` was rejected for it."""

SUPPORT = "test support code (only the graded tests import it) and no part of the fix: put back"
"""Why a module `grading.support` found is put back (the list reaches a verifier in its task)."""


def code_areas(fixed: Collection[str], roots: Collection[str]) -> set[str]:
    """Where the code the fix changes lives: for each Python file of `fixed`, its top-level package
    folder (or the module itself, when it sits right in a root) under the deepest of `roots` (the
    folders on the test process's `sys.path`, `path_roots`) that holds it. `dtpkg/core.py` -> `dtpkg`,
    `src/pkg/a/b.py` with `src` a root -> `src/pkg`, `six.py` -> `six.py`."""
    out = set()
    for rel in fixed:
        if not rel.endswith(".py"):
            continue
        parts = PurePosixPath(rel).parts
        bases = [PurePosixPath(r).parts if r else () for r in roots]
        base = max((b for b in bases if len(b) < len(parts) and parts[: len(b)] == b), key=len, default=())
        out.add(str(PurePosixPath(*parts[: len(base) + 1])))
    return out


def is_data(rel: str, fixed: Collection[str], areas: Collection[str], existed: bool = True) -> str | None:
    """Why a changed file is put back as in the snapshot though no rule protects it by name (None: it
    is not). A test may read its expected values from any file (`testdata/cases.json`, outside every
    test folder): a change that rewrote them to the buggy results scored resolved without a fix. So
    anything the task's fix (`fixed`: the paths the bug patch touches) leaves alone is put back when it
    is not Python source (`DATA`), or when it is Python source that was in the snapshot (`existed`) and
    lies outside the packages the fix changes (`areas`, from `code_areas`): `testdata/cases.py`, a
    formatter's `expected/*.py`, `setup.py`, `docs/conf.py` (`PY_DATA`). Code a fix may need stays: any
    module of the fix's packages, and any new module. A task whose fix is unknown (no bug patch: a record
    written by hand) has no areas, and then no Python file is put back by this rule."""
    if rel in fixed:
        return None
    if not rel.endswith(".py"):
        return DATA
    inside = any(rel == area or rel.startswith(f"{area}/") for area in areas)
    return PY_DATA if existed and areas and not inside else None


def reject_reason(
    rel: str,
    kind: str,
    data: bytes | None,
    executable: bool,
    original_executable: bool | None,
    policy: Rules,
    put_back: bool = False,
) -> str | None:
    """Why a changed path makes the change unacceptable (None: it may stand). `data` and `executable`:
    the file's bytes and exec bit now; `original_executable`: its exec bit in the snapshot (None: the
    snapshot has no regular file there). `policy`: any object with the fields of `Rules`.

    `put_back`: the file will be put back as in the snapshot whatever it holds (`put_back`, below), so
    what it holds (binary bytes, an exec bit on a new file) reaches no test and rejects nothing: an
    honest fix beside a scratch file the agent left (`debug.bin`, a pickle, a `repro.sh` made
    executable) scored 0. Its kind still counts (links, special files, git metadata, compiled
    artefacts), and so does a changed mode of a file the snapshot has."""
    parts = PurePosixPath(rel).parts
    if any(part.lower() == ".git" for part in parts):  # any case: a case-insensitive disk reads it so
        return f"{rel}: writes git metadata (submodules, hooks and history are not part of a fix)"
    if kind == "symlink" and not policy.allow_symlinks:
        return f"{rel}: creates a symbolic link"
    if kind == "other":
        return f"{rel}: creates a special file (device, fifo or socket)"
    if "__pycache__" in parts or rel.endswith(tuple(policy.compiled_suffixes)):
        return f"{rel}: adds a compiled artefact"
    if kind != "file" or data is None:
        return None
    if put_back:
        return _mode_changed(rel, executable, original_executable, policy)
    if executable and original_executable is None and not policy.allow_mode_changes:
        return f"{rel}: creates an executable file"
    if not policy.allow_binary and (b"\0" in data or not (_is_utf8(data) or _is_python_source(rel, data))):
        return f"{rel}: binary content"
    return _mode_changed(rel, executable, original_executable, policy)


def _mode_changed(rel: str, executable: bool, original_executable: bool | None, policy: Rules) -> str | None:
    if (
        not policy.allow_mode_changes
        and original_executable is not None
        and original_executable != executable
    ):
        return f"{rel}: changes the file's mode"
    return None


def put_back(rel: str, fixed: Collection[str]) -> bool:
    """A changed path put back as in the snapshot whatever the rest of the change is: a protected one, or
    one that is not Python source and no part of the fix (`is_data`'s `DATA`, decided by name alone)."""
    return is_protected(rel) or (rel not in fixed and not rel.endswith(".py"))


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _is_python_source(rel: str, data: bytes) -> bool:
    """A .py file valid in the encoding it declares (PEP 263: `# -*- coding: latin-1 -*-`): text, as
    Python reads it (and as the scan reads it: `scan_parse.source_text`)."""
    if not rel.endswith(".py"):
        return False
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        data.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return False
    return True


def installed_modules(venv_dir: Path) -> frozenset[str]:
    """Top-level module names importable from the standard library or a venv's site-packages, or
    probed at start-up (`STARTUP_PROBES`, `copy`'s `org`: a new one would run before the guard)."""
    names = set(sys.stdlib_module_names) | STARTUP_PROBES
    for site in Path(venv_dir).glob("lib/python3*/site-packages"):
        for entry in site.iterdir():
            name = entry.name
            if name.endswith((".dist-info", ".egg-info", ".pth")) or name == "__pycache__" or name[0] == ".":
                continue
            if entry.is_dir() or name.endswith(".py"):
                names.add(name.removesuffix(".py"))
            elif name.endswith((".so", ".pyd")):
                names.add(name.split(".", 1)[0])
    return frozenset(names)


def path_roots(
    venv_dir: Path, is_package: Callable[[str], bool], tests: Iterable[str], workdir: str
) -> set[str]:
    """Repo-relative directories on `sys.path` in a test process: the root, folders an editable install
    adds through `.pth` files, and the base directory pytest inserts for each test file.
    `is_package(folder)`: the snapshot has `folder/__init__.py`."""
    roots = {""}
    prefix = workdir.rstrip("/") + "/"
    for pth in Path(venv_dir).glob("lib/python3*/site-packages/*.pth"):
        for line in pth.read_text(encoding="utf-8", errors="replace").splitlines():
            line = line.strip()
            if line == workdir:
                roots.add("")
            elif line.startswith(prefix):
                roots.add(line[len(prefix) :].strip("/"))
    for test in tests:
        folder = PurePosixPath(test.split("::", 1)[0]).parent
        while str(folder) not in ("", ".") and is_package(str(folder)):
            folder = folder.parent
        roots.add("" if str(folder) == "." else str(folder))
    return roots


def hidden_modules(
    touched: dict[str, str], exists: Callable[[str], bool], put_back: Collection[str]
) -> dict[str, str]:
    """New packages that hide a module of the snapshot beside them: `D/__init__.py` -> `D.py`, which an
    import of `D` no longer reaches (a package folder comes before a module of its name). Left, the
    package would make `D.py`, put back, stand on disk and be read by nothing: `unitlib/_checks/__init__.py` with the shared
    assertions returning at once hid `unitlib/_checks.py`, put back as the tests' support code. A `D.py`
    the change deletes (and that is not put back) is a module made a package: no finding.
    `touched`: path -> kind as `Sandbox.changed` gives them; `exists(rel)`: the snapshot has a file there."""
    out = {}
    for rel, kind in touched.items():
        path = PurePosixPath(rel)
        if kind != "file" or path.name != "__init__.py" or exists(rel) or rel in put_back:
            continue
        module = str(path.parent.with_suffix(".py"))
        if path.parent.name and exists(module) and (touched.get(module) != "deleted" or module in put_back):
            out[rel] = module
    return out


def new_folder(rel: str, kind: str, exists: Callable[[str], bool]) -> bool:
    """A folder the change made where the snapshot has nothing: not itself data (a new package of the
    fix is code: `unitlib/_impl/`, whose `__init__.py` was put back with it as a file that is not Python
    source). Its files are judged one by one."""
    return kind == "dir" and not exists(rel)


def shadowing(
    new_paths: Iterable[str], roots: set[str], installed: frozenset[str], exists: Callable[[str], bool]
) -> dict[str, str]:
    """New paths that put a module on `sys.path` under a name already importable elsewhere:
    path -> the module it hides. `exists(rel)`: the snapshot has something at `rel`."""
    out = {}
    for rel in new_paths:
        parts = PurePosixPath(rel).parts
        for root in roots:
            base = PurePosixPath(root).parts if root else ()
            if len(parts) <= len(base) or parts[: len(base)] != base:
                continue
            top = parts[len(base)]
            name = top.removesuffix(".py") if len(parts) == len(base) + 1 else top
            name = name.split(".", 1)[0] if name.endswith((".so", ".pyd")) else name
            existing = PurePosixPath(*base, top)
            if (
                name in installed
                and not exists(str(existing))
                and not exists(str(existing.with_suffix(".py")))
            ):
                out[rel] = name
                break
    return out


def project_packages(venv_dir: Path, workdir: str) -> frozenset[str]:
    """Repo-relative folders of the import packages the project installs, as its editable install in
    the venv names them: the folders its setuptools finder maps (`MAPPING = {"pkg": "/testbed/pkg"}`),
    and, for a `.pth` line adding a folder of `workdir` to `sys.path`, that folder's packages the
    project's dist lists in `top_level.txt` (the dist whose `direct_url.json` is `workdir`), or the
    whole folder when it is not `workdir` itself and the dist lists none (a src layout). An install
    that writes neither (a legacy `setup.py develop`) names none: its testing package stays the tests'."""
    base = workdir.rstrip("/")

    def inside(line: str) -> str | None:
        line = line.strip().rstrip("/")
        return "" if line == base else line[len(base) + 1 :] if line.startswith(base + "/") else None

    out: set[str] = set()
    for site in Path(venv_dir).glob("lib/python3*/site-packages"):
        names: list[str] = []
        for info in site.glob("*.dist-info"):
            try:
                url = json.loads((info / "direct_url.json").read_text(encoding="utf-8")).get("url", "")
                if isinstance(url, str) and url.rstrip("/") == f"file://{base}":
                    names += (info / "top_level.txt").read_text(encoding="utf-8").split()
            except (OSError, ValueError, AttributeError):
                continue
        for pth in site.glob("*.pth"):
            for line in pth.read_text(encoding="utf-8", errors="replace").splitlines():
                folder = None if line.startswith(("import ", "import\t", "#")) else inside(line)
                if folder is not None:
                    out.update(f"{folder}/{n}".lstrip("/") for n in names)
                    out.update([folder] if folder and not names else [])
        for finder in site.glob("__editable__*finder.py"):
            out.update(f for f in map(inside, _finder_mapping(finder)) if f)
    return frozenset(out)


def _finder_mapping(finder: Path) -> list[str]:
    """The folders a setuptools editable finder's `MAPPING` literal maps names to."""
    try:
        tree = ast.parse(finder.read_bytes(), filename=str(finder))
    except (OSError, SyntaxError, ValueError):
        return []
    for node in tree.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        if [t.id for t in targets if isinstance(t, ast.Name)] == ["MAPPING"] and len(targets) == 1:
            try:
                mapping = ast.literal_eval(value)
            except (ValueError, SyntaxError, TypeError):
                return []
            return [v for v in mapping.values() if isinstance(v, str)] if isinstance(mapping, dict) else []
    return []


def library_module(rel: str, packages: Collection[str], holds_tests: Callable[[str], bool]) -> bool:
    """A module protected only by the folder it sits in that is the library's own (`pkg/testing/`, as
    `numpy.testing`): a .py file that is no test file, conftest or start-up file by its name, below a
    folder the project's install puts on the import path (`packages`, from `project_packages`), with
    no folder from there down to it holding a test file (`holds_tests(folder)`: the snapshot has a
    `test_*.py`, `*_test.py`, `tests.py` or `test.py` right in it). So `pkg/tests/helpers.py` beside
    `pkg/tests/test_core.py` stays the tests', and so does every module outside the installed packages
    (`tests/`, a `testing/` support folder at the root)."""
    path = PurePosixPath(rel)
    if path.suffix != ".py" or is_test_name(path.name) or path.name in STARTUP_FILES:
        return False
    if any(p in RUNNER_NAMES or p.endswith((".dist-info", ".egg-info")) for p in path.parts):
        return False
    for package in packages:
        top = PurePosixPath(package).parts
        if top and len(path.parts) > len(top) and path.parts[: len(top)] == top:
            folders = (str(PurePosixPath(*path.parts[:i])) for i in range(len(top), len(path.parts)))
            if not any(holds_tests(f) for f in folders):
                return True
    return False


def test_folders(paths: Iterable[str]) -> frozenset[str]:
    """The folders of `paths` (a snapshot's files) that hold a test file right in them."""
    return frozenset(str(PurePosixPath(p).parent) for p in paths if is_test_name(PurePosixPath(p).name))


def library_judge(
    venv_dir: Path, workdir: str, holds_tests: Callable[[str], bool], hidden: Collection[str] = ()
) -> Callable[[str], bool]:
    """`library_module` for the project installed from `workdir` in `venv_dir`, less the hidden files."""
    packages = project_packages(venv_dir, workdir)
    return lambda rel: rel not in hidden and library_module(rel, packages, holds_tests)
