"""Test-support modules that no file of the project declares, named by pytest's own import errors.

    wanted = undeclared(missing_imports(texts), Path(snapshot_dir))   # {"trustme": "trustme"}

A suite can import a module that none of the snapshot's files declares: httpx's conftest imports
`trustme`, listed only in a requirements file its sdist leaves out; httpcore's tests import `hpack`,
which arrives with the `h2` of an extra nothing asks for. Reading the files cannot find these, but the
baseline on the clean snapshot does: pytest names each module it could not import (a conftest's
ImportError, a test module's collection error). The build installs them and runs the baseline again
(see `build`), and the environment records each under `added_deps` with its reason (`env show`).

The rule (pure, unit-tested): a module is installed when pytest said `No module named 'X'` for a
top-level X (a missing submodule belongs to another distribution, which is not guessed), X is no module
of the project itself (no `X.py` or `X/` anywhere in the snapshot: a helper pytest could not find on
its path is a test-command problem, and PyPI's `helpers` is not it), not the standard library and not
one of the suite's own packages (`tests`). Its distribution is `IMPORT_DISTS[X]` where the import name
differs (`jwt` is PyJWT), else X. Each is optional: one that does not install is recorded as skipped.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from codekiln.envs.importcause import LOCAL_TEST_PACKAGES
from codekiln.envs.importnames import IMPORT_DISTS

MAX_ROUNDS = 5
"""Install-and-rerun rounds: a module installed in one round can reveal the next one it imports."""
_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
_SKIP_DIRS = {".git", ".tox", ".nox", ".venv", "venv", "node_modules", "__pycache__", "build", "dist"}


def missing_imports(texts: Iterable[str]) -> list[str]:
    """The top-level modules that `No module named '...'` names in `texts` (error messages, log tails),
    in order of first mention; a dotted name is left out (see the module doc)."""
    out: list[str] = []
    for text in texts:
        for name in _NO_MODULE.findall(text):
            if "." not in name and name not in out:
                out.append(name)
    return out


def project_modules(root: Path) -> set[str]:
    """Every module or package name that a file or directory anywhere in the snapshot provides (a
    directory counts when it holds Python files: a data directory named `yaml` is no module)."""
    names: set[str] = set()
    for current, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        if any(f.endswith(".py") for f in files):
            names.add(Path(current).name)
        names.update(f[: -len(".py")] for f in files if f.endswith(".py"))
        names.update(f.split(".")[0] for f in files if f.endswith((".so", ".pyd")))
    return names


def undeclared(modules: list[str], root: Path) -> dict[str, str]:
    """distribution -> module, for each of `modules` that the rule installs (see the module doc)."""
    own = project_modules(root)
    out: dict[str, str] = {}
    for module in modules:
        if module in own or module in LOCAL_TEST_PACKAGES or module in sys.stdlib_module_names:
            continue
        out.setdefault(IMPORT_DISTS.get(module, module), module)
    return out
