"""Why a test module could not be collected (`envs.importcause`), read from real pytest runs: the last
line of the error and its cause, for each class seen on real sdists."""

from __future__ import annotations

import subprocess
import sys
from xml.etree import ElementTree

import pytest

from codekiln.envs.importcause import collection_cause
from codekiln.testing import write_files

CASES = {
    # jmespath, run with the root on sys.path (`python -m pytest`): `tests` is a namespace package
    "tests/test_own.py": "from tests import helper_name\n",
    # opentelemetry-sdk: a module of a package that another distribution provides
    "tests/test_part.py": "from json.testutil import x\n",
    # requests-oauthlib's examples: selenium, declared by no file of the sdist
    "tests/test_undeclared.py": "import ck_declared_nowhere\n",
    # pydantic's docs examples: docs/ is not in the sdist
    "tests/test_docs.py": "from pathlib import Path\n\nPAGES = list(Path('docs').iterdir())\n",
    # something else: the last line as it is
    "tests/test_other.py": "raise RuntimeError('boom')\n",
}


@pytest.fixture(scope="module")
def errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The collection error text of each case, as pytest's JUnit report of a real run holds it."""
    root = write_files(tmp_path_factory.mktemp("causes") / "proj", {"tests/helper.py": "", **CASES})
    subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "--junitxml=out.xml", "tests"],
        cwd=root, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    cases = ElementTree.parse(root / "out.xml").iter("testcase")
    return {c.get("name", "").replace(".", "/") + ".py": c.findtext("error") or "" for c in cases}


@pytest.mark.parametrize(
    ("path", "cause"),
    [
        (
            "tests/test_own.py",
            "ImportError: cannot import name 'helper_name' from 'tests' (unknown location); tests is the "
            "project's own test directory, which is no package here (its __init__.py is missing: an sdist "
            "may leave it out)",
        ),
        (
            "tests/test_part.py",
            "ModuleNotFoundError: No module named 'json.testutil'; json is installed but has no module "
            "testutil, so another distribution provides it (another part of a namespace package, or another "
            "version of json), and the build installed none that does",
        ),
        (
            "tests/test_undeclared.py",
            "ModuleNotFoundError: No module named 'ck_declared_nowhere'; ck_declared_nowhere is not "
            "installed: no dependency the build found and installed provides it",
        ),
        (
            "tests/test_docs.py",
            "FileNotFoundError: [Errno 2] No such file or directory: 'docs'; the tests read a file or "
            "directory this source lacks (an sdist may leave out docs or data)",
        ),
        ("tests/test_other.py", "RuntimeError: boom"),
    ],
)
def test_the_cause_of_a_collection_error_is_named(errors: dict[str, str], path: str, cause: str) -> None:
    assert collection_cause(errors[path]) == cause, errors[path]
