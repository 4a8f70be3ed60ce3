"""Why a test module could not be collected, in words a user can act on.

    collection_cause("...\\nE   ModuleNotFoundError: No module named 'tests'")
    # "ModuleNotFoundError: No module named 'tests'; tests is the project's own test directory, ..."
    missing_module("opentelemetry.test")   # Cause(why=..., fix=..., line="")

The build uses these twice: for the modules it leaves out of an environment (`steps.left_out`, shown by
`env show`), and for the hint of a build where nothing collects at all. The classes are the ones seen on
real sdists: a `tests` package shipped without its `__init__.py` (jmespath), a part of a namespace
package that another distribution provides (`opentelemetry.test`, from opentelemetry-test-utils, which
no file of opentelemetry-api's sdist declares), a module the project declares nowhere (selenium in
requests-oauthlib's examples), and a file or directory the source leaves out (pydantic's docs/).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from codekiln.envs.importnames import IMPORT_DISTS

LOCAL_TEST_PACKAGES = ("tests", "test", "testing", "conftest")
"""Modules a suite imports from its own tree: never a distribution to install (PyPI's `tests` is not it)."""

_NO_MODULE = re.compile(r"No module named '([\w.]+)'")
# `from tests import x` where `tests` is a directory without __init__.py on sys.path (the root is, under
# `python -m pytest` or a root conftest.py): Python reads it as a namespace package that holds no names.
_UNKNOWN_LOCATION = re.compile(r"cannot import name '\w+' from '([\w.]+)' \(unknown location\)")
_NO_PATH = re.compile(r"FileNotFoundError|No such file or directory|Not a file or directory")


class Cause(NamedTuple):
    """Why an import failed, the fix in words, and the profile line that would make it, when one would."""

    why: str
    fix: str
    line: str = ""


def missing_module(name: str) -> Cause:
    """The cause of `No module named NAME` in a test process of the built environment."""
    top = name.split(".")[0]
    if top in LOCAL_TEST_PACKAGES:
        return Cause(
            f"{top} is the project's own test directory, which is no package here (its __init__.py is "
            "missing: an sdist may leave it out)",
            "build from the repository's source instead (a git URL), or add the file",
        )
    if "." in name:  # Python names the parent when the parent is what is missing
        parent, _, sub = name.rpartition(".")
        return Cause(
            f"{parent} is installed but has no module {sub}, so another distribution provides it "
            f"(another part of a namespace package, or another version of {top}), and the build "
            "installed none that does",
            "add that distribution to the test deps (extra_deps)",
        )
    dep = IMPORT_DISTS.get(top, top)  # `import jwt` is PyJWT: PyPI's `jwt` is another project
    named = f"{top} (distribution {dep})" if dep != top else top
    return Cause(
        f"{named} is not installed: no dependency the build found and installed provides it",
        "add it to the test deps",
        f"extra_deps: [{dep}]",
    )


def collection_cause(message: str) -> str:
    """The last line of a collection error, followed by why it happened where that is known."""
    lines = [re.sub(r"^E\s+", "", ln.strip()) for ln in message.splitlines() if ln.strip()]
    last = lines[-1][:300] if lines else "failed to collect"
    module = _NO_MODULE.search(last)
    unknown = _UNKNOWN_LOCATION.search(last)
    if module:
        why = missing_module(module[1]).why
    elif unknown and unknown[1].split(".")[0] in LOCAL_TEST_PACKAGES:
        why = missing_module(unknown[1]).why
    elif _NO_PATH.search(last):
        why = "the tests read a file or directory this source lacks (an sdist may leave out docs or data)"
    else:
        return last
    return f"{last}; {why}"
