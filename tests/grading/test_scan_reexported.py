"""The static scan reads a module another module re-exports as itself: `os.sys`, `from os import sys`,
`s = os.sys`, and `sys.modules` however reached (`vars(sys)["modules"]`, `from sys import modules`).
Before, `os.sys.modules` walked for the tests' modules (a road the class-walk rule's author found to the
tests' tables) was no finding, while `sys.modules` was `dynamic-import`."""

from __future__ import annotations

import pytest

from codekiln.grading.scan import scan_source

WALKED = "sys.modules read by a computed name"


@pytest.mark.parametrize(
    "source",
    [
        "import os\nm = os.sys.modules",
        "import importlib\nm = list(importlib.sys.modules.values())",
        "import inspect\nm = inspect.sys.modules.items()",
        "import os\ns = os.sys\nm = s.modules",
        "import sys\ns = sys\nm = s.modules",
        "from os import sys\nm = sys.modules",
        "from inspect import sys as t\nm = t.modules",
        "import sys\nm = vars(sys)['modules']",
        "import os\nm = vars(os.sys)['modules']",
        "from sys import modules as mm\nx = list(mm.values())",
    ],
)
def test_sys_modules_reached_through_a_reexport_is_read_as_itself(source: str) -> None:
    assert (2 + source.count("\n") - 1, "dynamic-import", WALKED) in (scan_source(source) or []), source


@pytest.mark.parametrize(
    "source",
    [
        "import os\np = os.path.join('a', 'b')",
        "import os\nv = os.sys.version_info",
        "import sys\nif 'numpy' in sys.modules:\n    pass",
        "import os\nm = os.sys.modules.get('json')",
        "import os\nm = os.sys.modules['json']",
        "from sys import modules as mm\nx = mm['json']",
        "sys = object()\ns = sys\nm = s.modules",  # no module: a name bound to something else
    ],
)
def test_honest_reads_stay_clean(source: str) -> None:
    assert scan_source(source) == [], source


def test_other_rules_see_the_module_too() -> None:
    found = scan_source("from os import sys\nf = sys._getframe\ng = sys.settrace")
    assert {kind for _, kind, _ in found or []} == {"frame-walk", "trace-hook"}


@pytest.mark.parametrize(
    ("source", "found"),
    [  # the nineteenth red team's chains, then others through the standard library's own imports
        ("import pdb\npdb.code.InteractiveInterpreter({}).runsource(t)", ("dynamic-code", "code.InteractiveInterpreter")),
        ("import logging.config\nf = logging.config.logging.currentframe()", ("frame-walk", "logging.currentframe")),
        ("import typing\ng = typing.operator.attrgetter(name)", ("dynamic-attribute", "typing.operator.attrgetter(name)")),
        ("import unittest.mock as m\nm.asyncio.create_subprocess_exec('pytest')", ("spawn-runner", "asyncio.create_subprocess_exec pytest")),
        ("from pdb import code as c\nc.interact()", ("dynamic-code", "code.interact")),
        ("import pdb as p\nc = p.code\nc.interact()", ("dynamic-code", "code.interact")),
        ("p = __import__('pdb')\np.code.interact()", ("dynamic-code", "code.interact")),
        ("__import__('pdb').code.interact()", ("dynamic-code", "code.interact")),
        ("import pydoc\npydoc.inspect.currentframe()", ("frame-walk", "inspect.currentframe")),
        ("import shutil\nshutil.os.system('pytest')", ("spawn-runner", "os.system pytest")),
        ("import os as o\nm = o.sys.modules", ("dynamic-import", WALKED)),  # by an alias's name
    ],
)  # fmt: skip
def test_a_module_any_standard_module_imports_is_read_as_itself(source: str, found: tuple[str, str]) -> None:
    """`pdb.code` is the module `code` (pdb.py imports it): read from the standard library's source,
    not a fixed list (`scan_modules`)."""
    assert found in [(kind, detail) for _, kind, detail in scan_source(source) or []], scan_source(source)


@pytest.mark.parametrize(
    "source",
    [
        "import os\np = os.path.join('a', 'b')",  # posixpath.join
        "import json\nr = json.decoder.re.compile('x')",
        "import logging.config\nlogging.config.logging.getLogger('x')",
        "import pdb\np = pdb.Pdb",
        "import email.mime.text\nm = email.mime.text.MIMEText('x')",
        "import os\nx = os" + ".path" * 300,  # no file's name: looked up as nothing
    ],
)
def test_honest_chains_through_reexports_stay_clean(source: str) -> None:
    assert scan_source(source) == [], source


def test_the_standard_library_source_is_read_not_imported() -> None:
    """The bindings come from the file's text: a module never imported in this process is read."""
    import sys

    from codekiln.grading import scan_modules as sm

    assert "tabnanny" not in sys.modules
    assert sm.reexport("tabnanny", "tokenize") == "tokenize"
    assert "tabnanny" not in sys.modules
    assert sm.reexport("os", "path") == "posixpath"
    assert sm.reexport("pdb", "Pdb") is None  # a class of its own: no module
    assert sm.reexport("importlib.machinery", "SourceFileLoader") is None  # a class it imports
