"""New library modules named like test files: kept where a graded run cannot collect them, and then
judged as library code (put back nowhere, scanned as any other changed module of the package).

    kept = kept_modules(new_paths, packages, holds_tests, roots, tests)   # paths that stand
    is_test = protection(kept)       # `pathrules.is_protected` less `kept`: put back, and the scan's tests

Why a new file named as pytest names test files (`test_*.py`, `*_test.py`, `tests.py`, `test.py`) was put
back (deleted) wherever it lay: a patch may not add tests of its own, which a run that collects a folder
would run and which could forge results. But the grader (and the Harbor verifier, and a row's check)
never collects a folder: it names every test by its node id (`grading.runner`: the environment's
positional paths are dropped, its options kept), so pytest imports only the files those ids name, and
`python_files`, `testpaths` and `--doctest-modules` reach no other file. A new module pytest does not
collect is, in the run, what the same code under another name is: imported only by the code that
imports it, compiled without the guard's trust (the guard trusts the snapshot's files of the tests'
folders, `guard.trusted_sources`; a test item whose code lies anywhere else is `tampered`), and read by
the static scan, which then has to see it. So an honest fix moving Student's t-test into
`tablelib/t_test.py` lost the module (`ModuleNotFoundError`, 0) for nothing an attack needs.

The rule: a new path (the snapshot has nothing there) whose only protection is its file name stands when
- it lies below a package the project installs (`pathrules.project_packages`), with no folder from that
  package down holding a test file in the snapshot (`pathrules.library_module` of the same path under a
  plain name: tests beside the code, `pkg/sub/test_core.py`, keep every new test-named file beside them
  deleted); any other rule that protects the path (a `tests/` or `testing/` folder, `.dist-info`, the
  runner's names) still does;
- it is a submodule, not a top-level module: its folder is no `sys.path` entry of the test process
  (`pathrules.path_roots`: the root, a source folder, the folder pytest inserts for a test file), so its
  name cannot be one pytest gives a test module it imports by basename;
- no graded id names it, a folder holding it, or the `__init__.py` of one (pytest before 8 collected a
  whole package for its `__init__.py`): the run cannot collect it;
- every part of its path is an identifier (a module is imported by a dotted name).
conftest.py, start-up files, config files, `.pth` and package metadata are protected by name, never
test-named, and stay put back wherever they are: they are what Python or pytest load on their own.
Plugins are loaded by name from the environment's venv (`pytest11` entry points there, never the tree's
metadata) and `-p` only from the snapshot's config or the environment's own options, so no kept
module is loaded as one. What stays of the name: pytest's assertion rewriting still takes a kept module
when it is imported (its name matches `python_files`), so a failed `assert` in it says more; it fails
the same.

Standard library only: shipped beside `pathrules.py` (`grading.shipped`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from pathlib import PurePosixPath

try:  # shipped: beside its sibling files in a Harbor task's tests/codekiln/ (`shipped.VERIFIER`)
    import pathrules
except ImportError:  # imported from the codekiln package
    from codekiln.grading import pathrules  # type: ignore[no-redef]

KEPT = (
    "a new module of an installed package named like a test file, which no graded id collects: library code"
)
"""Why a path `kept_modules` keeps stands (the finding `kept` says so)."""
PLAIN = "module.py"
"""A name that is no test file's: a path under it is protected only by where it lies."""


def collected(rel: str, tests: Iterable[str]) -> bool:
    """Whether a run of the node ids `tests` may collect the file `rel`: an id names it, a folder above
    it, or that folder's `__init__.py`."""
    for test in tests:
        named = test.split("::", 1)[0].rstrip("/")
        if named in ("", "."):
            return True
        if PurePosixPath(named).name == "__init__.py":
            named = str(PurePosixPath(named).parent)
        if rel == named or rel.startswith(f"{named}/"):
            return True
    return False


def kept_module(
    rel: str,
    packages: Collection[str],
    holds_tests: Callable[[str], bool],
    roots: Collection[str],
    tests: Iterable[str],
) -> bool:
    """Whether a new file `rel` protected by its test-like name is library code that stands (the module
    docstring's rule). `packages`: `pathrules.project_packages`; `holds_tests(folder)`: the snapshot
    has a test file right in it; `roots`: `pathrules.path_roots`; `tests`: the graded node ids."""
    path = PurePosixPath(rel)
    if not pathrules.is_test_name(path.name) or path.name in pathrules.STARTUP_FILES:
        return False
    if not all(part.isidentifier() for part in (*path.parts[:-1], path.stem)):
        return False
    plain = str(path.with_name(PLAIN))
    if pathrules.is_protected(plain) or not pathrules.library_module(plain, packages, holds_tests):
        return False
    folder = str(path.parent) if len(path.parts) > 1 else ""
    return folder not in roots and not collected(rel, tests)


def kept_modules(
    new_paths: Iterable[str],
    packages: Collection[str],
    holds_tests: Callable[[str], bool],
    roots: Collection[str],
    tests: Iterable[str],
) -> frozenset[str]:
    """The paths of `new_paths` (what the change made where the snapshot has nothing) that `kept_module`
    keeps."""
    tests = list(tests)
    return frozenset(rel for rel in new_paths if kept_module(rel, packages, holds_tests, roots, tests))


def protection(kept: Collection[str]) -> Callable[[str], bool]:
    """`pathrules.is_protected` less the kept modules: what is put back, and what the static scan reads
    as the tests' (a kept module is scanned as library code)."""
    return lambda rel: rel not in kept and pathrules.is_protected(rel)


__all__ = ["KEPT", "collected", "kept_module", "kept_modules", "protection"]
