"""The `venv` step from a venv made once per interpreter, copied into each environment build.

    ok, log, note = seed_venv(python.executable, builder.venv, make)   # make(): `python -m venv` in the sandbox

`python -m venv /opt/venv` spends almost all of its time in ensurepip installing and byte-compiling pip
and setuptools, and it makes the same files for every environment of one interpreter: each venv is
/opt/venv inside its sandbox, so the scripts' shebangs and pyvenv.cfg do not change. The first build
with an interpreter runs `make` as before and keeps a copy of what it made under
$CODEKILN_HOME/venv-templates/<key>; every later build copies that in (`cp -a --reflink=auto`, which
keeps the mtimes the byte-compiled files are checked against). The key covers the interpreter's real
path, its full version and the wheels ensurepip installs (names and sha256), so an interpreter or a
bundled pip that changes gets a template of its own.

A template is made under a lock (concurrent builds and test sessions share the home), into a temporary
folder that is renamed into place once whole: an interrupted one is never used (the next maker removes
it), and nothing is kept when `make` fails. An interpreter whose ensurepip cannot be inspected gets no
template: `make` runs, and fails with its own message where the venv module is missing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from filelock import FileLock

from codekiln.core.config import state_dir

# What the interpreter's venv would install: its identity and where ensurepip takes the wheels from
# (its own _bundled folder, or the distribution's WHEEL_PKG_DIR, e.g. Debian's /usr/share/python-wheels).
PROBE = """
import ensurepip, json, os, sys, sysconfig
folders = [os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")]
folders.append(sysconfig.get_config_var("WHEEL_PKG_DIR") or "")
print(json.dumps({"exe": os.path.realpath(sys.executable), "version": sys.version,
                  "ensurepip": ensurepip.__file__, "folders": [f for f in folders if os.path.isdir(f)]}))
"""


@functools.cache
def template_key(executable: str) -> str:
    """The template's name for `executable`; empty when the interpreter cannot be probed (no ensurepip)."""
    res = subprocess.run([executable, "-I", "-c", PROBE], capture_output=True, text=True, timeout=60)
    if res.returncode != 0:
        return ""
    info = json.loads(res.stdout)
    digest = hashlib.sha256(f"{info['exe']}\0{info['version']}\0".encode())
    digest.update(Path(info["ensurepip"]).read_bytes())
    for folder in info["folders"]:
        for wheel in sorted(Path(folder).glob("*.whl")):
            digest.update(f"\0{wheel.name}\0".encode())
            digest.update(hashlib.sha256(wheel.read_bytes()).digest())
    return digest.hexdigest()[:20]


def templates_dir() -> Path:
    return state_dir("venv-templates")


def copy_tree(src: Path, dest: Path) -> None:
    """`src`'s contents into the folder `dest` (made if missing), modes, owners and mtimes kept."""
    dest.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["cp", "-a", "--reflink=auto", f"{src}/.", str(dest)], capture_output=True, text=True
    )
    if res.returncode != 0:
        raise OSError(f"cp -a {src} {dest} failed: {res.stderr.strip()}")


def seed_venv(executable: str, dest: Path, make: Callable[[], tuple[bool, str]]) -> tuple[bool, str, str]:
    """Fill the empty venv folder `dest` (seen as /opt/venv by the sandbox `make` runs in): a copy of
    the interpreter's template, made first by `make` when there is none. Returns `make`'s (ok, log),
    or (True, "") for a copy, and a note for the step's log saying which template was used or kept."""
    key = template_key(executable)
    if not key:
        ok, log = make()
        return ok, log, ""
    root = templates_dir()
    template = root / key
    with FileLock(str(root / f".{key}.lock")):
        if (template / "pyvenv.cfg").is_file():
            copy_tree(template, dest)
            return True, "", f"copied the venv template {template} (no ensurepip run)\n"
        for stale in root.glob(f".tmp-{key}-*"):  # left by a maker that was killed: never whole
            shutil.rmtree(stale, ignore_errors=True)
        ok, log = make()
        if not ok or not (dest / "pyvenv.cfg").is_file():
            return ok, log, ""
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=root))
        try:
            copy_tree(dest, tmp / "venv")
            if template.exists():  # a folder without pyvenv.cfg is no template of ours
                shutil.rmtree(template)
            (tmp / "venv").rename(template)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return ok, log, f"kept this venv as the template {template} for later builds\n"
