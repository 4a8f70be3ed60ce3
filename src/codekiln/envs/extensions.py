"""Keep compiled extensions that an editable install builds inside the workspace.

An editable install of a project with C extensions (markupsafe's `_speedups`, say) compiles them into
the source tree, i.e. into the build sandbox's copy-on-write /testbed, which is thrown away: later
sandboxes would silently fall back to pure Python (or fail to import). `keep_extensions(sb)` copies
every `*.so` the build left under /testbed into the venv (`/opt/venv/codekiln-ext/<same path>`), and
every later sandbox of the environment shows them in /testbed at their paths again (the workspace's
`beneath` layer, `sandbox.workspace`), never as a change of the tree: the package directories hold their
compiled modules as after an editable install, so the normal import finds them and a test that walks
its package directory sees them (multidict's `test_circular_imports` parametrizes over the modules it
finds there). A last-resort import hook (a `.pth` file) still finds them in the venv where the tree does
not show them (a sandbox without the layer). The kept binaries match the snapshot's C sources; a task
that changes C code would need a rebuild inside its sandbox.
"""

from __future__ import annotations

from codekiln.core.protocols import Sandbox
from codekiln.sandbox.base import KEPT_EXTENSIONS, VENV_DIR, WORKDIR

KEPT_DIR = f"{VENV_DIR}/{KEPT_EXTENSIONS}"
# Snapshots never hold *.so files (they are build junk), so every one found after the install is new
# or kept before.
_COPY = (
    'cd "$1" && find . -path ./.git -prune -o -type f \\( -name "*.so" -o -name "*.pyd" \\) -print '
    '| while IFS= read -r f; do { cmp -s "$f" "$2/${f#./}" || install -D -m 0755 "$f" "$2/${f#./}"; } '
    '&& echo "${f#./}"; done'
)
# A later install round's sandbox shows the kept files in /testbed from the venv itself (the workspace's
# `beneath` layer): those are left as they are, never copied onto themselves under a mounted overlay.
HOOK = f'''"""codekiln: compiled extensions built in place during the environment build, kept in the venv."""
import importlib.machinery
import importlib.util
import os
import sys

_ROOT, _KEPT = {WORKDIR!r}, {KEPT_DIR!r}


class KeptExtensions:
    """Finds `name.<abi>.so` under _KEPT for imports whose search path lies under _ROOT."""

    @classmethod
    def find_spec(cls, fullname, path=None, target=None):
        name = fullname.rpartition(".")[2]
        for entry in path or sys.path:
            if not isinstance(entry, str) or not (entry == _ROOT or entry.startswith(_ROOT + "/")):
                continue
            base = os.path.join(_KEPT, os.path.relpath(entry, _ROOT))
            for suffix in importlib.machinery.EXTENSION_SUFFIXES:
                candidate = os.path.join(base, name + suffix)
                if os.path.isfile(candidate):
                    loader = importlib.machinery.ExtensionFileLoader(fullname, candidate)
                    return importlib.util.spec_from_file_location(fullname, candidate, loader=loader)
        return None


sys.meta_path.append(KeptExtensions)
'''


def keep_extensions(sb: Sandbox, python_version: str) -> tuple[list[str], str]:
    """Copy in-place-built extensions into the venv and install the hook. Returns (paths kept, log)."""
    res = sb.exec(["bash", "-c", _COPY, "keep", WORKDIR, KEPT_DIR], timeout=300)
    kept = [line for line in res.stdout.splitlines() if line.strip()]
    log = f"$ keep compiled extensions\n{res.stdout}{res.stderr}[exit {res.exit_code}]\n"
    if res.exit_code != 0 or not kept:
        return [], log
    major_minor = ".".join(python_version.split(".")[:2])
    site = f"{VENV_DIR}/lib/python{major_minor}/site-packages"
    sb.write_file(f"{site}/_codekiln_ext.py", HOOK)
    sb.write_file(f"{site}/codekiln_ext.pth", "import _codekiln_ext\n")
    return kept, log
