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
