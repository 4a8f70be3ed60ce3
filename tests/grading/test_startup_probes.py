"""The names Python's and pytest's start-up look for and do not find are shadowing names
(`grading.pathrules.STARTUP_PROBES`): a new top-level module of one of them is put back with a
`shadows_module` finding, since it would run before the guard's hooks (the twentieth red team's
`src/org/`). The list is checked against a real start-up: a last `sys.meta_path` finder notes every
top-level name no other finder found while pytest starts and runs a test (codekiln's venv)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from codekiln.grading import pathrules

# pytest run as the launcher runs it, a last finder noting the names nothing else found
TRACE = """import json, runpy, sys
missed = set()
class Last:
    @staticmethod
    def find_spec(name, path=None, target=None):
        missed.add(name)
sys.meta_path.append(Last)
sys.argv = ["pytest", "-q", "-p", "no:cacheprovider", "-p", "pytester", sys.argv[1]]
try:
    runpy.run_module("pytest", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
print(json.dumps(sorted(n for n in missed if "." not in n)))
"""


def test_every_name_a_start_up_looks_for_in_vain_is_a_shadowing_name(tmp_path: Path) -> None:
    test = tmp_path / "test_it.py"
    test.write_text("import dataclasses, subprocess\n\n\ndef test_it():\n    assert dataclasses\n")
    run = subprocess.run(
        [sys.executable, "-P", "-s", "-c", TRACE, str(test)], cwd=tmp_path, capture_output=True, text=True,
        env={"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PATH": "/usr/bin:/bin"}, timeout=120,
    )  # fmt: skip
    missed = json.loads(run.stdout.strip().splitlines()[-1])
    assert "org" in missed or sys.version_info >= (3, 12), missed  # copy's Jython probe (3.11)
    installed = pathrules.installed_modules(Path(sys.prefix))
    assert [name for name in missed if name not in installed] == [], missed


def test_a_new_module_of_such_a_name_is_put_back() -> None:
    installed = pathrules.installed_modules(Path(sys.prefix))
    new = [
        "src/org/__init__.py",
        "src/java/lang.py",
        "src/msvcrt.py",
        "src/_winapi.py",
        "src/orgs/__init__.py",
    ]
    assert pathrules.shadowing(new, {"", "src"}, installed, lambda rel: False) == {
        "src/org/__init__.py": "org", "src/java/lang.py": "java", "src/msvcrt.py": "msvcrt",
        "src/_winapi.py": "_winapi",
    }  # fmt: skip
    # the project's own `org` package (the snapshot has it) is no new module
    assert pathrules.shadowing(["src/org/extra.py"], {"src"}, installed, lambda rel: rel == "src/org") == {}
