"""A library's own testing package (`numpy.testing`-style) against the tests' support: the rules
`grading.scan_reach` reads it by (`pathrules.project_packages`, `pathrules.library_module`,
`scan_reach.literal_constant`), and the `test-import` findings they leave."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codekiln.grading import pathrules
from codekiln.grading.scan_reach import literal_constant, reach_findings

FINDER = (
    "import sys\nMAPPING: dict[str, str] = {'flatpkg': '/testbed/flatpkg', 'other': '/elsewhere/other'}\n"
    "NAMESPACES: dict[str, list[str]] = {}\n"
)


def _site(venv: Path) -> Path:
    site = venv / "lib" / "python3.11" / "site-packages"
    site.mkdir(parents=True)
    return site


def _dist(site: Path, name: str, url: str, top: str) -> None:
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "direct_url.json").write_text(json.dumps({"url": url, "dir_info": {"editable": True}}))
    (info / "top_level.txt").write_text(top)


def test_the_packages_an_editable_install_maps(tmp_path: Path) -> None:
    site = _site(tmp_path / "flat")
    (site / "__editable___flatpkg_0_1_finder.py").write_text(FINDER)
    (site / "__editable__.flatpkg-0.1.pth").write_text("import __editable___flatpkg_0_1_finder\n")
    _dist(site, "flatpkg", "file:///testbed", "flatpkg\n")
    _dist(site, "someone", "file:///elsewhere", "tests\n")  # another project's dist: not ours
    assert pathrules.project_packages(tmp_path / "flat", "/testbed") == {"flatpkg"}

    site = _site(tmp_path / "src")
    (site / "__editable__.srcpkg-0.1.pth").write_text("/testbed/src\n")
    _dist(site, "srcpkg", "file:///testbed", "srcpkg\n")
    assert pathrules.project_packages(tmp_path / "src", "/testbed") == {"src/srcpkg"}

    site = _site(tmp_path / "hatch")  # a backend that writes no top_level.txt: the folder it adds
    (site / "_hatchpkg.pth").write_text("/testbed/src\n")
    assert pathrules.project_packages(tmp_path / "hatch", "/testbed") == {"src"}

    site = _site(tmp_path / "develop")  # the repository root on the path, no dist of ours: none
    (site / "easy-install.pth").write_text("/testbed\n")
    assert pathrules.project_packages(tmp_path / "develop", "/testbed") == frozenset()


@pytest.mark.parametrize(
    ("rel", "own"),
    [
        ("pkg/testing/__init__.py", True),
        ("pkg/testing/_private/utils.py", True),
        ("pkg/_testing.py", True),  # no support path at all, and the library's
        ("pkg/tests/helpers.py", False),  # beside the package's test files
        ("pkg/tests/data/expected.py", False),
        ("pkg/testing/tests/test_utils.py", False),  # a test file
        ("pkg/testing/tests/common.py", False),
        ("pkg/testing/conftest.py", False),
        ("tests/helpers.py", False),  # outside the installed package
        ("testing/consts.py", False),
        ("conftest.py", False),
        ("pkgdata/testing/x.py", False),  # a name that only starts like the package
    ],
)
def test_which_modules_are_the_librarys_own(rel: str, own: bool) -> None:
    files = ["pkg/tests/test_core.py", "pkg/testing/tests/test_utils.py", "tests/test_a.py"]
    folders = pathrules.test_folders(files)
    assert pathrules.library_module(rel, {"pkg"}, folders.__contains__) is own


@pytest.mark.parametrize(
    ("source", "constant"),
    [
        ("ZERO = 0\n", True),
        ("ZERO: int = -1\n", True),
        ("A = ZERO = 'x'\n", True),
        ("ZERO = (1, ('a', b'b'), None)\n", True),
        ("ZERO = {'total': 6}\n", False),  # a table: written in place
        ("ZERO = [0]\n", False),
        ("ZERO = 0\nZERO = compute()\n", False),
        ("ZERO = 0\ndef set_it():\n    global ZERO\n    ZERO = 1\n", False),
        ("ZERO = 0\nfrom .other import *\n", False),
        ("from .other import ZERO\n", False),
        ("def ZERO():\n    return 0\n", False),
        ("class ZERO:\n    pass\n", False),
        ("ZERO = 0\nfor ZERO in range(3):\n    pass\n", False),
        ("ZERO = 0\ndel ZERO\n", False),
        ("ZERO = 0\ntry:\n    pass\nexcept Exception as ZERO:\n    pass\n", False),
        ("OTHER = 0\n", False),  # not bound here at all
    ],
)
def test_which_names_are_literal_constants(source: str, constant: bool) -> None:
    assert literal_constant(source.encode(), "ZERO") is constant


def test_a_literal_of_the_librarys_testing_package_is_no_finding() -> None:
    files = {
        "pkg/testing/__init__.py": b"from ._consts import ZERO\nTABLE = {'a': 1}\nONE = 1\n",
        "pkg/testing/_consts.py": b"ZERO = 0\n",
        "tests/helpers.py": b"ZERO = 0\n",
        "testing/consts.py": b"ZERO = 0\n",
        "pkg/tests/test_core.py": b"",
        "pkg/tests/helpers.py": b"ZERO = 0\n",
    }
    folders = pathrules.test_folders(files)

    def found(text: str) -> list[str]:
        return [
            f.detail
            for f in reach_findings(
                {"pkg/core.py": ("", text)}, {""}, files.__contains__, pathrules.is_protected,
                is_test=pathrules.is_protected, read=files.get,
                own=lambda rel: pathrules.library_module(rel, {"pkg"}, folders.__contains__),
            )
        ]  # fmt: skip

    assert found("from pkg.testing import ONE\n") == []
    assert found("from pkg.testing import ZERO\n") == []  # re-exported from a literal
    assert found("from .testing import ONE\n") == []
    assert found("from pkg.testing import TABLE\n") == ["pkg.testing.TABLE"]
    assert found("import pkg.testing\n") == ["pkg.testing"]
    assert found("from pkg import testing\n") == ["pkg.testing"]
    assert found("from tests.helpers import ZERO\n") == ["tests.helpers.ZERO"]
    assert found("from testing.consts import ZERO\n") == ["testing.consts.ZERO"]
    assert found("from pkg.tests.helpers import ZERO\n") == ["pkg.tests.helpers.ZERO"]


def test_a_hidden_file_is_never_the_librarys(tmp_path: Path) -> None:
    site = _site(tmp_path)
    (site / "__editable___flatpkg_0_1_finder.py").write_text(FINDER)
    hidden = ["flatpkg/testing/expected.py"]  # the agent never saw what it binds
    own = pathrules.library_judge(tmp_path, "/testbed", lambda folder: False, hidden)
    assert own("flatpkg/testing/__init__.py")
    assert not own("flatpkg/testing/expected.py")
